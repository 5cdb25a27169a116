//! metachaind: a standalone metachain daemon serving the spec over gRPC and
//! JSON-RPC (HTTP and WebSocket). It is what `defid -meta_rpc <url>` talks to.

use ain_rs::ServerOptions;
use anyhow::{Context, Result};
use clap::Parser;
use metachaind::ServeConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Every setting is a flag and a key of the same name in `metachaind.toml`;
/// a flag wins over the file, the file over the default.
#[derive(Parser, Deserialize, Debug, Default)]
#[command(name = "metachaind", version, about = "Standalone metachain daemon")]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Settings {
    /// Config file [default: <datadir>/metachaind.toml when it exists]
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Data directory [default: ~/.metachain]
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:50051]
    #[arg(long)]
    grpc_addr: Option<SocketAddr>,
    /// JSON-RPC listen address, HTTP and WebSocket [default: 127.0.0.1:8545]
    #[arg(long)]
    rpc_addr: Option<SocketAddr>,
    /// Hex file holding the 32-byte JWT secret for control rpcs
    /// [default: <datadir>/jwt.hex, generated with mode 0600 when absent]
    #[arg(long)]
    auth_secret: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace [default: info]
    #[arg(long)]
    log_level: Option<String>,
    /// Largest request or response in bytes [default: 67108864]
    #[arg(long)]
    max_request_size: Option<usize>,
    /// Open connections allowed per transport [default: 100]
    #[arg(long)]
    max_connections: Option<u32>,
    /// Longest a call may run, in seconds [default: 30]
    #[arg(long)]
    call_timeout_secs: Option<u64>,
    /// Seconds an unpolled eth filter lives [default: 300]
    #[arg(long)]
    rpc_filter_timeout_secs: Option<u64>,
    /// Txpool capacity in transactions [default: 10000]
    #[arg(long)]
    mempool_limit: Option<usize>,
    /// Network: main, testnet or regtest; fixed when the datadir is created [default: regtest]
    #[arg(long)]
    chain: Option<String>,
}

impl Settings {
    /// Fills every unset field from `file`.
    fn or(self, file: Settings) -> Settings {
        Settings {
            config: self.config,
            datadir: self.datadir.or(file.datadir),
            grpc_addr: self.grpc_addr.or(file.grpc_addr),
            rpc_addr: self.rpc_addr.or(file.rpc_addr),
            auth_secret: self.auth_secret.or(file.auth_secret),
            log_level: self.log_level.or(file.log_level),
            max_request_size: self.max_request_size.or(file.max_request_size),
            max_connections: self.max_connections.or(file.max_connections),
            call_timeout_secs: self.call_timeout_secs.or(file.call_timeout_secs),
            rpc_filter_timeout_secs: self
                .rpc_filter_timeout_secs
                .or(file.rpc_filter_timeout_secs),
            mempool_limit: self.mempool_limit.or(file.mempool_limit),
            chain: self.chain.or(file.chain),
        }
    }
}

fn default_datadir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".metachain")
}

fn load_settings() -> Result<Settings> {
    let cli = Settings::parse();
    let datadir = cli.datadir.clone().unwrap_or_else(default_datadir);
    let path = cli.config.clone().or_else(|| {
        let p = datadir.join("metachaind.toml");
        p.exists().then_some(p)
    });
    let file = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("invalid config {}", p.display()))?
        }
        None => Settings::default(),
    };
    Ok(cli.or(file))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Fatal errors are one line with their causes, as bitcoind and geth print
/// them: anyhow's `Debug` adds a backtrace whenever RUST_BACKTRACE is set.
fn main() -> std::process::ExitCode {
    let result = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(run()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let s = load_settings()?;
    let log_level = s.log_level.clone().unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&log_level)
                .with_context(|| format!("invalid log level {log_level:?}"))?,
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if !metachaind::heap::keep_freed_buffers() {
        tracing::warn!(
            "cannot tune the C allocator: payload buffers will be mapped afresh on every call"
        );
    }

    let datadir = s.datadir.clone().unwrap_or_else(default_datadir);
    let secret_path = s
        .auth_secret
        .clone()
        .unwrap_or_else(|| datadir.join("jwt.hex"));
    let secret = metachaind::load_or_create_secret(&secret_path)?;
    let chain = metachain::chain::params(s.chain.as_deref().unwrap_or("regtest"))
        .map_err(|e| anyhow::anyhow!("--chain: {e}"))?;
    let engine = metachain::Engine::open_with(
        &datadir,
        metachain::EngineOptions {
            mempool_limit: s
                .mempool_limit
                .unwrap_or(metachain::txpool::DEFAULT_POOL_LIMIT),
            chain,
        },
    )?;
    let tip = engine.tip();
    tracing::info!(
        datadir = %datadir.display(),
        height = tip.number,
        hash = %hex::encode(&tip.hash),
        "metachain opened"
    );
    let defaults = ServerOptions::default();
    let cfg = ServeConfig {
        grpc_addr: Some(
            s.grpc_addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 50051))),
        ),
        rpc_addr: Some(
            s.rpc_addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8545))),
        ),
        options: ServerOptions {
            auth: Some(secret),
            call_timeout: s
                .call_timeout_secs
                .map_or(defaults.call_timeout, Duration::from_secs),
            max_message_size: s.max_request_size.unwrap_or(defaults.max_message_size),
        },
        max_connections: s
            .max_connections
            .unwrap_or(metachaind::DEFAULT_MAX_CONNECTIONS),
        filter_timeout: s.rpc_filter_timeout_secs.map_or(
            metachaind::eth_pubsub::DEFAULT_FILTER_TIMEOUT,
            Duration::from_secs,
        ),
    };
    let engine = Arc::new(engine);
    let running = metachaind::start(engine.clone(), &cfg).await?;
    if let (Some(g), Some(r)) = (running.grpc_addr, running.rpc_addr) {
        tracing::info!(grpc = %g, jsonrpc = %r, secret = %secret_path.display(), "metachaind listening");
        // One machine-readable line for scripts that start us on port 0.
        println!("listening grpc://{g} http://{r} ws://{r}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down: refusing new calls, finishing in-flight ones");
    running.stop().await?;
    drop(engine);
    tracing::info!("stopped");
    Ok(())
}
