//! Serving a metachain over the network: gRPC (tonic, with server reflection)
//! and JSON-RPC over HTTP and WebSocket (jsonrpsee, with `rpc.discover`), both
//! from the generated adapters, on loopback by default; the JSON-RPC port
//! also serves the hand-written Ethereum methods of [`eth`]. `metachaind` and
//! `defid -meta=--rpc-addr=...` both serve through [`start`].

use ain_rs::auth::{AuthLayer, AuthMode, JwtSecret};
use ain_rs::{MetachainService, ServerOptions};
use anyhow::{Context, Result};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

pub mod envelope;
pub mod eth;
pub mod eth_pubsub;
pub mod heap;

/// Default open connections allowed per transport.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 100;

/// Where each transport listens and what it allows.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// gRPC address; `None` disables it. Port 0 picks a free port.
    pub grpc_addr: Option<SocketAddr>,
    /// JSON-RPC (HTTP and WebSocket) address; `None` disables it.
    pub rpc_addr: Option<SocketAddr>,
    /// Auth, per-call timeout and message-size limit.
    pub options: ServerOptions,
    /// Open connections allowed per transport.
    pub max_connections: u32,
    /// How long an `eth_newFilter` & co. filter lives unpolled.
    pub filter_timeout: std::time::Duration,
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
    /// How long [`Running::stop`] waits for connections to close.
    drain: Duration,
}

/// Time a stopping server gives connections beyond the per-call timeout, by
/// which every in-flight call has ended.
const DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// Reads the secret at `path`, or creates one there (mode 0600) if it is absent.
pub fn load_or_create_secret(path: &Path) -> Result<JwtSecret> {
    if path.exists() {
        return JwtSecret::from_file(path).map_err(anyhow::Error::msg);
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secret = JwtSecret::from_bytes(rand::random());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating auth secret {}", path.display()))?;
    writeln!(file, "{}", secret.to_hex()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new auth secret");
    Ok(secret)
}

/// A TCP connection holding one of the transport's connection slots.
struct LimitedConn {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    // Without these h2 copies every outgoing frame into one buffer.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for LimitedConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Accepts connections while slots are free; beyond the limit a connection is
/// closed at once and the refusal logged.
fn limited_incoming(
    listener: tokio::net::TcpListener,
    max: u32,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<LimitedConn>> {
    let slots = Arc::new(tokio::sync::Semaphore::new(max as usize));
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = listener.accept().await;
            let conn = match accepted {
                Ok((io, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let _ = io.set_nodelay(true);
                        Ok(LimitedConn { io, _slot: slot })
                    }
                    Err(_) => {
                        tracing::warn!(%peer, max, "gRPC connection refused: connection limit reached");
                        continue;
                    }
                },
                Err(e) => Err(e),
            };
            if tx.send(conn).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Binds and starts the servers for `engine`: the generated `meta_*`
/// service over gRPC and JSON-RPC, and on the same JSON-RPC endpoint the
/// Ethereum methods of [`eth`].
pub async fn start(engine: Arc<metachain::Engine>, cfg: &ServeConfig) -> Result<Running> {
    let svc: Arc<dyn MetachainService> = engine.clone();
    let mut running = Running {
        grpc_addr: None,
        rpc_addr: None,
        grpc: None,
        rpc: None,
        drain: cfg.options.call_timeout + DRAIN_MARGIN,
    };
    if let Some(addr) = cfg.grpc_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind gRPC address {addr}"))?;
        running.grpc_addr = Some(listener.local_addr()?);
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ain_rs::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("gRPC reflection")?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ain_rs::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("gRPC reflection")?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let router = ain_rs::grpc::server_builder()
            .timeout(cfg.options.call_timeout)
            .add_service(ain_rs::metachain_grpc_server(
                svc.clone(),
                cfg.options.clone(),
            ))
            .add_service(reflection)
            .add_service(reflection_alpha);
        let incoming = limited_incoming(listener, cfg.max_connections);
        let task = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await
                .context("gRPC server failed")
        });
        running.grpc = Some((stop_tx, task));
    }
    if let Some(addr) = cfg.rpc_addr {
        let size = u32::try_from(cfg.options.max_message_size).unwrap_or(u32::MAX);
        let config = jsonrpsee::server::ServerConfig::builder()
            .max_request_body_size(size)
            .max_response_body_size(size)
            .max_connections(cfg.max_connections)
            // A backstop: the envelope layer refuses larger batches first.
            .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
                envelope::MAX_BATCH as u32,
            ))
            .set_id_provider(HexIdProvider)
            .build();
        let server = jsonrpsee::server::Server::builder()
            .set_config(config)
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(AuthLayer {
                        secret: cfg.options.auth.clone(),
                        mode: AuthMode::Check,
                    })
                    .map_response(close_after_refused_body)
                    .layer(envelope::EnvelopeLayer { max_body: size }),
            )
            .build(addr)
            .await
            .with_context(|| format!("cannot bind JSON-RPC address {addr}"))?;
        running.rpc_addr = Some(server.local_addr()?);
        let mut module = ain_rs::metachain_rpc_module(svc.clone(), cfg.options.clone())?;
        module
            .merge(eth::module(engine.clone(), cfg.filter_timeout)?)
            .context("registering the eth methods")?;
        running.rpc = Some(server.start(module));
    }
    Ok(running)
}

