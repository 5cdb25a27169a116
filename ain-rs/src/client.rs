//! The transport under every generated client: gRPC for `grpc://host:port`,
//! JSON-RPC over HTTP for `http://host:port` and over WebSocket for
//! `ws://host:port` (which also carries subscriptions).

use crate::auth::{Auth, AuthLayer, AuthMode, JwtSecret};
use crate::{ErrorCode, RpcError};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::http_client::{HttpBackend, RpcService};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How much later than [`Connection::call`]'s own deadline the transports'
/// timeouts (tonic's, jsonrpsee's, the server's grpc-timeout) fire: ours
/// names the rpc and the limit, so it is the one the caller should hear.
const BACKSTOP_MARGIN: Duration = Duration::from_secs(1);

/// How long after sending a JSON-RPC request its input is freed, if the call
/// is still running.
const FREE_INPUT_AFTER: Duration = Duration::from_millis(1);

/// Largest message a client sends or accepts.
pub const MAX_MESSAGE_SIZE: u32 = 64 * 1024 * 1024;

/// The HTTP JSON-RPC client, adding a fresh token to every request. It has no
/// jsonrpsee request logger: that one re-serializes every request and response
/// even when tracing is off, which costs as much as the call's own JSON.
pub type HttpClient = jsonrpsee::http_client::HttpClient<RpcService<Auth<HttpBackend>>>;

/// The WebSocket JSON-RPC client, without the request logger either.
pub type WsClient =
    jsonrpsee::core::client::Client<jsonrpsee::core::client::async_client::RpcService>;

/// The stream a client gets from a server-streaming rpc.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, RpcError>> + Send>>;

/// An open transport.
#[derive(Clone, Debug)]
pub enum Transport {
    Grpc(tonic::transport::Channel),
    Http(HttpClient),
    Ws(Arc<WsClient>),
}

/// A connection to a server, with a per-call timeout and optional credentials
/// for control rpcs.
#[derive(Clone, Debug)]
pub struct Connection {
    url: String,
    transport: Transport,
    timeout: Duration,
    secret: Option<JwtSecret>,
}

fn unavailable(url: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        ErrorCode::Unavailable,
        format!("cannot connect to {url}: {e}"),
    )
}

