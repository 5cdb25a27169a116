//! Support for the generated JSON-RPC module.

use crate::{ErrorCode, RpcError};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

fn invalid(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, message, None::<()>)
}

/// Reads an rpc's one input message from JSON-RPC params. Accepted: `[input]`,
/// `input` as a by-name object, or no params / `[]` for an all-default input.
/// Parses straight into the message: payloads can be megabytes.
pub fn parse_params<T: DeserializeOwned + Default>(params: Params) -> Result<T, ErrorObjectOwned> {
    let Some(raw) = params.as_str() else {
        return Ok(T::default());
    };
    let bad = |e: serde_json::Error| invalid(format!("invalid params: {e}"));
    match raw.trim_start().as_bytes().first() {
        Some(b'[') => {
            let mut items: Vec<T> = serde_json::from_str(raw).map_err(bad)?;
            match items.len() {
                0 => Ok(T::default()),
                1 => Ok(items.remove(0)),
                n => Err(invalid(format!("expected one object parameter, got {n}"))),
            }
        }
        Some(b'{') => serde_json::from_str(raw).map_err(bad),
        _ => Err(invalid(format!("expected an object parameter, got {raw}"))),
    }
}

/// Parses the params and runs a blocking service call on them, both on the
/// blocking pool, under `timeout`; a panic becomes an internal error.
pub async fn serve_blocking<I, T, F>(
    timeout: Duration,
    params: Params<'static>,
    f: F,
) -> Result<T, ErrorObjectOwned>
where
    I: DeserializeOwned + Default,
    F: FnOnce(I) -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    let call = move || f(parse_params(params)?).map_err(ErrorObjectOwned::from);
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(call)).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(RpcError::internal(format!("handler failed: {e}")).into()),
        Err(_) => Err(RpcError::new(
            ErrorCode::DeadlineExceeded,
            format!("call exceeded the server's {timeout:?} limit"),
        )
        .into()),
    }
}

/// Runs a cheap (`[inline]`) service call on the async worker; a panic in the
/// call becomes an internal error.
pub fn serve_inline<T>(f: impl FnOnce() -> Result<T, RpcError>) -> Result<T, ErrorObjectOwned> {
    crate::server::call_inline(f).map_err(Into::into)
}

/// Accepts a subscription and forwards events until the client leaves or the
/// source closes; a refused subscription gets the error instead.
pub async fn pipe_events<T: Clone + Serialize + Send + 'static>(
    pending: PendingSubscriptionSink,
    events: Result<crate::Subscription<T>, ErrorObjectOwned>,
) -> jsonrpsee::core::SubscriptionResult {
    pipe_mapped(pending, events, |event| vec![event]).await
}

/// [`pipe_events`], each event sent as the zero or more notifications `map`
/// makes of it. A subscriber that falls behind the source is dropped with
/// an error.
pub async fn pipe_mapped<T: Clone + Send + 'static, N: Serialize>(
    pending: PendingSubscriptionSink,
    events: Result<crate::Subscription<T>, ErrorObjectOwned>,
    mut map: impl FnMut(T) -> Vec<N>,
) -> jsonrpsee::core::SubscriptionResult {
    let mut events = match events {
        Ok(rx) => rx,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => match event {
                Ok(event) => {
                    for note in map(event) {
                        let raw = serde_json::value::to_raw_value(&note)?;
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    return Err(format!("subscriber fell behind by {n} events").into());
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// The `rpc.discover` answer.
pub fn discover(document: &str) -> Result<Value, ErrorObjectOwned> {
    serde_json::from_str(document)
        .map_err(|e| RpcError::internal(format!("bad OpenRPC document: {e}")).into())
}
