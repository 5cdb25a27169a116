//! The txpool through `Engine::submit`: every refusal leaves pool and state
//! as they were; replacement, ordering in mint, persistence across a reopen.

mod common;

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Signature, TxKind, U256};
use common::*;
use metachain::keys::{self, MetaKey};
use metachain::{Engine, EngineError};

fn cs(a: Address) -> String {
    keys::checksummed(&a)
}

fn state(e: &Engine, keys: &[&MetaKey]) -> impl PartialEq + std::fmt::Debug {
    (
        e.tip(),
        e.mempool_len(),
        keys.iter()
            .map(|k| e.balance(&cs(k.address())).unwrap())
            .collect::<Vec<_>>(),
    )
}

fn coin() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

#[test]
fn every_pool_refusal_leaves_pool_and_state_unchanged() {
    let (dir, e) = open();
    let k = key(1);
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    e.submit(&transfer(&k, 0, addr(2), U256::from(1))).unwrap();
    mint_connect(&e, vec![], 2);
    let pooled = transfer(&k, 1, addr(2), U256::from(1));
    e.submit(&pooled).unwrap();
    let before = state(&e, &[&k]);
    assert_eq!(e.balance(&cs(k.address())).unwrap().pending_nonce, 2);

    let tx =
        |nonce, gas_limit, input: Vec<u8>| eip1559(nonce, TxKind::Call(addr(2)), input, gas_limit);
    let bad_sig = {
        let t = tx(2, 21_000, vec![]);
        let good = k.sign_hash(&t.signature_hash());
        let zero_r = Signature::new(U256::ZERO, good.s(), good.v());
        TxEnvelope::from(Signed::new_unhashed(t, zero_r)).encoded_2718()
    };
    let pre_155 = k.sign_tx(TxLegacy {
        chain_id: None,
        nonce: 2,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(addr(2)),
        value: U256::from(1),
        input: Default::default(),
    });
    let cheap = k.sign_tx(TxEip1559 {
        max_fee_per_gas: GWEI - 1,
        max_priority_fee_per_gas: 0,
        ..tx(2, 21_000, vec![])
    });
    let same_fees = transfer(&k, 1, addr(3), U256::from(1));
    let nine_percent = keys::sign_transfer(
        &k,
        CHAIN_ID,
        1,
        addr(3),
        U256::from(1),
        MAX_FEE * 109 / 100,
        TIP * 109 / 100,
        21_000,
    );
    let tip_only = keys::sign_transfer(
        &k,
        CHAIN_ID,
        1,
        addr(3),
        U256::from(1),
        MAX_FEE,
        TIP * 2,
        21_000,
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrong chain id",
            keys::sign_transfer(&k, 1, 2, addr(2), U256::from(1), MAX_FEE, TIP, 21_000),
            "wrong chain id: got 1, this chain is 1132",
        ),
        ("bad signature", bad_sig, "bad signature"),
        (
            "nonce too low",
            transfer(&k, 0, addr(3), U256::from(1)),
            "nonce too low: got 0, account nonce is 1",
        ),
        (
            "insufficient funds",
            transfer(&k, 2, addr(3), coin()),
            "insufficient funds for gas * price + value: have",
        ),
        (
            "intrinsic gas",
            k.sign_tx(tx(2, 20_999, vec![])),
            "intrinsic gas too low: needs 21000, limit 20999",
        ),
        (
            "intrinsic gas of data",
            k.sign_tx(tx(2, 21_000, vec![1])),
            "intrinsic gas too low: needs 21016, limit 21000",
        ),
        (
            "oversized",
            k.sign_tx(tx(2, 30_000_000, vec![1; 130 * 1024])),
            "oversized tx: ",
        ),
        (
            "gas above the block limit",
            k.sign_tx(tx(2, 30_000_001, vec![])),
            "gas limit 30000001 above the block gas limit 30000000",
        ),
        (
            "underpriced replacement",
            same_fees,
            "replacement underpriced",
        ),
        ("9% is not enough", nine_percent, "replacement underpriced"),
        ("tip alone", tip_only, "replacement underpriced"),
        ("pre-EIP-155", pre_155, "pre-EIP-155"),
        (
            "fee floor",
            cheap,
            "max fee per gas below the minimum 1000000000",
        ),
        ("empty", vec![], "malformed tx: empty"),
        ("garbage", vec![0x02, 0xc0], "malformed tx"),
        ("blob", vec![0x03, 0xc0], "blob txs (EIP-4844, type 3)"),
        (
            "set code",
            vec![0x04, 0xc0],
            "set-code txs (EIP-7702, type 4)",
        ),
    ];
    for (what, raw, want) in cases {
        let err = e.submit(&raw).unwrap_err();
        // Wrong only against the current state and pool (a relaying peer
        // may just be late): a failed precondition; wrong in itself: invalid.
        let stateful = ["nonce too low", "insufficient funds", "underpriced"]
            .iter()
            .any(|s| want.contains(s));
        if stateful {
            assert!(
                matches!(err, EngineError::Precondition(_)),
                "{what}: {err:?}"
            );
        } else {
            assert!(matches!(err, EngineError::Invalid(_)), "{what}: {err:?}");
        }
        assert!(err.to_string().contains(want), "{what}: {err}");
        assert_eq!(state(&e, &[&k]), before, "{what}");
    }
    let err = e.submit(&pooled).unwrap_err();
    assert!(matches!(err, EngineError::Duplicate(_)), "{err:?}");
    assert!(err.to_string().starts_with("already known: 0x"), "{err}");
    assert_eq!(state(&e, &[&k]), before);

    // what is on disk is what the pool holds
    drop(e);
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(state(&e, &[&k]), before);

    // a 10% bump of both replaces; the old tx is gone from pool and disk
    let bumped = keys::sign_transfer(
        &k,
        CHAIN_ID,
        1,
        addr(3),
        U256::from(1),
        MAX_FEE * 110 / 100,
        TIP * 110 / 100,
        21_000,
    );
    e.submit(&bumped).unwrap();
    assert_eq!(e.mempool_len(), 1);
    drop(e);
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(e.mempool_len(), 1);
    let m = mint_connect(&e, vec![], 3);
    let txs = decode_block(&m.payload).transactions;
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].raw, bumped);
    assert_eq!(balance(&e, addr(3)), U256::from(1));
    assert!(matches!(
        e.receipt(&tx_hash(&pooled)),
        Err(EngineError::NotFound(_))
    ));
}

