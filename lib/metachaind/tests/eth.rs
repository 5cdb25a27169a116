//! The Ethereum JSON-RPC of the real `metachaind` binary: a deposit funds a
//! key, which deploys a hand-assembled contract with a signed raw tx; then
//! state reads, calls, gas estimates, a revert (code 3 with the reason and
//! data), blocks, txs and receipts as the execution-API spec shows them.

use ain_rs::auth::JwtSecret;
use ain_rs::types::*;
use ain_rs::{Connection, MetachainClient};
use alloy_consensus::TxEip1559;
use alloy_primitives::{keccak256, Address, TxKind, U256};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use metachain::keys::MetaKey;
use serde_json::{json, Value};
use std::time::Duration;

mod common;
use common::Daemon;

/// Runtime: no calldata returns the word 42; any calldata reverts with
/// `Error("nope")`.
fn runtime() -> Vec<u8> {
    let mut code = hex::decode("36600e57602a60005260206000f3").unwrap();
    code.extend(
        hex::decode(concat!(
            "5b",
            "6308c379a060e01b600052", // selector
            "6020600452",             // offset
            "6004602452",             // length
            "636e6f706560e01b604452", // "nope"
            "60646000fd"
        ))
        .unwrap(),
    );
    code
}

/// Init code: stores 7 in slot 0, then returns [`runtime`].
fn init_code() -> Vec<u8> {
    let rt = runtime();
    let mut code = hex::decode("6007600055").unwrap();
    let len = rt.len() as u8;
    code.extend([
        0x60, len, 0x60, 17, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ]);
    assert_eq!(code.len(), 17);
    code.extend(rt);
    code
}

fn q(n: u64) -> String {
    format!("{n:#x}")
}

async fn mine(meta: &MetachainClient, height: u64, txs: Vec<NativeTx>) {
    let context = Some(NativeContext {
        height,
        time: 1_700_000_000 + height as i64,
    });
    let minted = meta
        .meta_mint_block(MetaMintBlockInput {
            txs: txs.clone(),
            context,
            beneficiary: String::new(),
        })
        .await
        .unwrap();
    assert!(minted.refused.is_empty(), "{:?}", minted.refused);
    meta.meta_connect_block(MetaConnectBlockInput {
        payload: minted.payload,
        context,
        native_txs_hash: ain_rs::native_txs_hash(&txs).to_vec(),
    })
    .await
    .unwrap();
}

