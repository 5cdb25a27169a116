//! Serving a metachain over the network: gRPC (tonic) and JSON-RPC over HTTP
//! (jsonrpsee), both from the generated adapters, on loopback by default.

use ain_rs::MetachainService;
use anyhow::{Context, Result};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where each transport listens; `None` disables it. Port 0 picks a free port.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub grpc_addr: Option<SocketAddr>,
    pub rpc_addr: Option<SocketAddr>,
}

/// Servers that are up, with the addresses they actually bound.
pub struct Running {
    pub grpc_addr: Option<SocketAddr>,
    pub rpc_addr: Option<SocketAddr>,
    grpc: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<()>>,
    )>,
    rpc: Option<jsonrpsee::server::ServerHandle>,
}

/// Binds and starts the servers for `svc`.
pub async fn start(svc: Arc<dyn MetachainService>, cfg: &ServeConfig) -> Result<Running> {
    let mut running = Running {
        grpc_addr: None,
        rpc_addr: None,
        grpc: None,
        rpc: None,
    };
    if let Some(addr) = cfg.grpc_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind gRPC address {addr}"))?;
        running.grpc_addr = Some(listener.local_addr()?);
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(ain_rs::metachain_grpc_server(svc.clone()));
        let task = tokio::spawn(async move {
            server
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await
                .context("gRPC server failed")
        });
        running.grpc = Some((stop_tx, task));
    }
    if let Some(addr) = cfg.rpc_addr {
        let server = jsonrpsee::server::Server::builder()
            .build(addr)
            .await
            .with_context(|| format!("cannot bind JSON-RPC address {addr}"))?;
        running.rpc_addr = Some(server.local_addr()?);
        let module = ain_rs::metachain_rpc_module(svc.clone())?;
        running.rpc = Some(server.start(module));
    }
    Ok(running)
}

impl Running {
    /// Stops accepting, lets in-flight calls finish, and waits for both servers.
    pub async fn stop(self) -> Result<()> {
        if let Some(handle) = self.rpc {
            let _ = handle.stop();
            handle.stopped().await;
        }
        if let Some((stop, task)) = self.grpc {
            let _ = stop.send(());
            task.await.context("gRPC server task")??;
        }
        Ok(())
    }
}

/// Runs the servers until `shutdown` resolves.
pub async fn serve(
    svc: Arc<dyn MetachainService>,
    cfg: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let running = start(svc, cfg).await?;
    shutdown.await;
    running.stop().await
}
