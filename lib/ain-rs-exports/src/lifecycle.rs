//! Process-wide state behind the bridges: the tokio runtime and the engine.
//! Both are created on init and dropped at shutdown.

use crate::{guard, FfiError};
use ain_rs::MetachainService;
use lazy_static::lazy_static;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

lazy_static! {
    static ref RUNTIME: Mutex<Option<Arc<tokio::runtime::Runtime>>> = Mutex::new(None);
    static ref ENGINE: RwLock<Option<Arc<dyn MetachainService>>> = RwLock::new(None);
    /// The servers `-meta=--grpc-addr=.. --rpc-addr=..` started, if any.
    static ref SERVERS: Mutex<Option<metachaind::Running>> = Mutex::new(None);
}

const META_ARGS_HELP: &str =
    "supported: --datadir=<dir> --chain=<main|testnet|regtest> --grpc-addr=<ip:port> --rpc-addr=<ip:port> --auth-secret=<file>";

/// The runtime of the in-process servers (`-meta=--grpc-addr=..`), created on
/// first use. Network clients each have their own [`crate::call_runtime::CallRuntime`].
fn runtime() -> Result<Arc<tokio::runtime::Runtime>, FfiError> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = slot.as_ref() {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ain-rt")
        .enable_all()
        .build()
        .map_err(|e| FfiError(format!("cannot start the async runtime: {e}")))?;
    let rt = Arc::new(rt);
    *slot = Some(rt.clone());
    Ok(rt)
}

/// The engine registered by [`ain_init`].
pub fn engine() -> Result<Arc<dyn MetachainService>, FfiError> {
    ENGINE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| FfiError("metachain is not initialized (ain_init was not called)".into()))
}

pub fn ain_version() -> String {
    metachain::VERSION.to_string()
}

pub fn ain_init(datadir: &str, args: &str) -> Result<(), FfiError> {
    guard("ain_init", || {
        let mut dir = Path::new(datadir).to_path_buf();
        let (mut grpc_addr, mut rpc_addr, mut secret_path) = (None, None, None);
        let mut chain = metachain::chain::params("regtest").map_err(FfiError)?;
        let addr = |arg: &str, v: &str| {
            v.parse::<std::net::SocketAddr>()
                .map_err(|e| FfiError(format!("-meta argument {arg:?}: {e}")))
        };
        for arg in args.split_whitespace() {
            match arg.split_once('=') {
                Some(("--datadir", value)) => dir = value.into(),
                Some(("--chain", value)) => {
                    chain = metachain::chain::params(value)
                        .map_err(|e| FfiError(format!("-meta argument {arg:?}: {e}")))?
                }
                Some(("--grpc-addr", value)) => grpc_addr = Some(addr(arg, value)?),
                Some(("--rpc-addr", value)) => rpc_addr = Some(addr(arg, value)?),
                Some(("--auth-secret", value)) => {
                    secret_path = Some(std::path::PathBuf::from(value))
                }
                _ => {
                    return Err(FfiError(format!(
                        "unknown -meta argument {arg:?} ({META_ARGS_HELP})"
                    )))
                }
            }
        }
        if dir.as_os_str().is_empty() {
            return Err(FfiError("ain_init: empty metachain datadir".into()));
        }
        let mut slot = ENGINE.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Err(FfiError("metachain is already initialized".into()));
        }
        let engine = Arc::new(
            metachain::Engine::open_with(
                &dir,
                metachain::EngineOptions {
                    chain,
                    ..Default::default()
                },
            )
            .map_err(|e| FfiError(e.to_string()))?,
        );
        if grpc_addr.is_some() || rpc_addr.is_some() {
            // Serve the same engine to meta wallets, as metachaind does.
            let secret_path = secret_path.unwrap_or_else(|| dir.join("jwt.hex"));
            let secret = metachaind::load_or_create_secret(&secret_path)?;
            let cfg = metachaind::ServeConfig {
                grpc_addr,
                rpc_addr,
                options: ain_rs::ServerOptions {
                    auth: Some(secret),
                    ..Default::default()
                },
                max_connections: metachaind::DEFAULT_MAX_CONNECTIONS,
                filter_timeout: metachaind::eth_pubsub::DEFAULT_FILTER_TIMEOUT,
            };
            let running = runtime()?.block_on(metachaind::start(engine.clone(), &cfg))?;
            *SERVERS.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
        }
        *slot = Some(engine as Arc<dyn MetachainService>);
        Ok(())
    })
}

pub fn ain_shutdown() {
    let _ = guard("ain_shutdown", || {
        let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner()).take();
        let rt = RUNTIME.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let (Some(servers), Some(rt)) = (servers, rt.as_ref()) {
            let _ = rt.block_on(servers.stop());
        }
        ENGINE.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(rt) = rt.and_then(|rt| Arc::try_unwrap(rt).ok()) {
            rt.shutdown_background();
        }
        Ok(())
    });
}

pub fn ain_server_urls() -> String {
    let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(running) = servers.as_ref() else {
        return String::new();
    };
    let mut urls = Vec::new();
    if let Some(a) = running.grpc_addr {
        urls.push(format!("grpc://{a}"));
    }
    if let Some(a) = running.rpc_addr {
        urls.push(format!("http://{a}"));
    }
    urls.join(" ")
}

pub fn ain_is_initialized() -> bool {
    ENGINE.read().map(|e| e.is_some()).unwrap_or(false)
}

pub fn ain_debug_panic(message: &str) -> Result<(), FfiError> {
    guard("ain_debug_panic", || panic!("{message}"))
}