async fn call(c: &HttpClient, method: &str, params: Vec<Value>) -> Value {
    c.request(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn call_err(c: &HttpClient, method: &str, params: Vec<Value>) -> (i32, String, Value) {
    match c.request::<Value, _>(method, params).await {
        Err(ClientError::Call(e)) => (
            e.code(),
            e.message().to_string(),
            e.data()
                .map(|d| serde_json::from_str(d.get()).unwrap())
                .unwrap_or(Value::Null),
        ),
        other => panic!("{method}: expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_rpc_deploy_call_revert_blocks_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let secret = JwtSecret::from_file(&dir.path().join("jwt.hex")).unwrap();
    let meta = MetachainClient::new(
        Connection::connect(&d.grpc, Duration::from_secs(10), Some(secret))
            .await
            .unwrap(),
    );
    let eth = HttpClientBuilder::default().build(&d.http).unwrap();

    assert_eq!(call(&eth, "eth_chainId", vec![]).await, json!("0x46c"));
    assert_eq!(call(&eth, "net_version", vec![]).await, json!("1132"));
    assert_eq!(call(&eth, "net_listening", vec![]).await, json!(true));
    assert_eq!(call(&eth, "eth_syncing", vec![]).await, json!(false));
    assert_eq!(call(&eth, "eth_accounts", vec![]).await, json!([]));
    assert_eq!(
        call(&eth, "web3_sha3", vec![json!("0x68656c6c6f")]).await,
        json!(keccak256(b"hello").to_string())
    );
    assert!(call(&eth, "web3_clientVersion", vec![])
        .await
        .as_str()
        .unwrap()
        .starts_with("metachaind/v"));
    assert_eq!(
        call(&eth, "eth_maxPriorityFeePerGas", vec![]).await,
        json!("0x3b9aca00")
    );
    // next base fee (1 gwei) + the suggested tip (1 gwei)
    assert_eq!(
        call(&eth, "eth_gasPrice", vec![]).await,
        json!("0x77359400")
    );

    // Fund a key by a deposit of 10 coins.
    let key = MetaKey::from_secret(&[0x11; 32]).unwrap();
    let me = key.address();
    mine(
        &meta,
        1,
        vec![NativeTx {
            kind: ain_rs::types::TxKind::Deposit as i32,
            from: "bcrt1native".into(),
            to: me.to_string(),
            amount: 1_000_000_000,
            native_txid: vec![0xd1; 32],
            ..Default::default()
        }],
    )
    .await;
    let ten_coins = U256::from(10u64) * U256::from(10u64).pow(U256::from(18u64));
    assert_eq!(call(&eth, "eth_blockNumber", vec![]).await, json!("0x1"));
    assert_eq!(
        call(&eth, "eth_getBalance", vec![json!(me), json!("latest")]).await,
        json!(format!("{ten_coins:#x}"))
    );
    // The tip by number is fine; older blocks have no state here.
    call(&eth, "eth_getBalance", vec![json!(me), json!("0x1")]).await;
    let (code, message, _) = call_err(&eth, "eth_getBalance", vec![json!(me), json!("0x0")]).await;
    assert_eq!(code, -32000);
    assert!(
        message.contains("historical state is not available"),
        "{message}"
    );

    // Deploy with a signed raw EIP-1559 tx.
    let raw = key.sign_tx(TxEip1559 {
        chain_id: 1132,
        nonce: 0,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: init_code().into(),
        access_list: Default::default(),
    });
    let tx_hash = keccak256(&raw);
    assert_eq!(
        call(
            &eth,
            "eth_sendRawTransaction",
            vec![json!(format!("0x{}", hex::encode(&raw)))]
        )
        .await,
        json!(tx_hash)
    );
    let (code, message, _) = call_err(
        &eth,
        "eth_sendRawTransaction",
        vec![json!(format!("0x{}", hex::encode(&raw)))],
    )
    .await;
    assert_eq!(code, -32000, "{message}");
    let pending = call(&eth, "eth_getTransactionByHash", vec![json!(tx_hash)]).await;
    assert_eq!(pending["blockHash"], Value::Null);
    assert_eq!(pending["from"], json!(me));
    assert_eq!(
        call(
            &eth,
            "eth_getTransactionCount",
            vec![json!(me), json!("pending")]
        )
        .await,
        json!("0x1")
    );
    assert_eq!(
        call(
            &eth,
            "eth_getTransactionCount",
            vec![json!(me), json!("latest")]
        )
        .await,
        json!("0x0")
    );
    assert_eq!(
        call(&eth, "eth_getTransactionReceipt", vec![json!(tx_hash)]).await,
        Value::Null
    );

    mine(&meta, 2, vec![]).await;
    let contract: Address = me.create(0);
    let receipt = call(&eth, "eth_getTransactionReceipt", vec![json!(tx_hash)]).await;
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(receipt["type"], json!("0x2"));
    assert_eq!(receipt["contractAddress"], json!(contract));
    assert_eq!(receipt["blockNumber"], json!("0x2"));
    assert_eq!(receipt["transactionIndex"], json!("0x0"));
    assert_eq!(receipt["to"], Value::Null);
    assert_eq!(receipt["logs"], json!([]));
    assert_eq!(receipt["effectiveGasPrice"], json!("0x77359400"));
    let gas_used = receipt["gasUsed"].as_str().unwrap().to_string();

    let mined = call(&eth, "eth_getTransactionByHash", vec![json!(tx_hash)]).await;
    assert_eq!(mined["blockHash"], receipt["blockHash"]);
    assert_eq!(mined["nonce"], json!("0x0"));
    assert_eq!(mined["gas"], json!(q(200_000)));
    assert_eq!(mined["type"], json!("0x2"));

    assert_eq!(
        call(&eth, "eth_getCode", vec![json!(contract), json!("latest")]).await,
        json!(format!("0x{}", hex::encode(runtime())))
    );
    assert_eq!(
        call(
            &eth,
            "eth_getStorageAt",
            vec![json!(contract), json!("0x0"), json!("latest")]
        )
        .await,
        json!(format!("0x{:064x}", 7))
    );
    assert_eq!(
        call(&eth, "eth_getTransactionCount", vec![json!(me)]).await,
        json!("0x1")
    );

    // Calls: success, then the revert as geth reports it.
    let word42 = format!("0x{:064x}", 42);
    assert_eq!(
        call(
            &eth,
            "eth_call",
            vec![json!({"to": contract}), json!("latest")]
        )
        .await,
        json!(word42)
    );
    let (code, message, data) = call_err(
        &eth,
        "eth_call",
        vec![json!({"to": contract, "data": "0x01"}), json!("latest")],
    )
    .await;
    assert_eq!((code, message.as_str()), (3, "execution reverted: nope"));
    assert!(data.as_str().unwrap().starts_with("0x08c379a0"), "{data}");
    let (code, message, _) = call_err(
        &eth,
        "eth_estimateGas",
        vec![json!({"from": me, "to": contract, "input": "0x01"})],
    )
    .await;
    assert_eq!((code, message.as_str()), (3, "execution reverted: nope"));

    // The estimate is the least gas that works.
    let estimate = call(
        &eth,
        "eth_estimateGas",
        vec![json!({"from": me, "to": contract})],
    )
    .await;
    let gas = u64::from_str_radix(estimate.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!((21_000..30_000).contains(&gas), "{gas}");
    call(
        &eth,
        "eth_call",
        vec![json!({"to": contract, "gas": q(gas)})],
    )
    .await;
    let (code, _, _) = call_err(
        &eth,
        "eth_call",
        vec![json!({"to": contract, "gas": q(gas - 1)})],
    )
    .await;
    assert_eq!(code, -32000);
    // A plain transfer costs 21000; a deploy estimate covers the gas it used.
    assert_eq!(
        call(
            &eth,
            "eth_estimateGas",
            vec![json!({"from": me, "to": Address::ZERO, "value": "0x1"})]
        )
        .await,
        json!(q(21_000))
    );
    let deploy = call(
        &eth,
        "eth_estimateGas",
        vec![json!({"from": me, "data": format!("0x{}", hex::encode(init_code()))})],
    )
    .await;
    let deploy =
        u64::from_str_radix(deploy.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(deploy >= u64::from_str_radix(gas_used.trim_start_matches("0x"), 16).unwrap());
    // More than the sender holds is refused.
    let (code, _, _) = call_err(
        &eth,
        "eth_call",
        vec![json!({"from": me, "to": Address::ZERO, "value": format!("{:#x}", ten_coins * U256::from(2u64))})],
    )
    .await;
    assert_eq!(code, -32000);

    // Blocks: by number with full txs, by hash with hashes, unknown → null.
    let block = call(
        &eth,
        "eth_getBlockByNumber",
        vec![json!("latest"), json!(true)],
    )
    .await;
    assert_eq!(block["number"], json!("0x2"));
    assert_eq!(block["hash"], receipt["blockHash"]);
    assert_eq!(block["gasUsed"], json!(gas_used));
    assert_eq!(block["baseFeePerGas"], json!("0x3b9aca00"));
    assert_eq!(block["timestamp"], json!(q(1_700_000_002)));
    assert_eq!(block["transactions"][0]["hash"], json!(tx_hash));
    assert_eq!(block["transactions"][0]["from"], json!(me));
    let by_hash = call(
        &eth,
        "eth_getBlockByHash",
        vec![block["hash"].clone(), json!(false)],
    )
    .await;
    assert_eq!(by_hash["transactions"], json!([tx_hash]));
    assert_eq!(by_hash["stateRoot"], block["stateRoot"]);
    let one = call(
        &eth,
        "eth_getBlockByNumber",
        vec![json!("0x1"), json!(true)],
    )
    .await;
    assert_eq!(one["hash"], block["parentHash"]);
    let deposit = &one["transactions"][0];
    assert_eq!(deposit["type"], json!("0x7e"));
    assert_eq!(deposit["to"], json!(me));
    assert_eq!(deposit["value"], json!(format!("{ten_coins:#x}")));
    let deposit_receipt = call(
        &eth,
        "eth_getTransactionReceipt",
        vec![deposit["hash"].clone()],
    )
    .await;
    assert_eq!(deposit_receipt["type"], json!("0x7e"));
    assert_eq!(deposit_receipt["status"], json!("0x1"));
    assert_eq!(
        call(
            &eth,
            "eth_getBlockByNumber",
            vec![json!("earliest"), json!(false)]
        )
        .await["number"],
        json!("0x0")
    );
    assert_eq!(
        call(
            &eth,
            "eth_getBlockByNumber",
            vec![json!("0x99"), json!(false)]
        )
        .await,
        Value::Null
    );
    assert_eq!(
        call(
            &eth,
            "eth_getBlockByHash",
            vec![json!(format!("0x{}", "ab".repeat(32))), json!(false)]
        )
        .await,
        Value::Null
    );
    // Bad input is an invalid-params error, not a crash.
    let (code, _, _) = call_err(&eth, "eth_getBalance", vec![json!("0x12")]).await;
    assert_eq!(code, -32602);
    let (code, _, _) = call_err(&eth, "eth_sendRawTransaction", vec![json!("0x02ff")]).await;
    assert_eq!(code, -32000);
}
