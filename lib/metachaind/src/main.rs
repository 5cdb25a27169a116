//! metachaind: a standalone metachain daemon serving the spec over gRPC and
//! JSON-RPC. It is what `defid -meta_rpc <url>` talks to.

use anyhow::{Context, Result};
use clap::Parser;
use metachaind::ServeConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "metachaind", version, about = "Standalone metachain daemon")]
struct Cli {
    /// Data directory holding metachain.redb.
    #[arg(long, default_value_os_t = default_datadir())]
    datadir: PathBuf,
    /// gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc_addr: SocketAddr,
    /// JSON-RPC (HTTP) listen address.
    #[arg(long, default_value = "127.0.0.1:8545")]
    rpc_addr: SocketAddr,
    /// Log filter (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn default_datadir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".metachain")
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

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .with_context(|| format!("invalid --log-level {:?}", cli.log_level))?,
        )
        .with_writer(std::io::stderr)
        .init();
    let engine = metachain::Engine::open(&cli.datadir)?;
    let tip = engine.tip();
    tracing::info!(
        datadir = %cli.datadir.display(),
        height = tip.number,
        hash = %hex::encode(&tip.hash),
        "metachain opened"
    );
    let cfg = ServeConfig {
        grpc_addr: Some(cli.grpc_addr),
        rpc_addr: Some(cli.rpc_addr),
    };
    let running = metachaind::start(Arc::new(engine), &cfg).await?;
    if let (Some(g), Some(r)) = (running.grpc_addr, running.rpc_addr) {
        tracing::info!(grpc = %g, jsonrpc = %r, "metachaind listening");
        // One machine-readable line for scripts that start us on port 0.
        println!("listening grpc://{g} http://{r}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await?;
    tracing::info!("stopped");
    Ok(())
}
