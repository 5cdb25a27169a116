//! prost <-> cxx <-> prost and prost <-> JSON round trips of the generated types.

use ain::libmc::ffi;
use ain_rs::types::*;

fn sample() -> MetaMintBlockInput {
    MetaMintBlockInput {
        txs: vec![NativeTx {
            kind: TxKind::Withdraw as i32,
            from: "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F".into(),
            to: "bcrt1to".into(),
            amount: i64::MAX,
            native_txid: vec![0xff; 32],
            nonce: u64::MAX,
            signature: vec![0, 1, 2, 255],
        }],
        context: Some(NativeContext {
            height: 42,
            time: -1,
        }),
        beneficiary: "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F".into(),
    }
}

#[test]
fn prost_cxx_prost_is_lossless() {
    let original = sample();
    let cxx: ffi::MetaMintBlockInput = original.clone().into();
    assert_eq!(cxx.txs[0].kind, ffi::TxKind::Withdraw);
    assert_eq!(cxx.context.height, 42);
    assert_eq!(
        cxx.beneficiary.as_str(),
        "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
    );
    let back: MetaMintBlockInput = cxx.into();
    assert_eq!(back, original);

    let block = MetaGetBlockResult {
        hash: "aa".into(),
        block: Some(MetaBlock {
            header: Some(MetaBlockHeader {
                number: 3,
                parent_hash: vec![1; 32],
                ..Default::default()
            }),
            system_txs: vec![NativeTx {
                kind: TxKind::Deposit as i32,
                to: "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f".into(),
                amount: 1,
                native_txid: vec![7; 32],
                ..Default::default()
            }],
            transactions: vec![
                EvmTx {
                    raw: vec![2, 0xf8, 0, 1],
                },
                EvmTx { raw: vec![] },
            ],
        }),
    };
    let cxx: ffi::MetaGetBlockResult = block.clone().into();
    let back: MetaGetBlockResult = cxx.into();
    assert_eq!(back, block);
}

#[test]
fn an_absent_message_field_crosses_as_its_default() {
    let input = MetaMintBlockInput {
        txs: vec![],
        context: None,
        beneficiary: String::new(),
    };
    let cxx: ffi::MetaMintBlockInput = input.into();
    assert_eq!((cxx.context.height, cxx.context.time), (0, 0));
    let back: MetaMintBlockInput = cxx.into();
    assert_eq!(back.context, Some(NativeContext::default()));
}

#[test]
fn prost_json_prost_and_cxx_agree() {
    let original = sample();
    let json = serde_json::to_string(&original).unwrap();
    assert!(json.contains("\"nativeTxid\""));
    assert!(json.contains("\"signature\":\"000102ff\""));
    let from_json: MetaMintBlockInput = serde_json::from_str(&json).unwrap();
    let via_cxx: MetaMintBlockInput = ffi::MetaMintBlockInput::from(from_json).into();
    assert_eq!(via_cxx, original);
}

#[test]
fn the_guard_turns_panics_into_errors() {
    let err = ain::guard("test_fn", || -> Result<(), ain::FfiError> {
        panic!("kaboom")
    })
    .unwrap_err();
    assert!(
        err.0.contains("test_fn") && err.0.contains("kaboom"),
        "{err}"
    );
}