#[test]
fn a_sender_and_the_pool_are_limited() {
    let (_d, e) = open_limit(70);
    let ks: Vec<MetaKey> = (1..=8).map(key).collect();
    mint_connect(
        &e,
        ks.iter()
            .map(|k| deposit(k.address(), 100_000_000))
            .collect(),
        1,
    );
    for n in 0..64 {
        e.submit(&transfer(&ks[0], n, addr(0xaa), U256::from(1)))
            .unwrap();
    }
    let before = state(&e, &[&ks[0]]);
    let err = e
        .submit(&transfer(&ks[0], 64, addr(0xaa), U256::from(1)))
        .unwrap_err();
    assert!(matches!(err, EngineError::Full(_)), "{err:?}");
    assert!(err.to_string().contains("already has 64 txs"), "{err}");
    assert_eq!(state(&e, &[&ks[0]]), before);
    // a replacement is still possible at the limit
    let bump = keys::sign_transfer(
        &ks[0],
        CHAIN_ID,
        63,
        addr(0xab),
        U256::from(1),
        MAX_FEE * 2,
        TIP * 2,
        21_000,
    );
    e.submit(&bump).unwrap();
    for k in &ks[1..7] {
        e.submit(&transfer(k, 0, addr(0xaa), U256::from(1)))
            .unwrap();
    }
    assert_eq!(e.mempool_len(), 70);
    let before = state(&e, &[&ks[7]]);
    let err = e
        .submit(&transfer(&ks[7], 0, addr(0xaa), U256::from(1)))
        .unwrap_err();
    assert!(matches!(err, EngineError::Full(_)), "{err:?}");
    assert_eq!(err.to_string(), "txpool is full: 70 txs (the limit)");
    assert_eq!(state(&e, &[&ks[7]]), before);

    // mint takes them all (70 × 21000 gas), by tip then arrival, each
    // sender in nonce order
    let m = mint_connect(&e, vec![], 2);
    let raws: Vec<Vec<u8>> = decode_block(&m.payload)
        .transactions
        .into_iter()
        .map(|t| t.raw)
        .collect();
    assert_eq!(raws.len(), 70);
    assert_eq!(e.mempool_len(), 0);
    assert_eq!(nonce(&e, ks[0].address()), 64);
    assert_eq!(balance(&e, addr(0xaa)), U256::from(63 + 6));
    assert_eq!(balance(&e, addr(0xab)), U256::from(1));
    // ks[0]'s first tx pays the same tip as the others but came first
    assert_eq!(raws[0], transfer(&ks[0], 0, addr(0xaa), U256::from(1)));
    e.check_integrity().unwrap();
}

