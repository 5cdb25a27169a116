//! The real `metachaind` binary on free loopback ports, driven by the
//! generated clients over gRPC, JSON-RPC over HTTP and WebSocket.

use ain_rs::auth::JwtSecret;
use ain_rs::types::*;
use ain_rs::{Connection, ErrorCode, MetachainClient};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_stream::StreamExt;

struct Daemon {
    child: Child,
    datadir: PathBuf,
    grpc: String,
    http: String,
    ws: String,
}

impl Daemon {
    fn start(datadir: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_metachaind"))
            .arg("--datadir")
            .arg(datadir)
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--rpc-addr",
                "127.0.0.1:0",
                "--log-level",
                "warn",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn metachaind");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let urls: Vec<String> = line.split_whitespace().skip(1).map(String::from).collect();
        assert_eq!(urls.len(), 3, "unexpected first line {line:?}");
        Daemon {
            child,
            datadir: datadir.to_path_buf(),
            grpc: urls[0].clone(),
            http: urls[1].clone(),
            ws: urls[2].clone(),
        }
    }

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

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn address(n: u8) -> String {
    metachain::address::encode(&[n; 20])
}

fn mint_input(height: u64, n: usize) -> MetaMintBlockInput {
    MetaMintBlockInput {
        txs: (0..n)
            .map(|i| NativeTx {
                kind: TxKind::Deposit as i32,
                from: "bcrt1native".into(),
                to: address((i % 7) as u8 + 1),
                amount: 100 + i as i64,
                native_txid: format!("{height}-{i}").into_bytes(),
                ..Default::default()
            })
            .collect(),
        context: Some(NativeContext {
            height,
            time: 1_700_000_000 + height as i64,
        }),
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

    for c in &clients {
        let tip = c.meta_get_tip(MetaGetTipInput {}).await.unwrap();
        assert_eq!((tip.number, tip.total_supply), (1, 303));
        let b = c
            .meta_get_balance(MetaGetBalanceInput {
                address: address(1),
            })
            .await
            .unwrap();
        assert_eq!(b.balance, 100);
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(authority).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
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
