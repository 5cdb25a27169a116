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
pub fn parse_params<T: DeserializeOwned>(params: Params) -> Result<T, ErrorObjectOwned> {
    let value: Value = match params.as_str() {
        None => Value::Null,
        Some(raw) => serde_json::from_str(raw).map_err(|e| invalid(format!("bad params: {e}")))?,
    };
    let input = match value {
        Value::Null => Value::Object(Default::default()),
        Value::Array(mut items) if items.len() <= 1 => {
            items.pop().unwrap_or(Value::Object(Default::default()))
        }
        Value::Array(items) => {
            return Err(invalid(format!(
                "expected one object parameter, got {}",
                items.len()
            )))
        }
        object @ Value::Object(_) => object,
        other => {
            return Err(invalid(format!(
                "expected an object parameter, got {other}"
            )))
        }
    };
    serde_json::from_value(input).map_err(|e| invalid(format!("invalid params: {e}")))
}

/// Runs a blocking service call on the blocking pool under `timeout`; a panic
/// becomes an internal error.
pub async fn serve_blocking<T, F>(timeout: Duration, f: F) -> Result<T, ErrorObjectOwned>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result.map_err(Into::into),
        Ok(Err(e)) => Err(RpcError::internal(format!("handler failed: {e}")).into()),
        Err(_) => Err(RpcError::new(
            ErrorCode::DeadlineExceeded,
            format!("call exceeded the server's {timeout:?} limit"),
        )
        .into()),
    }
}

/// Accepts a subscription and forwards events until the client leaves or the
/// source closes; a refused subscription gets the error instead.
pub async fn pipe_events<T: Clone + Serialize + Send + 'static>(
    pending: PendingSubscriptionSink,
    events: Result<crate::Subscription<T>, ErrorObjectOwned>,
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
                    let raw = serde_json::value::to_raw_value(&event)?;
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        return Ok(());
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