#[test]
fn mint_orders_by_effective_tip_and_nonce_and_skips_what_cannot_run() {
    let (_d, e) = open();
    let (a, b, c) = (key(1), key(2), key(3));
    mint_connect(
        &e,
        vec![
            deposit(a.address(), 100_000_000),
            deposit(b.address(), 100_000_000),
            // c can pay for one tx only: each needs 21000 × 10 gwei
            // (2.1e14 wei) and costs 21000 × 3 gwei
            deposit(c.address(), 25_000),
        ],
        1,
    );
    let with_tip = |k: &MetaKey, nonce, tip: u128| {
        keys::sign_transfer(
            k,
            CHAIN_ID,
            nonce,
            addr(9),
            U256::from(1),
            10 * GWEI,
            tip,
            21_000,
        )
    };
    let a0 = with_tip(&a, 0, GWEI);
    let a1 = with_tip(&a, 1, 5 * GWEI);
    let b0 = with_tip(&b, 0, 3 * GWEI);
    let b2 = with_tip(&b, 2, 9 * GWEI); // gapped: queued
    let c0 = with_tip(&c, 0, 2 * GWEI);
    let c1 = keys::sign_transfer(
        &c,
        CHAIN_ID,
        1,
        addr(9),
        U256::from(1),
        GWEI * 10,
        2 * GWEI,
        21_000,
    );
    for raw in [&a1, &a0, &b0, &b2, &c0, &c1] {
        e.submit(raw).unwrap();
    }
    assert_eq!(e.balance(&cs(b.address())).unwrap().pending_nonce, 1);
    let m = mint_connect(&e, vec![], 2);
    let got: Vec<Vec<u8>> = decode_block(&m.payload)
        .transactions
        .into_iter()
        .map(|t| t.raw)
        .collect();
    // c1 cannot pay once c0 ran (balance < gas × max fee): c is skipped
    assert_eq!(got, vec![b0, c0, a0, a1]);
    // b2 waits for nonce 1; c1 is dropped: c cannot pay it any more
    assert_eq!(e.mempool_len(), 1);
    assert!(e.receipt(&tx_hash(&b2)).is_err());
    e.submit(&with_tip(&b, 1, GWEI)).unwrap();
    let m = mint_connect(&e, vec![], 3);
    assert_eq!(decode_block(&m.payload).transactions.len(), 2);
    assert!(e.receipt(&tx_hash(&b2)).unwrap().success);
    assert_eq!(e.mempool_len(), 0);
}

#[test]
fn a_withdrawal_takes_the_nonce_before_the_pooled_txs() {
    let (_d, e) = open();
    let k = key(1);
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let raw = transfer(&k, 0, addr(2), U256::from(1));
    e.submit(&raw).unwrap();
    // the system tx runs first and consumes nonce 0: the pooled tx is left
    // out and then dropped, its nonce being too low
    let m = mint_connect(&e, vec![withdrawal(&k, 10, 0)], 2);
    assert!(m.refused.is_empty());
    assert!(decode_block(&m.payload).transactions.is_empty());
    assert_eq!(nonce(&e, k.address()), 1);
    assert_eq!(e.mempool_len(), 0);
    let err = e.submit(&raw).unwrap_err();
    assert!(err.to_string().contains("nonce too low"), "{err}");
}

#[test]
fn the_pool_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let raws: Vec<Vec<u8>> = [0, 1, 2, 5]
        .iter()
        .map(|&n| transfer(&k, n, addr(2), U256::from(n + 1)))
        .collect();
    {
        let e = Engine::open(dir.path()).unwrap();
        mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
        for raw in &raws {
            e.submit(raw).unwrap();
        }
        assert_eq!(e.mempool_len(), 4);
    }
    {
        let e = Engine::open(dir.path()).unwrap();
        assert_eq!(e.mempool_len(), 4);
        let b = e.balance(&cs(k.address())).unwrap();
        assert_eq!((b.nonce, b.pending_nonce), (0, 3));
        let m = mint_connect(&e, vec![], 2);
        assert_eq!(decode_block(&m.payload).transactions.len(), 3);
        assert_eq!(e.mempool_len(), 1);
    }
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(e.mempool_len(), 1);
    assert_eq!(balance(&e, addr(2)), U256::from(1 + 2 + 3));
    // the gap filled, the queued tx runs
    e.submit(&transfer(&k, 3, addr(2), U256::from(100)))
        .unwrap();
    e.submit(&transfer(&k, 4, addr(2), U256::from(100)))
        .unwrap();
    mint_connect(&e, vec![], 3);
    assert_eq!(balance(&e, addr(2)), U256::from(6 + 200 + 6));
    assert_eq!(e.mempool_len(), 0);
    drop(e);
    assert_eq!(Engine::open(dir.path()).unwrap().mempool_len(), 0);
}

#[test]
fn legacy_and_access_list_txs_are_executed() {
    let (_d, e) = open();
    let k = key(1);
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let legacy = k.sign_tx(TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(addr(2)),
        value: U256::from(7),
        input: Default::default(),
    });
    let eip2930 = k.sign_tx(alloy_consensus::TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_price: 2 * GWEI,
        gas_limit: 30_000,
        to: TxKind::Call(addr(2)),
        value: U256::from(8),
        access_list: alloy_eips::eip2930::AccessList(vec![alloy_eips::eip2930::AccessListItem {
            address: addr(2),
            storage_keys: vec![Default::default()],
        }]),
        input: Default::default(),
    });
    e.submit(&legacy).unwrap();
    e.submit(&eip2930).unwrap();
    mint_connect(&e, vec![], 2);
    let r0 = e.receipt(&tx_hash(&legacy)).unwrap();
    let r1 = e.receipt(&tx_hash(&eip2930)).unwrap();
    assert_eq!((r0.tx_type, r0.gas_used, r0.success), (0, 21_000, true));
    // 21000 + 2400 per address + 1900 per key
    assert_eq!((r1.tx_type, r1.gas_used, r1.success), (1, 25_300, true));
    assert_eq!(balance(&e, addr(2)), U256::from(15));
}
