//! Support for the generated gRPC adapter.

use crate::RpcError;

/// Runs a blocking service call off the async workers. A panic in the call
/// becomes an internal error instead of taking the server down.
pub async fn serve_blocking<T, F>(f: F) -> Result<tonic::Response<T>, tonic::Status>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map(tonic::Response::new).map_err(Into::into),
        Err(e) => Err(tonic::Status::internal(format!("handler failed: {e}"))),
    }
}
