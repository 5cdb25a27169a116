//! What every generated server enforces: auth of control rpcs, a per-call
//! timeout and a message-size limit.

use crate::auth::{AuthStatus, JwtSecret};
use jsonrpsee::types::ErrorObjectOwned;
use std::time::Duration;

/// Options shared by the gRPC and JSON-RPC servers of a service.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Secret for control rpcs; `None` leaves them open (in-process use only).
    pub auth: Option<JwtSecret>,
    /// Longest a call may run before the caller gets DeadlineExceeded.
    pub call_timeout: Duration,
    /// Largest request or response message in bytes.
    pub max_message_size: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            auth: None,
            call_timeout: Duration::from_secs(30),
            max_message_size: 64 * 1024 * 1024,
        }
    }
}

impl ServerOptions {
    /// Checks a control rpc's gRPC `authorization` metadata.
    #[allow(clippy::result_large_err)]
    pub fn check_grpc(
        &self,
        rpc: &str,
        md: &tonic::metadata::MetadataMap,
    ) -> Result<(), tonic::Status> {
        let Some(secret) = &self.auth else {
            return Ok(());
        };
        let header = md.get("authorization").and_then(|v| v.to_str().ok());
        secret
            .verify_header(header)
            .map_err(|e| tonic::Status::unauthenticated(format!("{rpc} is a control rpc: {e}")))
    }

    /// Checks a control rpc's JSON-RPC call, from what [`crate::auth::AuthLayer`] in `Check` mode recorded.
    pub fn check_jsonrpc(&self, rpc: &str, ext: &http::Extensions) -> Result<(), ErrorObjectOwned> {
        if self.auth.is_none() {
            return Ok(());
        }
        let outcome = match ext.get::<AuthStatus>() {
            Some(AuthStatus(r)) => r.clone(),
            None => Err("the server checks no credentials on this transport".into()),
        };
        outcome.map_err(|e| {
            crate::RpcError::new(
                crate::ErrorCode::Unauthenticated,
                format!("{rpc} is a control rpc: {e}"),
            )
            .into()
        })
    }
}

/// Runs a cheap service call where it is (an `[inline]` rpc): no hop to the
/// blocking pool, and no timeout, since it never waits. A panic becomes an
/// internal error, as on the blocking pool.
pub fn call_inline<T>(
    f: impl FnOnce() -> Result<T, crate::RpcError>,
) -> Result<T, crate::RpcError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(crate::RpcError::internal("handler panicked")))
}
