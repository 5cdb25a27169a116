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

/// The daemon's control client (JWT from its datadir) and eth client.
async fn clients(dir: &std::path::Path, d: &Daemon) -> (MetachainClient, HttpClient) {
    let secret = JwtSecret::from_file(&dir.join("jwt.hex")).unwrap();
    let meta = MetachainClient::new(
        Connection::connect(&d.grpc, Duration::from_secs(10), Some(secret))
            .await
            .unwrap(),
    );
    (meta, HttpClientBuilder::default().build(&d.http).unwrap())
}

/// Mines block 1 with a deposit of 10 coins to `key` (native txid `txid`).
async fn fund(meta: &MetachainClient, key: &MetaKey, txid: u8) {
    mine(
        meta,
        1,
        vec![NativeTx {
            kind: ain_rs::types::TxKind::Deposit as i32,
            from: "bcrt1native".into(),
            to: key.address().to_string(),
            amount: 1_000_000_000,
            native_txid: vec![txid; 32],
            ..Default::default()
        }],
    )
    .await;
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
    let (meta, eth) = clients(dir.path(), &d).await;

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
    fund(&meta, &key, 0xd1).await;
    let ten_coins = U256::from(10u64) * U256::from(10u64).pow(U256::from(18u64));
    assert_eq!(call(&eth, "eth_blockNumber", vec![]).await, json!("0x1"));
    assert_eq!(
        call(&eth, "eth_getBalance", vec![json!(me), json!("latest")]).await,
        json!(format!("{ten_coins:#x}"))
    );
    // Older blocks' state is read through the undo data; above the tip is an error.
    assert_eq!(
        call(&eth, "eth_getBalance", vec![json!(me), json!("0x0")]).await,
        json!("0x0")
    );
    let (code, message, _) = call_err(&eth, "eth_getBalance", vec![json!(me), json!("0x5")]).await;
    assert_eq!(code, -32000);
    assert!(message.contains("header not found"), "{message}");

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

/// Runtime of a logger: emits LOG1 with calldata word 0 as the topic and
/// word 1 as the data.
fn logger_runtime() -> Vec<u8> {
    hex::decode("60203560005260003560206000a100").unwrap()
}

fn deploy_code(runtime: &[u8]) -> Vec<u8> {
    let len = runtime.len() as u8;
    let mut code = vec![
        0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    code.extend(runtime);
    code
}

fn signed(key: &MetaKey, nonce: u64, to: TxKind, input: Vec<u8>) -> String {
    let raw = key.sign_tx(TxEip1559 {
        chain_id: 1132,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        input: input.into(),
        access_list: Default::default(),
    });
    format!("0x{}", hex::encode(raw))
}

fn num(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn next<T: serde::de::DeserializeOwned>(
    sub: &mut jsonrpsee::core::client::Subscription<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a notification within 10 s")
        .expect("subscription open")
        .expect("a well-formed notification")
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_logs_filters_subscriptions_history_and_reorg() {
    use jsonrpsee::core::client::SubscriptionClientT;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--rpc-filter-timeout-secs", "2"]);
    let (meta, eth) = clients(dir.path(), &d).await;
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&d.ws)
        .await
        .unwrap();

    let key = MetaKey::from_secret(&[0x22; 32]).unwrap();
    let me = key.address();
    fund(&meta, &key, 0xd2).await;
    call(
        &eth,
        "eth_sendRawTransaction",
        vec![json!(signed(
            &key,
            0,
            TxKind::Create,
            deploy_code(&logger_runtime())
        ))],
    )
    .await;
    mine(&meta, 2, vec![]).await;
    let logger = me.create(0);
    assert_eq!(
        call(&eth, "eth_getCode", vec![json!(logger), json!("latest")]).await,
        json!(format!("0x{}", hex::encode(logger_runtime())))
    );

    // Subscribers and filters from block 2 on.
    let mut heads = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            jsonrpsee::rpc_params!["newHeads"],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let topic = keccak256(b"Ping");
    let other = keccak256(b"Pong");
    let mut logs_sub = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            jsonrpsee::rpc_params!["logs", json!({"address": logger, "topics": [topic]})],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let mut pending_sub = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            jsonrpsee::rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let block_filter = call(&eth, "eth_newBlockFilter", vec![]).await;
    let pending_filter = call(&eth, "eth_newPendingTransactionFilter", vec![]).await;
    let log_filter = call(
        &eth,
        "eth_newFilter",
        vec![json!({"address": [logger], "topics": [[topic, other]]})],
    )
    .await;
    let other_filter = call(&eth, "eth_newFilter", vec![json!({"topics": [other]})]).await;

    let mut input = topic.to_vec();
    input.extend(U256::from(5u64).to_be_bytes::<32>());
    let raw = signed(&key, 1, TxKind::Call(logger), input);
    let tx_hash = call(&eth, "eth_sendRawTransaction", vec![json!(raw)]).await;
    assert_eq!(next(&mut pending_sub).await, tx_hash);
    mine(&meta, 3, vec![]).await;
    let head = next(&mut heads).await;
    assert_eq!(head["number"], json!("0x3"));
    let block3 = call(
        &eth,
        "eth_getBlockByNumber",
        vec![json!("0x3"), json!(false)],
    )
    .await;
    assert_eq!(head["hash"], block3["hash"]);
    assert_eq!(head["stateRoot"], block3["stateRoot"]);
    let live = next(&mut logs_sub).await;
    assert_eq!(live["removed"], json!(false));
    assert_eq!(live["transactionHash"], tx_hash);

    // eth_getLogs: ranges, addresses, positional topics with OR-lists, blockHash.
    let all = call(
        &eth,
        "eth_getLogs",
        vec![json!({"fromBlock": "earliest", "toBlock": "latest"})],
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    let log = &all[0];
    assert_eq!(log, &live);
    assert_eq!(log["address"], json!(logger));
    assert_eq!(log["topics"], json!([topic]));
    assert_eq!(log["data"], json!(format!("0x{:064x}", 5)));
    assert_eq!(log["blockNumber"], json!("0x3"));
    assert_eq!(log["blockHash"], block3["hash"]);
    assert_eq!(log["logIndex"], json!("0x0"));
    assert_eq!(log["transactionIndex"], json!("0x0"));
    for (filter, n) in [
        (json!({"fromBlock": "0x0", "topics": [other]}), 0),
        (json!({"fromBlock": "0x0", "topics": [[other, topic]]}), 1),
        (json!({"fromBlock": "0x0", "topics": [null, topic]}), 0),
        (
            json!({"fromBlock": "0x0", "address": [Address::ZERO, logger]}),
            1,
        ),
        (json!({"fromBlock": "0x0", "address": Address::ZERO}), 0),
        (json!({"fromBlock": "0x0", "toBlock": "0x2"}), 0),
        (json!({"blockHash": block3["hash"]}), 1),
        (json!({}), 1),
    ] {
        let got = call(&eth, "eth_getLogs", vec![filter.clone()]).await;
        assert_eq!(got.as_array().unwrap().len(), n, "{filter}: {got}");
    }
    let receipts = call(&eth, "eth_getBlockReceipts", vec![json!("0x3")]).await;
    assert_eq!(receipts[0]["logs"][0], live);
    assert_eq!(
        call(
            &eth,
            "eth_getBlockTransactionCountByNumber",
            vec![json!("0x3")]
        )
        .await,
        json!("0x1")
    );
    assert_eq!(
        call(
            &eth,
            "eth_getBlockTransactionCountByHash",
            vec![block3["hash"].clone()]
        )
        .await,
        json!("0x1")
    );
    let by_index = call(
        &eth,
        "eth_getTransactionByBlockNumberAndIndex",
        vec![json!("0x3"), json!("0x0")],
    )
    .await;
    assert_eq!(by_index["hash"], tx_hash);
    let by_index = call(
        &eth,
        "eth_getTransactionByBlockHashAndIndex",
        vec![block3["hash"].clone(), json!("0x0")],
    )
    .await;
    assert_eq!(by_index["hash"], tx_hash);
    assert_eq!(
        call(
            &eth,
            "eth_getTransactionByBlockNumberAndIndex",
            vec![json!("0x3"), json!("0x5")]
        )
        .await,
        Value::Null
    );

    // Filters: what happened since the last poll, once.
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![block_filter.clone()]).await,
        json!([block3["hash"]])
    );
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![block_filter.clone()]).await,
        json!([])
    );
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![pending_filter.clone()]).await,
        json!([tx_hash])
    );
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![log_filter.clone()]).await,
        json!([live])
    );
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![other_filter.clone()]).await,
        json!([])
    );
    assert_eq!(
        call(&eth, "eth_getFilterLogs", vec![log_filter.clone()]).await,
        json!([live])
    );

    // Reorg: the block leaves; its logs come back removed, queries forget them.
    meta.meta_disconnect_block(MetaDisconnectBlockInput {
        block_hash: block3["hash"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x")
            .to_string(),
    })
    .await
    .unwrap();
    let gone = next(&mut logs_sub).await;
    assert_eq!(gone["removed"], json!(true));
    assert_eq!(gone["transactionHash"], tx_hash);
    let mut removed = live.clone();
    removed["removed"] = json!(true);
    assert_eq!(
        call(&eth, "eth_getFilterChanges", vec![log_filter.clone()]).await,
        json!([removed])
    );
    assert_eq!(
        call(&eth, "eth_getLogs", vec![json!({"fromBlock": "0x0"})]).await,
        json!([])
    );
    assert_eq!(
        call(&eth, "eth_getTransactionReceipt", vec![tx_hash.clone()]).await,
        Value::Null
    );
    // Mined again (the tx went back to the pool) at another native time.
    meta_mine_at(&meta, 3, 99).await;
    let again = next(&mut logs_sub).await;
    assert_eq!(again["removed"], json!(false));
    assert_ne!(again["blockHash"], live["blockHash"]);
    let receipt = call(&eth, "eth_getTransactionReceipt", vec![tx_hash.clone()]).await;
    assert_eq!(receipt["blockHash"], again["blockHash"]);
    assert_eq!(next(&mut heads).await["hash"], again["blockHash"]);

    // Historical state: the code at block 1 is empty, the balance whole.
    assert_eq!(
        call(&eth, "eth_getCode", vec![json!(logger), json!("0x1")]).await,
        json!("0x")
    );
    assert_eq!(
        call(
            &eth,
            "eth_getBalance",
            vec![json!(me), json!({"blockNumber": "0x1"})]
        )
        .await,
        json!(format!(
            "{:#x}",
            U256::from(10u64) * U256::from(10u64).pow(U256::from(18u64))
        ))
    );
    assert_eq!(
        call(
            &eth,
            "eth_getTransactionCount",
            vec![json!(me), json!("0x2")]
        )
        .await,
        json!("0x1")
    );
    assert_eq!(
        call(
            &eth,
            "eth_call",
            vec![json!({"to": logger, "data": "0x"}), json!("0x1")]
        )
        .await,
        json!("0x")
    );
    let block2 = call(
        &eth,
        "eth_getBlockByNumber",
        vec![json!("0x2"), json!(false)],
    )
    .await;
    assert_eq!(
        call(
            &eth,
            "eth_getCode",
            vec![json!(logger), json!({"blockHash": block2["hash"]})]
        )
        .await,
        json!(format!("0x{}", hex::encode(logger_runtime())))
    );
    // safe and finalized are deeper than this chain: genesis.
    assert_eq!(
        call(
            &eth,
            "eth_getBlockByNumber",
            vec![json!("safe"), json!(false)]
        )
        .await["number"],
        json!("0x0")
    );
    assert_eq!(
        call(
            &eth,
            "eth_getBlockByNumber",
            vec![json!("finalized"), json!(false)]
        )
        .await["number"],
        json!("0x0")
    );

    // Fee history: per block base fee (and the next one), gas ratio, rewards.
    let fees = call(
        &eth,
        "eth_feeHistory",
        vec![json!("0x2"), json!("latest"), json!([25.0, 75.0])],
    )
    .await;
    assert_eq!(fees["oldestBlock"], json!("0x2"));
    assert_eq!(fees["baseFeePerGas"].as_array().unwrap().len(), 3);
    assert_eq!(fees["gasUsedRatio"].as_array().unwrap().len(), 2);
    assert_eq!(
        fees["reward"][1],
        json!(["0x3b9aca00", "0x3b9aca00"]),
        "{fees}"
    );
    let fees = call(&eth, "eth_feeHistory", vec![json!(100), json!("pending")]).await;
    assert_eq!(fees["oldestBlock"], json!("0x0"));
    assert!(fees.get("reward").is_none());

    // An access list names the slot a deploy writes.
    let created = me.create(num(
        &call(&eth, "eth_getTransactionCount", vec![json!(me)]).await
    ));
    let list = call(&eth, "eth_createAccessList", vec![json!({"from": me, "data": format!("0x{}", hex::encode(init_code())), "nonce": call(&eth, "eth_getTransactionCount", vec![json!(me)]).await})]).await;
    assert_eq!(
        list["accessList"],
        json!([{"address": created, "storageKeys": [format!("0x{:064x}", 0)]}]),
        "{list}"
    );
    assert!(num(&list["gasUsed"]) > 53_000);

    // Bad input: Ethereum-style errors.
    for (method, params, code) in [
        (
            "eth_getLogs",
            json!([{"fromBlock": "0x3", "toBlock": "0x1"}]),
            -32602,
        ),
        (
            "eth_getLogs",
            json!([{"topics": [topic, topic, topic, topic, topic]}]),
            -32602,
        ),
        ("eth_getLogs", json!([{"fromBlock": "bogus"}]), -32602),
        ("eth_getBalance", json!([me, "safest"]), -32602),
        ("eth_getFilterChanges", json!(["0x1234"]), -32000),
        (
            "eth_feeHistory",
            json!(["0x2", "latest", [75.0, 25.0]]),
            -32602,
        ),
        ("eth_feeHistory", json!(["0x2", "0x99"]), -32000),
        (
            "eth_getBalance",
            json!([me, {"blockHash": format!("0x{}", "ab".repeat(32))}]),
            -32000,
        ),
    ] {
        let params: Vec<Value> = params.as_array().unwrap().clone();
        let (got, message, _) = call_err(&eth, method, params.clone()).await;
        assert_eq!(got, code, "{method} {params:?}: {message}");
    }
    assert!(ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            jsonrpsee::rpc_params!["bogus"],
            "eth_unsubscribe"
        )
        .await
        .is_err());
    assert_eq!(
        call(&eth, "eth_uninstallFilter", vec![other_filter.clone()]).await,
        json!(true)
    );
    assert_eq!(
        call(&eth, "eth_uninstallFilter", vec![other_filter]).await,
        json!(false)
    );

    // A filter nobody polls expires (2 s here).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (code, message, _) = call_err(&eth, "eth_getFilterChanges", vec![block_filter]).await;
    assert_eq!((code, message.as_str()), (-32000, "filter not found"));
    assert_eq!(call(&eth, "net_peerCount", vec![]).await, json!("0x0"));
}

async fn meta_mine_at(meta: &MetachainClient, height: u64, offset: i64) {
    let context = Some(NativeContext {
        height,
        time: 1_700_000_000 + height as i64 + offset,
    });
    let minted = meta
        .meta_mint_block(MetaMintBlockInput {
            txs: vec![],
            context,
            beneficiary: String::new(),
        })
        .await
        .unwrap();
    meta.meta_connect_block(MetaConnectBlockInput {
        payload: minted.payload,
        context,
        native_txs_hash: ain_rs::native_txs_hash(&[]).to_vec(),
    })
    .await
    .unwrap();
}
