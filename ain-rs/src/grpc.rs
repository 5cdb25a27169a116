//! Support for the generated gRPC adapter.

use crate::{ErrorCode, RpcError};
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};

/// Largest HTTP/2 frame gRPC clients and servers accept. At the 16 KB
/// default a block payload crosses in a hundred frames, each a trip through
/// the HTTP/2 stack on both sides.
pub const MAX_FRAME_SIZE: u32 = 1 << 20;

/// HTTP/2 flow-control window, per stream and per connection, that gRPC
/// clients and servers grant: room for a block payload without waiting for a
/// window update.
pub const WINDOW_SIZE: u32 = 8 << 20;

/// A tonic server builder with [`MAX_FRAME_SIZE`] and [`WINDOW_SIZE`].
pub fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_frame_size(MAX_FRAME_SIZE)
        .initial_stream_window_size(WINDOW_SIZE)
        .initial_connection_window_size(WINDOW_SIZE)
}

/// The stream type of every server-streaming rpc.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

/// Runs a blocking service call off the async workers, under `timeout`. A
/// panic in the call becomes an internal error instead of taking the server down.
pub async fn serve_blocking<T, F>(
    timeout: Duration,
    f: F,
) -> Result<tonic::Response<T>, tonic::Status>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result.map(tonic::Response::new).map_err(Into::into),
        Ok(Err(e)) => Err(tonic::Status::internal(format!("handler failed: {e}"))),
        Err(_) => Err(RpcError::new(
            ErrorCode::DeadlineExceeded,
            format!("call exceeded the server's {timeout:?} limit"),
        )
        .into()),
    }
}

/// Runs a cheap (`[inline]`) service call on the async worker; a panic in the
/// call becomes an internal error.
pub fn serve_inline<T>(
    f: impl FnOnce() -> Result<T, RpcError>,
) -> Result<tonic::Response<T>, tonic::Status> {
    crate::server::call_inline(f)
        .map(tonic::Response::new)
        .map_err(Into::into)
}

/// Turns a subscription into a gRPC stream. A subscriber too slow to keep up
/// gets an error and the stream ends; dropping the stream unsubscribes.
pub fn event_stream<T: Clone + Send + 'static>(events: crate::Subscription<T>) -> EventStream<T> {
    let stream = tokio_stream::wrappers::BroadcastStream::new(events).map(|item| {
        item.map_err(|e| tonic::Status::data_loss(format!("subscriber fell behind: {e}")))
    });
    Box::pin(stream)
}