impl Connection {
    /// Connects to `url`. gRPC and WebSocket connect eagerly, so an unreachable
    /// server is reported here; HTTP reports it on the first call.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        secret: Option<JwtSecret>,
    ) -> Result<Self, RpcError> {
        let transport = if let Some(authority) = url.strip_prefix("grpc://") {
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
                .map_err(|e| RpcError::invalid(format!("invalid URL {url}: {e}")))?
                .connect_timeout(timeout)
                .timeout(timeout.saturating_add(BACKSTOP_MARGIN))
                .max_frame_size(crate::grpc::MAX_FRAME_SIZE)
                .initial_stream_window_size(crate::grpc::WINDOW_SIZE)
                .initial_connection_window_size(crate::grpc::WINDOW_SIZE);
            let channel = endpoint.connect().await.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
                unavailable(url, cause)
            })?;
            Transport::Grpc(channel)
        } else if url.starts_with("http://") {
            let client = jsonrpsee::http_client::HttpClientBuilder::default()
                .request_timeout(timeout.saturating_add(BACKSTOP_MARGIN))
                .max_request_size(MAX_MESSAGE_SIZE)
                .max_response_size(MAX_MESSAGE_SIZE)
                .set_rpc_middleware(RpcServiceBuilder::new())
                .set_http_middleware(tower::ServiceBuilder::new().layer(AuthLayer {
                    secret: secret.clone(),
                    mode: AuthMode::Add,
                }))
                .build(url)
                .map_err(|e| RpcError::invalid(format!("invalid URL {url}: {e}")))?;
            Transport::Http(client)
        } else if url.starts_with("ws://") {
            let mut headers = http::HeaderMap::new();
            if let Some(s) = &secret {
                // A WebSocket is authenticated once, when it opens.
                let value = http::HeaderValue::from_str(&format!("Bearer {}", s.token()))
                    .map_err(|e| RpcError::internal(e.to_string()))?;
                headers.insert(http::header::AUTHORIZATION, value);
            }
            let client = jsonrpsee::ws_client::WsClientBuilder::default()
                .request_timeout(timeout.saturating_add(BACKSTOP_MARGIN))
                .connection_timeout(timeout)
                .max_request_size(MAX_MESSAGE_SIZE)
                .max_response_size(MAX_MESSAGE_SIZE)
                .set_headers(headers)
                .set_rpc_middleware(RpcServiceBuilder::new())
                .build(url)
                .await
                .map_err(|e| unavailable(url, e))?;
            Transport::Ws(Arc::new(client))
        } else {
            return Err(RpcError::invalid(format!(
                "unsupported URL scheme in {url:?}: expected grpc://, http:// or ws:// followed by host:port"
            )));
        };
        Ok(Self {
            url: url.to_string(),
            transport,
            timeout,
            secret,
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

    fn authorize<T>(&self, request: &mut tonic::Request<T>) -> Result<(), RpcError> {
        if let Some(secret) = &self.secret {
            let value = format!("Bearer {}", secret.token())
                .parse()
                .map_err(|e| RpcError::internal(format!("bad authorization header: {e}")))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(())
    }

    /// Wraps a gRPC input into a request with credentials and the timeout.
    pub fn grpc_request<T>(&self, input: T) -> Result<tonic::Request<T>, RpcError> {
        let mut request = tonic::Request::new(input);
        request.set_timeout(self.timeout.saturating_add(BACKSTOP_MARGIN));
        self.authorize(&mut request)?;
        Ok(request)
    }

    /// Like [`Connection::grpc_request`] without the timeout, for streams.
    pub fn grpc_stream_request<T>(&self, input: T) -> Result<tonic::Request<T>, RpcError> {
        let mut request = tonic::Request::new(input);
        self.authorize(&mut request)?;
        Ok(request)
    }

    /// One JSON-RPC call over HTTP or WebSocket.
    pub async fn jsonrpc_call<I: Serialize, O: DeserializeOwned>(
        &self,
        method: &str,
        input: I,
    ) -> Result<O, RpcError> {
        let params = OneParam::new(&input)?;
        let mut call = std::pin::pin!(async {
            match &self.transport {
                Transport::Http(c) => c.request(method, params).await.map_err(RpcError::from),
                Transport::Ws(c) => c.request(method, params).await.map_err(RpcError::from),
                Transport::Grpc(_) => Err(RpcError::internal("JSON-RPC call on a gRPC connection")),
            }
        });
        // Freeing an input of 10,000 txs takes half a millisecond: do it
        // while the server works, once the request has had time to go out.
        let free_input = async move {
            tokio::time::sleep(FREE_INPUT_AFTER).await;
            drop(input);
        };
        tokio::select! {
            biased;
            out = &mut call => out,
            () = free_input => call.await,
        }
    }

    /// Opens a JSON-RPC subscription; needs a WebSocket.
    pub async fn jsonrpc_subscribe<I: Serialize, O: DeserializeOwned + Send + 'static>(
        &self,
        subscribe: &str,
        unsubscribe: &str,
        input: I,
    ) -> Result<EventStream<O>, RpcError> {
        let Transport::Ws(c) = &self.transport else {
            return Err(RpcError::invalid(format!(
                "{subscribe} needs a ws:// or grpc:// connection, not {}",
                self.url
            )));
        };
        let sub = c
            .subscribe::<O, _>(subscribe, OneParam::new(&input)?, unsubscribe)
            .await
            .map_err(RpcError::from)?;
        Ok(Box::pin(sub.map(|item| {
            item.map_err(|e| RpcError::internal(format!("bad event: {e}")))
        })))
    }
}

/// An rpc's one input message as positional params `[input]`, serialized once
/// (jsonrpsee's `rpc_params!` re-parses its output to validate it).
struct OneParam(Box<serde_json::value::RawValue>);

impl OneParam {
    fn new<I: Serialize>(input: &I) -> Result<Self, RpcError> {
        serde_json::value::to_raw_value(&[input])
            .map(OneParam)
            .map_err(|e| RpcError::invalid(format!("cannot encode params: {e}")))
    }
}

impl jsonrpsee::core::traits::ToRpcParams for OneParam {
    fn to_rpc_params(self) -> Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

/// Adapts a gRPC response stream.
pub fn grpc_events<T: Send + 'static>(stream: tonic::Streaming<T>) -> EventStream<T> {
    Box::pin(stream.map(|item| item.map_err(RpcError::from)))
}
