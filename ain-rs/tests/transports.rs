//! The generated servers and clients, on loopback, over both transports,
//! serving a small test implementor of the trait.

use ain_rs::types::*;
use ain_rs::{Connection, ErrorCode, MetachainClient, MetachainService, RpcError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts connected blocks and announces them; everything else answers from its inputs.
struct TestChain {
    height: AtomicU64,
    heads: tokio::sync::broadcast::Sender<MetaHeadEvent>,
}

impl Default for TestChain {
    fn default() -> Self {
        Self {
            height: AtomicU64::new(0),
            heads: tokio::sync::broadcast::channel(16).0,
        }
    }
}

impl MetachainService for TestChain {
    fn meta_mint_block(&self, input: MetaMintBlockInput) -> Result<MetaMintBlockResult, RpcError> {
        Ok(MetaMintBlockResult {
            payload: vec![0xde, 0xad, input.txs.len() as u8],
            block_hash: "ab".repeat(32),
            refused: input
                .txs
                .iter()
                .filter(|t| t.amount <= 0)
                .map(|t| RefusedTx {
                    native_txid: t.native_txid.clone(),
                    reason: "amount must be positive".into(),
                })
                .collect(),
        })
    }
    fn meta_connect_block(
        &self,
        input: MetaConnectBlockInput,
    ) -> Result<MetaConnectBlockResult, RpcError> {
        if input.payload.is_empty() {
            return Err(RpcError::invalid("corrupt payload: empty"));
        }
        let number = self.height.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.heads.send(MetaHeadEvent {
            kind: HeadEventKind::Connected as i32,
            number,
            hash: hex_of(&input.payload),
            ..Default::default()
        });
        Ok(MetaConnectBlockResult {
            block_hash: hex_of(&input.payload),
            number,
        })
    }
    fn meta_disconnect_block(
        &self,
        _: MetaDisconnectBlockInput,
    ) -> Result<MetaDisconnectBlockResult, RpcError> {
        Err(RpcError::precondition(
            "cannot disconnect the genesis block",
        ))
    }
    fn meta_get_tip(&self, _: MetaGetTipInput) -> Result<MetaGetTipResult, RpcError> {
        Ok(MetaGetTipResult {
            number: self.height.load(Ordering::SeqCst),
            hash: "00".repeat(32),
            state_root: String::new(),
            ..Default::default()
        })
    }
    fn meta_get_balance(
        &self,
        input: MetaGetBalanceInput,
    ) -> Result<MetaGetBalanceResult, RpcError> {
        // An [inline] rpc: it runs on the server's async worker.
        if input.address == "panic" {
            panic!("get_balance handler panicked on purpose");
        }
        Err(RpcError::not_found(format!("no account {}", input.address)))
    }
    fn meta_get_block(&self, input: MetaGetBlockInput) -> Result<MetaGetBlockResult, RpcError> {
        // A blocking-pool rpc.
        if input.block_id == "slow" {
            std::thread::sleep(Duration::from_millis(1500));
            return Err(RpcError::not_found("slow"));
        }
        panic!("get_block handler panicked on purpose");
    }
    fn meta_send_transaction(
        &self,
        input: MetaSendTransactionInput,
    ) -> Result<MetaSendTransactionResult, RpcError> {
        Ok(MetaSendTransactionResult {
            tx_hash: hex_of(&input.raw),
        })
    }
    fn meta_get_receipt(
        &self,
        input: MetaGetReceiptInput,
    ) -> Result<MetaGetReceiptResult, RpcError> {
        Err(RpcError::not_found(format!("no tx {}", input.tx_hash)))
    }
    fn meta_get_storage_at(
        &self,
        _: MetaGetStorageAtInput,
    ) -> Result<MetaGetStorageAtResult, RpcError> {
        Ok(MetaGetStorageAtResult {
            value: format!("0x{}", "00".repeat(32)),
        })
    }
    fn meta_get_code(&self, _: MetaGetCodeInput) -> Result<MetaGetCodeResult, RpcError> {
        Ok(MetaGetCodeResult { code: "0x".into() })
    }
    fn meta_get_pending_txs(
        &self,
        input: MetaGetPendingTxsInput,
    ) -> Result<MetaGetPendingTxsResult, RpcError> {
        Ok(MetaGetPendingTxsResult {
            epoch: 1,
            next: input.since,
            ..Default::default()
        })
    }
    fn meta_set_network_status(
        &self,
        _: MetaNetworkStatus,
    ) -> Result<MetaSetNetworkStatusResult, RpcError> {
        Ok(MetaSetNetworkStatusResult {})
    }
    fn meta_get_status(&self, _: MetaGetStatusInput) -> Result<MetaGetStatusResult, RpcError> {
        Ok(MetaGetStatusResult {
            head_subscribers: self.heads.receiver_count() as u64,
            ..Default::default()
        })
    }
    fn meta_subscribe_new_heads(
        &self,
        _: MetaSubscribeNewHeadsInput,
    ) -> Result<ain_rs::Subscription<MetaHeadEvent>, RpcError> {
        Ok(self.heads.subscribe())
    }
    fn meta_get_version(&self, _: MetaGetVersionInput) -> Result<MetaGetVersionResult, RpcError> {
        Ok(MetaGetVersionResult {
            version: "test".into(),
        })
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Servers {
    grpc: SocketAddr,
    http: SocketAddr,
    _rpc: jsonrpsee::server::ServerHandle,
}

async fn start() -> Servers {
    start_with(ain_rs::ServerOptions::default()).await
}

async fn start_with(opts: ain_rs::ServerOptions) -> Servers {
    let svc: Arc<dyn MetachainService> = Arc::new(TestChain::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = listener.local_addr().unwrap();
    let router = ain_rs::grpc::server_builder()
        .add_service(ain_rs::metachain_grpc_server(svc.clone(), opts.clone()));
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    let server = jsonrpsee::server::Server::builder()
        .build("127.0.0.1:0")
        .await
        .unwrap();
    let http = server.local_addr().unwrap();
    let handle = server.start(ain_rs::metachain_rpc_module(svc, opts).unwrap());
    Servers {
        grpc,
        http,
        _rpc: handle,
    }
}

async fn clients(s: &Servers, timeout: Duration) -> [MetachainClient; 3] {
    let connect = |url: String| async move {
        MetachainClient::new(Connection::connect(&url, timeout, None).await.unwrap())
    };
    [
        connect(format!("grpc://{}", s.grpc)).await,
        connect(format!("http://{}", s.http)).await,
        connect(format!("ws://{}", s.http)).await,
    ]
}

fn mint_input() -> MetaMintBlockInput {
    MetaMintBlockInput {
        txs: vec![
            NativeTx {
                kind: TxKind::Deposit as i32,
                to: "0x00000000000000000000000000000000000000aa".into(),
                amount: 5,
                native_txid: "01".into(),
                ..Default::default()
            },
            NativeTx {
                kind: TxKind::Deposit as i32,
                to: "0x00000000000000000000000000000000000000bb".into(),
                amount: -1,
                native_txid: "02".into(),
                ..Default::default()
            },
        ],
        context: Some(NativeContext {
            height: 7,
            time: 99,
        }),
        beneficiary: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_transports_give_identical_results() {
    let s = start().await;
    let [grpc, jsonrpc, ws] = clients(&s, Duration::from_secs(5)).await;
    assert_eq!(
        ws.meta_mint_block(mint_input()).await.unwrap(),
        grpc.meta_mint_block(mint_input()).await.unwrap()
    );
    let a = grpc.meta_mint_block(mint_input()).await.unwrap();
    let b = jsonrpc.meta_mint_block(mint_input()).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.refused.len(), 1);
    assert_eq!(a.refused[0].reason, "amount must be positive");
    assert_eq!(a.payload, vec![0xde, 0xad, 2]);

    let c1 = grpc
        .meta_connect_block(MetaConnectBlockInput {
            payload: vec![1, 2],
            context: None,
            native_txs_hash: vec![],
        })
        .await
        .unwrap();
    let c2 = jsonrpc
        .meta_connect_block(MetaConnectBlockInput {
            payload: vec![1, 2],
            context: None,
            native_txs_hash: vec![],
        })
        .await
        .unwrap();
    assert_eq!((c1.block_hash.as_str(), c1.number), ("0102", 1));
    assert_eq!((c2.block_hash.as_str(), c2.number), ("0102", 2));
    assert_eq!(
        grpc.meta_get_tip(MetaGetTipInput {}).await.unwrap(),
        jsonrpc.meta_get_tip(MetaGetTipInput {}).await.unwrap()
    );
    assert_eq!(
        grpc.meta_get_version(MetaGetVersionInput {})
            .await
            .unwrap()
            .version,
        "test"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_keep_their_code_and_message_on_both_transports() {
    let s = start().await;
    for client in clients(&s, Duration::from_secs(5)).await {
        let e = client
            .meta_connect_block(MetaConnectBlockInput::default())
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::InvalidArgument, "corrupt payload: empty")
        );
        let e = client
            .meta_get_balance(MetaGetBalanceInput {
                address: "a".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::NotFound, "no account a")
        );
        let e = client
            .meta_disconnect_block(MetaDisconnectBlockInput::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        // A panicking handler is an internal error, and the server lives on.
        let e = client
            .meta_get_block(MetaGetBlockInput::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal, "{e:?}");
        let e = client
            .meta_get_balance(MetaGetBalanceInput {
                address: "panic".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal, "{e:?}");
        assert!(client.meta_get_tip(MetaGetTipInput {}).await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_never_hang_past_their_timeout() {
    let s = start().await;
    for client in clients(&s, Duration::from_millis(300)).await {
        let e = client
            .meta_get_block(MetaGetBlockInput {
                block_id: "slow".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::DeadlineExceeded, "{e:?}");
        // The same words on every transport, naming the rpc and the limit.
        assert_eq!(e.message, "meta_getBlock timed out after 300ms", "{e:?}");
    }
}

/// SETTINGS_INITIAL_WINDOW_SIZE and SETTINGS_MAX_FRAME_SIZE of the SETTINGS
/// frame an HTTP/2 peer sends first (after the preface, from a client).
async fn window_and_frame_size(conn: &mut tokio::net::TcpStream) -> (Option<u32>, Option<u32>) {
    use tokio::io::AsyncReadExt;
    // 9 bytes of header, then 6-byte (id, value) entries.
    let mut header = [0u8; 9];
    conn.read_exact(&mut header).await.unwrap();
    assert_eq!(header[3], 4, "first frame is not SETTINGS: {header:?}");
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.unwrap();
    let setting = |id: u16| {
        body.chunks(6)
            .find(|e| u16::from_be_bytes([e[0], e[1]]) == id)
            .map(|e| u32::from_be_bytes([e[2], e[3], e[4], e[5]]))
    };
    (setting(4), setting(5))
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_peers_announce_frames_and_windows_sized_for_block_payloads() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let expected = (
        Some(ain_rs::grpc::WINDOW_SIZE),
        Some(ain_rs::grpc::MAX_FRAME_SIZE),
    );
    // The server's settings.
    let s = start().await;
    let mut conn = tokio::net::TcpStream::connect(s.grpc).await.unwrap();
    conn.write_all(PREFACE).await.unwrap();
    conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    assert_eq!(window_and_frame_size(&mut conn).await, expected, "server");
    // The client's.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("grpc://{}", listener.local_addr().unwrap());
    let client =
        tokio::spawn(async move { Connection::connect(&url, Duration::from_secs(5), None).await });
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut preface = [0u8; 24];
    conn.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface, PREFACE);
    assert_eq!(window_and_frame_size(&mut conn).await, expected, "client");
    client.abort();
}

/// A getBlock input that records when it is freed.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordsFree {
    block_id: String,
    #[serde(skip)]
    freed: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl Drop for RecordsFree {
    fn drop(&mut self) {
        *self.freed.lock().unwrap() = Some(std::time::Instant::now());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_rpc_clients_free_a_long_calls_input_while_the_server_works() {
    let s = start().await;
    for url in [format!("http://{}", s.http), format!("ws://{}", s.http)] {
        let conn = Connection::connect(&url, Duration::from_secs(10), None)
            .await
            .unwrap();
        let freed = Arc::new(std::sync::Mutex::new(None));
        let input = RecordsFree {
            block_id: "slow".into(),
            freed: freed.clone(),
        };
        // The server holds the call for 1.5 s.
        let e = conn
            .jsonrpc_call::<_, MetaGetBlockResult>("meta_getBlock", input)
            .await
            .unwrap_err();
        let answered = std::time::Instant::now();
        assert_eq!(e.message, "slow", "{url}: {e:?}");
        let freed = freed.lock().unwrap().expect("input freed");
        assert!(
            answered.duration_since(freed) > Duration::from_secs(1),
            "{url}: input freed only {:?} before the answer",
            answered.duration_since(freed)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_stream_heads_over_grpc_and_websocket_and_end_with_the_client() {
    use tokio_stream::StreamExt;
    let s = start().await;
    let [grpc, http, ws] = clients(&s, Duration::from_secs(5)).await;
    let e = http
        .meta_subscribe_new_heads(MetaSubscribeNewHeadsInput {})
        .await
        .err()
        .unwrap();
    assert!(e.message.contains("needs a ws:// or grpc://"), "{e:?}");
    let mut streams = vec![
        grpc.meta_subscribe_new_heads(MetaSubscribeNewHeadsInput {})
            .await
            .unwrap(),
        ws.meta_subscribe_new_heads(MetaSubscribeNewHeadsInput {})
            .await
            .unwrap(),
    ];
    let subscribers = || async {
        grpc.meta_get_status(MetaGetStatusInput {})
            .await
            .unwrap()
            .head_subscribers
    };
    wait_for(|| async { subscribers().await == 2 }).await;
    for payload in [vec![1u8], vec![2], vec![3]] {
        grpc.meta_connect_block(MetaConnectBlockInput {
            payload,
            context: None,
            native_txs_hash: vec![],
        })
        .await
        .unwrap();
    }
    for stream in &mut streams {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(stream.next().await.unwrap().unwrap().number);
        }
        assert_eq!(got, vec![1, 2, 3]);
    }
    drop(streams);
    wait_for(|| async { subscribers().await == 0 }).await;
}

async fn wait_for<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(cond: F) {
    for _ in 0..200 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_ends_calls_that_exceed_its_limit() {
    let s = start_with(ain_rs::ServerOptions {
        call_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    for client in clients(&s, Duration::from_secs(10)).await {
        let e = client
            .meta_get_block(MetaGetBlockInput {
                block_id: "slow".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::DeadlineExceeded, "{e:?}");
        assert!(e.message.contains("server's"), "{e:?}");
    }
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let e = Connection::connect("ftp://127.0.0.1:1", Duration::from_secs(1), None)
        .await
        .unwrap_err();
    assert!(e.message.contains("unsupported URL scheme"), "{e:?}");
    let e = Connection::connect("grpc://127.0.0.1:1", Duration::from_secs(1), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert!(
        e.message.contains("cannot connect to grpc://127.0.0.1:1"),
        "{e:?}"
    );
}

#[test]
fn json_uses_camel_case_and_hex_bytes_omits_defaults_and_rejects_unknown_fields() {
    let r = MetaMintBlockResult {
        payload: vec![0xca, 0xfe],
        block_hash: "h".into(),
        refused: vec![RefusedTx {
            native_txid: vec![0xab],
            reason: String::new(),
        }],
    };
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["payload"], "cafe");
    assert_eq!(json["blockHash"], "h");
    assert_eq!(json["refused"][0]["nativeTxid"], "ab");
    // As in proto3 JSON, fields holding their default value are left out.
    assert_eq!(
        json["refused"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["nativeTxid"]
    );
    assert_eq!(
        serde_json::to_string(&MetaGetTipResult::default()).unwrap(),
        "{}"
    );
    let back: MetaMintBlockResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);

    let e =
        serde_json::from_str::<MetaGetBalanceInput>(r#"{"address":"a","extra":1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field"));
    let e = serde_json::from_str::<MetaConnectBlockInput>(r#"{"payload":"zz"}"#).unwrap_err();
    assert!(e.to_string().contains("invalid hex"));
    // Missing fields take their protobuf defaults.
    let d: MetaMintBlockInput = serde_json::from_str("{}").unwrap();
    assert_eq!(d, MetaMintBlockInput::default());
}
