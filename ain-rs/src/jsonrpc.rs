//! Support for the generated JSON-RPC module.

use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde_json::Value;

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