/// Subscription ids as geth gives them: 16 random bytes as `0x` hex.
#[derive(Debug)]
struct HexIdProvider;

impl jsonrpsee::server::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let id: [u8; 16] = rand::random();
        jsonrpsee::types::SubscriptionId::Str(format!("0x{}", hex::encode(id)).into())
    }
}

/// A refused (oversized) body is never read, so its connection cannot carry
/// another request. Saying so keeps a client from reusing it and failing.
fn close_after_refused_body(
    mut response: jsonrpsee::server::HttpResponse,
) -> jsonrpsee::server::HttpResponse {
    if response.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    response
}

impl Running {
    /// Stops accepting, lets in-flight calls finish, and waits for both
    /// servers. A client that keeps its connection open past the drain
    /// deadline (one that ignores HTTP/2's GOAWAY, say) is cut off: it
    /// cannot hold up a shutdown.
    pub async fn stop(self) -> Result<()> {
        if let Some(handle) = &self.rpc {
            let _ = handle.stop();
        }
        let mut grpc_task = None;
        if let Some((stop, task)) = self.grpc {
            let _ = stop.send(());
            grpc_task = Some(task);
        }
        let abort = grpc_task.as_ref().map(|t| t.abort_handle());
        let drained = async {
            if let Some(handle) = self.rpc {
                handle.stopped().await;
            }
            if let Some(task) = grpc_task {
                task.await.context("gRPC server task")??;
            }
            Ok(())
        };
        match tokio::time::timeout(self.drain, drained).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    drain = ?self.drain,
                    "connections still open at the drain deadline; closing them"
                );
                if let Some(abort) = abort {
                    abort.abort();
                }
                Ok(())
            }
        }
    }
}

/// Runs the servers until `shutdown` resolves.
pub async fn serve(
    engine: Arc<metachain::Engine>,
    cfg: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let running = start(engine, cfg).await?;
    shutdown.await;
    running.stop().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_limited_connection_writes_vectored() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let mut conn = LimitedConn {
            io: client,
            _slot: slots.try_acquire_owned().unwrap(),
        };
        // h2 writes frames vectored only when the IO says it can.
        assert!(conn.is_write_vectored());
        let bufs = [IoSlice::new(b"frame header|"), IoSlice::new(b"frame body")];
        let n = conn.write_vectored(&bufs).await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(&got[..n], &b"frame header|frame body"[..n]);
        assert_eq!(n, 23, "both slices in one write on loopback");
    }
}
