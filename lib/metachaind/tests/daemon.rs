//! The real `metachaind` binary on free loopback ports, driven by the
//! generated clients over gRPC, JSON-RPC over HTTP and WebSocket.

use ain_rs::auth::JwtSecret;
use ain_rs::types::*;
use ain_rs::{Connection, ErrorCode, MetachainClient};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tokio_stream::StreamExt;

mod common;
use common::Daemon;

impl Daemon {
    fn secret(&self) -> JwtSecret {
        JwtSecret::from_file(&self.datadir.join("jwt.hex")).unwrap()
    }

    async fn client(&self, url: &str, secret: Option<JwtSecret>) -> MetachainClient {
        MetachainClient::new(
            Connection::connect(url, Duration::from_secs(10), secret)
                .await
                .unwrap(),
        )
    }

    async fn clients(&self) -> Vec<MetachainClient> {
        let mut out = Vec::new();
        for url in [&self.grpc, &self.http, &self.ws] {
            out.push(self.client(url, Some(self.secret())).await);
        }
        out
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc_kill(self.child.id() as i32, 15) };
        self.child.wait().unwrap()
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn address(n: u8) -> String {
    format!("0x{}", hex::encode([n; 20]))
}

/// A 32-byte native txid unique per (height, index).
fn native_txid(height: u64, i: usize) -> Vec<u8> {
    let mut id = vec![0xd0; 32];
    id[..8].copy_from_slice(&height.to_be_bytes());
    id[8..16].copy_from_slice(&(i as u64).to_be_bytes());
    id
}

fn mint_input(height: u64, n: usize) -> MetaMintBlockInput {
    MetaMintBlockInput {
        txs: (0..n)
            .map(|i| NativeTx {
                kind: TxKind::Deposit as i32,
                from: "bcrt1native".into(),
                to: address((i % 7) as u8 + 1),
                amount: 100 + i as i64,
                native_txid: native_txid(height, i),
                ..Default::default()
            })
            .collect(),
        context: Some(NativeContext {
            height,
            time: 1_700_000_000 + height as i64,
        }),
        beneficiary: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_connect_disconnect_and_queries_agree_on_every_transport() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let clients = d.clients().await;

    // Mint is deterministic: every transport gets the same candidate.
    let minted: Vec<MetaMintBlockResult> =
        futures_all(clients.iter().map(|c| c.meta_mint_block(mint_input(1, 3)))).await;
    assert!(minted.windows(2).all(|w| w[0] == w[1]));
    let connected = clients[0]
        .meta_connect_block(MetaConnectBlockInput {
            payload: minted[0].payload.clone(),
            context: mint_input(1, 0).context,
            native_txs_hash: ain_rs::native_txs_hash(&mint_input(1, 3).txs).to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(connected.block_hash, minted[0].block_hash);
    let block = clients[0]
        .meta_get_block(MetaGetBlockInput {
            block_id: "1".into(),
        })
        .await
        .unwrap()
        .block
        .unwrap();
    assert_eq!(block.system_txs.len(), 3);
    let receipt_hash = metachain::system::SystemTx::parse(&block.system_txs[0])
        .unwrap()
        .hash()
        .to_string();

    for c in &clients {
        let tip = c.meta_get_tip(MetaGetTipInput {}).await.unwrap();
        // 100 + 101 + 102 native units, 10^10 wei each
        assert_eq!(
            (tip.number, tip.supply_wei.as_str(), tip.burned_wei.as_str()),
            (1, "3030000000000", "0")
        );
        assert_eq!(tip.chain_id, 1132);
        let b = c
            .meta_get_balance(MetaGetBalanceInput {
                address: address(1),
            })
            .await
            .unwrap();
        assert_eq!(b.balance_wei, "1000000000000");
        assert_eq!(b.address, "0x0101010101010101010101010101010101010101");
        let receipt = c
            .meta_get_receipt(MetaGetReceiptInput {
                tx_hash: receipt_hash.clone(),
            })
            .await
            .unwrap();
        assert_eq!(receipt.tx_type, 0x7e);
        assert_eq!(receipt.native_txid, native_txid(1, 0));
        assert!(receipt.success);
        let block = c
            .meta_get_block(MetaGetBlockInput {
                block_id: "1".into(),
            })
            .await
            .unwrap();
        assert_eq!(block.hash, minted[0].block_hash);
        // Idempotent connect over every transport.
        let again = c
            .meta_connect_block(MetaConnectBlockInput {
                payload: minted[0].payload.clone(),
                context: mint_input(1, 0).context,
                native_txs_hash: ain_rs::native_txs_hash(&mint_input(1, 3).txs).to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(again.number, 1);
        let e = c
            .meta_get_balance(MetaGetBalanceInput {
                address: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("invalid meta address"), "{e:?}");
    }
    let d1 = clients[1]
        .meta_disconnect_block(MetaDisconnectBlockInput {
            block_hash: minted[0].block_hash.clone(),
        })
        .await
        .unwrap();
    assert_eq!(d1.number, 0);
    let e = clients[2]
        .meta_disconnect_block(MetaDisconnectBlockInput {
            block_hash: d1.tip_hash.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::FailedPrecondition, "{e:?}");
    assert!(e.message.contains("genesis"));
}

async fn futures_all<T, F: std::future::Future<Output = Result<T, ain_rs::RpcError>>>(
    futs: impl Iterator<Item = F>,
) -> Vec<T> {
    let mut out = Vec::new();
    for f in futs {
        out.push(f.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn control_rpcs_need_a_valid_fresh_token_queries_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let secret_file = std::fs::metadata(dir.path().join("jwt.hex")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(secret_file.permissions().mode() & 0o777, 0o600);

    let wrong = JwtSecret::from_bytes([9; 32]);
    for url in [&d.grpc, &d.http, &d.ws] {
        for secret in [None, Some(wrong.clone())] {
            let c = d.client(url, secret).await;
            let e = c.meta_mint_block(mint_input(1, 1)).await.unwrap_err();
            assert_eq!(e.code, ErrorCode::Unauthenticated, "{url}: {e:?}");
            assert!(e.message.contains("control rpc"), "{e:?}");
            assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 0);
        }
        let ok = d.client(url, Some(d.secret())).await;
        assert!(ok.meta_mint_block(mint_input(1, 1)).await.is_ok(), "{url}");
    }

    // A stale token, sent by hand.
    let stale = d.secret().token_at(1_000_000);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"metaConsensusRpc_mintBlock","params":[{}]}"#;
    let reply = http_post(&d.http, body, Some(&stale)).await;
    assert!(reply.contains("stale JWT"), "{reply}");
    assert!(reply.contains("-32005"), "{reply}");
}

/// A minimal HTTP/1.1 POST, to send exactly the bytes a test needs.
async fn http_post(url: &str, body: &str, token: Option<&str>) -> String {
    http_post_bytes(url, body.as_bytes(), token).await
}

async fn http_post_bytes(url: &str, body: &[u8], token: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(authority).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_requests_get_a_clear_error_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--max-request-size", "20000"]);
    // gRPC and HTTP answer with an error; a WebSocket is closed by the server.
    let ws = d.client(&d.ws, Some(d.secret())).await;
    let e = ws.meta_mint_block(mint_input(1, 1000)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Unavailable, "{e:?}");
    assert!(e.message.contains("closed the connection"), "{e:?}");
    for c in d.clients().await {
        if matches!(c.connection().transport(), ain_rs::Transport::Ws(_)) {
            assert!(c.meta_mint_block(mint_input(1, 10)).await.is_ok());
            continue;
        }
        let e = c.meta_mint_block(mint_input(1, 1000)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceExhausted, "{e:?}");
        let text = e.message.to_lowercase();
        assert!(
            text.contains("larger") || text.contains("too large") || text.contains("exceeds"),
            "{e:?}"
        );
        assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 0);
        assert!(c.meta_mint_block(mint_input(1, 10)).await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn heads_are_pushed_and_a_departed_subscriber_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let clients = d.clients().await;
    let (grpc, ws) = (&clients[0], &clients[2]);
    let mut streams = vec![
        grpc.meta_subscribe_new_heads(MetaSubscribeNewHeadsInput {})
            .await
            .unwrap(),
        ws.meta_subscribe_new_heads(MetaSubscribeNewHeadsInput {})
            .await
            .unwrap(),
    ];
    wait_subscribers(grpc, 2).await;
    let mut hashes = Vec::new();
    for h in 1..=4 {
        let m = grpc.meta_mint_block(mint_input(h, 2)).await.unwrap();
        grpc.meta_connect_block(MetaConnectBlockInput {
            payload: m.payload,
            context: mint_input(h, 0).context,
            native_txs_hash: ain_rs::native_txs_hash(&mint_input(h, 2).txs).to_vec(),
        })
        .await
        .unwrap();
        hashes.push(m.block_hash);
    }
    grpc.meta_disconnect_block(MetaDisconnectBlockInput {
        block_hash: hashes[3].clone(),
    })
    .await
    .unwrap();
    for s in &mut streams {
        let mut events = Vec::new();
        for _ in 0..5 {
            let e = tokio::time::timeout(Duration::from_secs(10), s.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            events.push((e.kind, e.number, e.hash));
        }
        let connected = HeadEventKind::Connected as i32;
        assert_eq!(
            events,
            vec![
                (connected, 1, hashes[0].clone()),
                (connected, 2, hashes[1].clone()),
                (connected, 3, hashes[2].clone()),
                (connected, 4, hashes[3].clone()),
                (HeadEventKind::Disconnected as i32, 4, hashes[3].clone()),
            ]
        );
    }
    drop(streams);
    wait_subscribers(grpc, 0).await;
}

async fn wait_subscribers(c: &MetachainClient, n: u64) {
    for _ in 0..400 {
        if c.meta_get_status(MetaGetStatusInput {})
            .await
            .unwrap()
            .head_subscribers
            == n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("head subscribers never reached {n}");
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_persists_and_restart_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let c = d.clients().await.remove(0);
    let m = c.meta_mint_block(mint_input(1, 5)).await.unwrap();
    c.meta_connect_block(MetaConnectBlockInput {
        payload: m.payload,
        context: mint_input(1, 0).context,
        native_txs_hash: ain_rs::native_txs_hash(&mint_input(1, 5).txs).to_vec(),
    })
    .await
    .unwrap();
    drop(c);
    assert!(d.stop().success(), "SIGTERM must exit 0");

    let d = Daemon::start(dir.path(), &[]);
    let c = d.clients().await.remove(1);
    let tip = c.meta_get_tip(MetaGetTipInput {}).await.unwrap();
    assert_eq!((tip.number, tip.hash), (1, m.block_hash));
}

/// A client that opens HTTP/2 and then never reads cannot hold up a
/// shutdown: past the drain deadline (call timeout + 5 s) it is cut off.
#[test]
fn a_silent_client_cannot_hold_up_shutdown() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(dir.path(), &["--call-timeout-secs", "1"]);
    let authority = d.grpc.trim_start_matches("grpc://").to_string();
    let mut silent = std::net::TcpStream::connect(&authority).unwrap();
    // The client preface and an empty SETTINGS frame; no ACK, no PING reply.
    silent
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    silent.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc_kill(d.child.id() as i32, 15) };
    // A liveness bound, far above the 6 s deadline: not a timing check.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metachaind still waits for a silent client"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_file_sets_what_flags_do_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("custom.hex");
    std::fs::write(
        &secret,
        format!("{}\n", JwtSecret::from_bytes([3; 32]).to_hex()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("metachaind.toml"),
        format!(
            "auth-secret = {:?}\nmax-connections = 8\nrpc-addr = \"127.0.0.1:1\"\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    // --rpc-addr on the command line beats the file's unusable port 1.
    let d = Daemon::start(dir.path(), &[]);
    let c = d
        .client(&d.http, Some(JwtSecret::from_bytes([3; 32])))
        .await;
    assert!(
        c.meta_mint_block(mint_input(1, 1)).await.is_ok(),
        "the file's secret is used"
    );
    assert!(!dir.path().join("jwt.hex").exists());
    drop(d);

    std::fs::write(dir.path().join("metachaind.toml"), "no-such-key = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_metachaind"))
        .arg("--datadir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid config") && err.contains("no-such-key"),
        "{err}"
    );
}

/// Runs metachaind to its exit on `datadir` and returns its stderr; it must
/// fail.
fn failed_start(datadir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_metachaind"))
        .arg("--datadir")
        .arg(datadir)
        .args(["--log-level", "error"])
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_failures_are_one_line_with_the_cause_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("a"), &[]);
    let grpc_port = d.grpc.trim_start_matches("grpc://");
    let cases = [
        (
            dir.path().join("a"),
            vec!["--grpc-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0"],
            "Error: cannot open metachain database",
        ),
        (
            dir.path().join("b"),
            vec!["--grpc-addr", grpc_port, "--rpc-addr", "127.0.0.1:0"],
            "Error: cannot bind gRPC address",
        ),
        (
            dir.path().join("c"),
            vec!["--auth-secret", "/dev/null"],
            "Error: auth secret /dev/null is invalid",
        ),
    ];
    for (datadir, args, expected) in cases {
        let err = failed_start(&datadir, &args);
        assert!(err.starts_with(expected), "{err}");
        // Cause included, no backtrace even with RUST_BACKTRACE set.
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // A log that goes to a file is plain text.
    let out = Command::new(env!("CARGO_BIN_EXE_metachaind"))
        .arg("--datadir")
        .arg(dir.path().join("d"))
        .args(["--grpc-addr", grpc_port])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("metachain opened") && !log.contains('\x1b'),
        "{log}"
    );
    // The running daemon was not disturbed.
    let c = d.client(&d.http, None).await;
    assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_discover_lists_every_method_with_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let reply = http_post(
        &d.http,
        r#"{"jsonrpc":"2.0","id":1,"method":"rpc.discover","params":[]}"#,
        None,
    )
    .await;
    let body = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
    let doc: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let methods: Vec<&str> = doc["result"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for (_, name) in ain_rs::METACHAIN_RPC_NAMES {
        assert!(methods.contains(name), "{name} missing from {methods:?}");
    }
    let mint = doc["result"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "metaConsensusRpc_mintBlock")
        .unwrap();
    assert_eq!(mint["x-control"], true);
    assert_eq!(
        mint["params"][0]["schema"]["$ref"],
        "#/components/schemas/MetaMintBlockInput"
    );
    assert!(
        doc["result"]["components"]["schemas"]["NativeTx"]["properties"]["nativeTxid"].is_object()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_limit_are_refused_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--max-connections", "1"]);
    for url in [&d.grpc, &d.ws] {
        let first = d.client(url, None).await;
        assert!(first.meta_get_tip(MetaGetTipInput {}).await.is_ok());
        // The one slot is taken: a second connection is refused.
        let second = Connection::connect(url, Duration::from_secs(3), None).await;
        let refused = match second {
            Err(e) => e.code == ErrorCode::Unavailable,
            Ok(conn) => MetachainClient::new(conn)
                .meta_get_tip(MetaGetTipInput {})
                .await
                .is_err(),
        };
        assert!(refused, "{url}: a connection over the limit was served");
        assert!(
            first.meta_get_tip(MetaGetTipInput {}).await.is_ok(),
            "{url}: the first connection survives"
        );
        drop(first);
        // The slot frees when the first client leaves.
        let mut served = false;
        for _ in 0..100 {
            if let Ok(conn) = Connection::connect(url, Duration::from_secs(3), None).await {
                if MetachainClient::new(conn)
                    .meta_get_tip(MetaGetTipInput {})
                    .await
                    .is_ok()
                {
                    served = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(served, "{url}: the freed slot was never reused");
    }
}

/// Posts `body` and returns the HTTP status and the body.
async fn post_status(url: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    let raw = http_post_bytes(url, body, token).await;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// Posts `body` and returns the JSON reply, which must come with HTTP 200.
async fn post_json(url: &str, body: &[u8]) -> serde_json::Value {
    let (status, text) = post_status(url, body, None).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn rpc_error(id: serde_json::Value, code: i64, message: &str) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

const BAD_ID: &str = "Invalid request: \"id\" must be a string, an integer from 0 to 18446744073709551615 or null, got ";

#[tokio::test(flavor = "multi_thread")]
async fn a_request_jsonrpsee_cannot_answer_gets_a_json_rpc_error_not_null() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let tip = d.client(&d.http, None).await;
    let before = tip.meta_get_tip(MetaGetTipInput {}).await.unwrap();
    let null = serde_json::Value::Null;
    let cases: Vec<(String, serde_json::Value)> = vec![
        (
            "{}".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}an object")),
        ),
        (
            "[1]".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}an array")),
        ),
        (
            "1.5".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}a number")),
        ),
        (
            "1.0".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}a number")),
        ),
        (
            "-1".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}a number")),
        ),
        (
            "18446744073709551616".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}a number")),
        ),
        (
            "true".into(),
            rpc_error(null.clone(), -32600, &format!("{BAD_ID}a boolean")),
        ),
    ];
    for (id, expected) in cases {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"meta_getTip","params":[]}}"#);
        assert_eq!(
            post_json(&d.http, body.as_bytes()).await,
            expected,
            "id {id}"
        );
    }
    // The ids jsonrpsee can echo still work, up to 2^64-1.
    for id in ["18446744073709551615", "0", "\"x\"", "null"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"meta_getTip"}}"#);
        let reply = post_json(&d.http, body.as_bytes()).await;
        assert_eq!(reply["id"].to_string(), id);
        assert_eq!(reply["result"]["hash"], before.hash.as_str());
    }
    let bad_version = [
        (r#""3.0""#, serde_json::json!(5)),
        ("2", serde_json::json!(5)),
        ("null", serde_json::json!(5)),
    ];
    for (version, id) in bad_version {
        let body = format!(r#"{{"jsonrpc":{version},"id":5,"method":"meta_getTip","params":[]}}"#);
        assert_eq!(
            post_json(&d.http, body.as_bytes()).await,
            rpc_error(
                id,
                -32600,
                "Invalid request: \"jsonrpc\" must be the string \"2.0\""
            ),
            "jsonrpc {version}"
        );
    }
    let body = br#"{"jsonrpc":"2.0","id":"a","method":"meta_getTip","params":7}"#;
    assert_eq!(
        post_json(&d.http, body).await,
        rpc_error(
            serde_json::json!("a"),
            -32600,
            "Invalid request: \"params\" must be an array or an object, got a number"
        )
    );
    assert_eq!(tip.meta_get_tip(MetaGetTipInput {}).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_parse_error_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let deep = format!("{}{}", "[".repeat(40_000), "]".repeat(40_000));
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"meta_getTip","params":{}{}}}"#,
        "{\"a\":".repeat(40_000),
        "}".repeat(40_000)
    );
    let cases: Vec<(Vec<u8>, &str)> =
        vec![
        (b"{".to_vec(), "Parse error: EOF while parsing an object at line 1 column 1"),
        (b"{]".to_vec(), "Parse error: key must be a string at line 1 column 2"),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"meta_getBlock","params":[{"blockId":1e400}]}"#
                .to_vec(),
            "Parse error: number out of range at line 1 column 75",
        ),
        (
            deep.into_bytes(),
            "Parse error: JSON nested deeper than 100 levels at line 1 column 101",
        ),
        (
            deep_params.into_bytes(),
            "Parse error: JSON nested deeper than 100 levels at line 1 column 552",
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"meta_getTip\xff\"}".to_vec(),
            "Parse error: invalid unicode code point at line 1 column 46",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            post_json(&d.http, &body).await,
            rpc_error(serde_json::Value::Null, -32700, message)
        );
    }
    assert_eq!(
        post_json(&d.http, b"\"meta_getTip\"").await,
        rpc_error(
            serde_json::Value::Null,
            -32600,
            "Invalid request: expected a request object or a batch array"
        )
    );
    let c = d.client(&d.http, None).await;
    assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_get_no_reply_and_are_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let c = d.client(&d.http, Some(d.secret())).await;
    let m = c.meta_mint_block(mint_input(1, 2)).await.unwrap();
    let input = MetaConnectBlockInput {
        payload: m.payload.clone(),
        context: mint_input(1, 0).context,
        native_txs_hash: ain_rs::native_txs_hash(&mint_input(1, 2).txs).to_vec(),
    };
    let params = serde_json::to_string(&input).unwrap();
    let token = d.secret().token();
    let notification = format!(
        r#"{{"jsonrpc":"2.0","method":"metaConsensusRpc_connectBlock","params":[{params}]}}"#
    );
    let batch = format!("[{notification},{notification}]");
    for body in [&notification, &batch] {
        assert_eq!(
            post_status(&d.http, body.as_bytes(), Some(&token)).await,
            (204, String::new())
        );
    }
    assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 0);
    // The same request with an id connects.
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"metaConsensusRpc_connectBlock","params":[{params}]}}"#
    );
    let (status, reply) = post_status(&d.http, call.as_bytes(), Some(&token)).await;
    assert_eq!(status, 200);
    assert!(reply.contains(&m.block_hash), "{reply}");
    assert_eq!(c.meta_get_tip(MetaGetTipInput {}).await.unwrap().number, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_serve_their_good_requests_and_answer_each_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let null = serde_json::Value::Null;
    assert_eq!(
        post_json(&d.http, b"[]").await,
        rpc_error(null.clone(), -32600, "Invalid request: empty batch")
    );
    assert_eq!(
        post_json(&d.http, b" [1, \"x\"] ").await,
        serde_json::json!([
            rpc_error(
                null.clone(),
                -32600,
                "Invalid request: a request must be an object"
            ),
            rpc_error(
                null.clone(),
                -32600,
                "Invalid request: a request must be an object"
            ),
        ])
    );
    let version = r#"{"jsonrpc":"2.0","id":7,"method":"meta_getVersion"}"#;
    let mixed = format!(
        r#"[{version},{{"jsonrpc":"2.0","id":{{}},"method":"meta_getVersion"}},{{"jsonrpc":"2.0","method":"meta_getVersion"}},{{"jsonrpc":"1.0","id":8,"method":"meta_getVersion"}}]"#
    );
    let reply = post_json(&d.http, mixed.as_bytes()).await;
    let items = reply.as_array().unwrap();
    assert_eq!(items.len(), 3, "{reply}");
    assert_eq!(items[0]["id"], 7);
    assert_eq!(items[0]["result"]["version"], metachain::VERSION);
    assert_eq!(
        items[1],
        rpc_error(null.clone(), -32600, &format!("{BAD_ID}an object"))
    );
    assert_eq!(
        items[2],
        rpc_error(
            serde_json::json!(8),
            -32600,
            "Invalid request: \"jsonrpc\" must be the string \"2.0\""
        )
    );
    // The cap, and one under it.
    let batch = |n: usize| format!("[{}]", vec![version; n].join(","));
    assert_eq!(
        post_json(&d.http, batch(1001).as_bytes()).await,
        rpc_error(
            null,
            -32004,
            "batch of 1001 requests is over the limit of 1000"
        )
    );
    let reply = post_json(&d.http, batch(1000).as_bytes()).await;
    assert_eq!(reply.as_array().unwrap().len(), 1000);
}

/// Mints on the daemon's tip with `input` and connects the block.
async fn mint_and_connect(c: &MetachainClient, input: MetaMintBlockInput) -> MetaMintBlockResult {
    let m = c.meta_mint_block(input.clone()).await.unwrap();
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    c.meta_connect_block(MetaConnectBlockInput {
        payload: m.payload.clone(),
        context: input.context,
        native_txs_hash: ain_rs::native_txs_hash(&input.txs).to_vec(),
    })
    .await
    .unwrap();
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_txs_are_pooled_mined_and_have_receipts_on_every_transport() {
    use metachain::keys;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &[]);
    let clients = d.clients().await;
    let key = keys::MetaKey::from_secret(&[0x46; 32]).unwrap();
    let from = keys::checksummed(&key.address());
    let mut fund = mint_input(1, 0);
    fund.txs.push(NativeTx {
        kind: TxKind::Deposit as i32,
        from: "bcrt1native".into(),
        to: from.clone(),
        amount: 100_000_000, // 1 coin
        native_txid: native_txid(1, 0),
        ..Default::default()
    });
    mint_and_connect(&clients[0], fund).await;

    let to = keys::parse_address(&address(2)).unwrap();
    let mut hashes = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let raw = keys::sign_transfer(
            &key,
            1132,
            i as u64,
            to,
            keys::parse_wei("1000").unwrap(),
            2_000_000_000,
            1_000_000_000,
            21_000,
        );
        let sent = c
            .meta_send_transaction(MetaSendTransactionInput { raw: raw.clone() })
            .await
            .unwrap();
        assert_eq!(sent.tx_hash, keys::tx_hash(&raw).to_string());
        let e = c
            .meta_send_transaction(MetaSendTransactionInput { raw })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyExists, "{e:?}");
        hashes.push(sent.tx_hash);
    }
    // another chain's tx is refused with a clear message
    let foreign = keys::sign_transfer(
        &key,
        1,
        3,
        to,
        keys::parse_wei("1").unwrap(),
        2_000_000_000,
        1_000_000_000,
        21_000,
    );
    let e = clients[1]
        .meta_send_transaction(MetaSendTransactionInput { raw: foreign })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e.message.contains("wrong chain id: got 1"), "{e:?}");

    let status = clients[2]
        .meta_get_status(MetaGetStatusInput {})
        .await
        .unwrap();
    assert_eq!(status.mempool_size, 3);
    let b = clients[0]
        .meta_get_balance(MetaGetBalanceInput {
            address: from.to_lowercase(),
        })
        .await
        .unwrap();
    assert_eq!(
        (b.address.as_str(), b.nonce, b.pending_nonce),
        (&*from, 0, 3)
    );

    let mut block2 = mint_input(2, 0);
    block2.beneficiary = address(9);
    let m = mint_and_connect(&clients[1], block2).await;
    for c in &clients {
        for (i, h) in hashes.iter().enumerate() {
            let r = c
                .meta_get_receipt(MetaGetReceiptInput { tx_hash: h.clone() })
                .await
                .unwrap();
            assert_eq!(r.block_hash.trim_start_matches("0x"), m.block_hash);
            assert_eq!((r.block_number, r.index), (2, i as u64));
            assert_eq!((r.tx_type, r.success, r.gas_used), (2, true, 21_000));
            assert_eq!(r.cumulative_gas_used, 21_000 * (i as u64 + 1));
            // base fee 1 gwei + tip 1 gwei
            assert_eq!(r.effective_gas_price, 2_000_000_000);
            assert_eq!((r.from.as_str(), r.to.as_str()), (&*from, &*address(2)));
        }
        let tip = c.meta_get_tip(MetaGetTipInput {}).await.unwrap();
        assert_eq!(tip.gas_used, 63_000);
        assert_eq!(tip.burned_wei, (63_000u64 * 1_000_000_000).to_string());
        let coinbase = c
            .meta_get_balance(MetaGetBalanceInput {
                address: address(9),
            })
            .await
            .unwrap();
        assert_eq!(
            coinbase.balance_wei,
            (63_000u64 * 1_000_000_000).to_string()
        );
        // the supply lost exactly what was burned
        assert_eq!(
            tip.supply_wei,
            (1_000_000_000_000_000_000u64 - 63_000 * 1_000_000_000).to_string()
        );
        let e = c
            .meta_get_receipt(MetaGetReceiptInput {
                tx_hash: format!("0x{}", "ab".repeat(32)),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        let code = c
            .meta_get_code(MetaGetCodeInput {
                address: address(2),
            })
            .await
            .unwrap();
        assert_eq!(code.code, "0x");
        let word = c
            .meta_get_storage_at(MetaGetStorageAtInput {
                address: address(2),
                slot: "0x0".into(),
            })
            .await
            .unwrap();
        assert_eq!(word.value, format!("0x{}", "0".repeat(64)));
    }
    assert_eq!(
        clients[0]
            .meta_get_status(MetaGetStatusInput {})
            .await
            .unwrap()
            .mempool_size,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_flag_fixes_the_network_of_a_datadir() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--chain", "main"]);
    let c = d.client(&d.http, None).await;
    let tip = c.meta_get_tip(MetaGetTipInput {}).await.unwrap();
    assert_eq!((tip.number, tip.chain_id), (0, 1130));
    drop(c);
    assert!(d.stop().success());

    let ports = ["--grpc-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0"];
    // the default is regtest: the main datadir is refused
    let err = failed_start(dir.path(), &ports);
    assert!(
        err.starts_with("Error: cannot open metachain database")
            && err.contains("chain id 1130, not 1132"),
        "{err}"
    );
    let err = failed_start(dir.path(), &[&ports[..], &["--chain", "testnet"]].concat());
    assert!(err.contains("chain id 1130, not 1131"), "{err}");
    let err = failed_start(&dir.path().join("new"), &["--chain", "mainnet"]);
    assert!(
        err.starts_with("Error: --chain: unknown network \"mainnet\""),
        "{err}"
    );

    let d = Daemon::start(dir.path(), &["--chain", "main"]);
    let c = d.client(&d.grpc, None).await;
    assert_eq!(
        c.meta_get_tip(MetaGetTipInput {}).await.unwrap().chain_id,
        1130
    );
}
