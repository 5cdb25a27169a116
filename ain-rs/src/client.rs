//! The transport under every generated client: gRPC for `grpc://host:port`,
//! JSON-RPC over HTTP for `http://host:port`.

use crate::{ErrorCode, RpcError};
use std::future::Future;
use std::time::Duration;

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An open transport.
#[derive(Clone, Debug)]
pub enum Transport {
    Grpc(tonic::transport::Channel),
    JsonRpc(jsonrpsee::http_client::HttpClient),
}

/// A connection to a server, with a per-call timeout.
#[derive(Clone, Debug)]
pub struct Connection {
    url: String,
    transport: Transport,
    timeout: Duration,
}

impl Connection {
    /// Connects to `url`. gRPC connects eagerly, so an unreachable server is
    /// reported here; JSON-RPC over HTTP reports it on the first call.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, RpcError> {
        let transport = if let Some(authority) = url.strip_prefix("grpc://") {
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
                .map_err(|e| RpcError::invalid(format!("invalid URL {url}: {e}")))?
                .connect_timeout(timeout)
                .timeout(timeout);
            let channel = endpoint.connect().await.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
                RpcError::new(
                    ErrorCode::Unavailable,
                    format!("cannot connect to {url}: {cause}"),
                )
            })?;
            Transport::Grpc(channel)
        } else if url.starts_with("http://") {
            let client = jsonrpsee::http_client::HttpClientBuilder::default()
                .request_timeout(timeout)
                .build(url)
                .map_err(|e| RpcError::invalid(format!("invalid URL {url}: {e}")))?;
            Transport::JsonRpc(client)
        } else {
            return Err(RpcError::invalid(format!(
                "unsupported URL scheme in {url:?}: expected grpc://host:port or http://host:port"
            )));
        };
        Ok(Self {
            url: url.to_string(),
            transport,
            timeout,
        })
    }

    /// The URL this connection was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The open transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Runs one call under the timeout.
    pub async fn call<T>(
        &self,
        rpc: &str,
        fut: impl Future<Output = Result<T, RpcError>>,
    ) -> Result<T, RpcError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::new(
                ErrorCode::DeadlineExceeded,
                format!("{rpc} timed out after {:?}", self.timeout),
            )),
        }
    }

    /// Wraps a gRPC input into a request.
    pub fn grpc_request<T>(&self, input: T) -> Result<tonic::Request<T>, RpcError> {
        let mut request = tonic::Request::new(input);
        request.set_timeout(self.timeout);
        Ok(request)
    }
}
