//! The opaque client behind libain_rpc.h: a generated `MetachainClient` plus
//! the runtime its calls block on, which each call drives itself.

#![allow(non_snake_case)]

use crate::call_runtime::CallRuntime;
use crate::{guard, FfiError};
use ain_rs::auth::JwtSecret;
use ain_rs::client::DEFAULT_TIMEOUT;
use ain_rs::{Connection, MetachainClient};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub struct MetaClient {
    client: MetachainClient,
    runtime: CallRuntime,
}

impl MetaClient {
    pub fn client(&self) -> &MetachainClient {
        &self.client
    }

    /// Runs one call to completion; errors name the server's URL.
    pub fn block_on<T>(
        &self,
        fut: impl Future<Output = Result<T, ain_rs::RpcError>>,
    ) -> Result<T, FfiError> {
        self.runtime
            .block_on(fut)
            .map_err(|e| FfiError::from_rpc(e, Some(self.client.connection().url())))
    }
}

pub fn NewClient(url: &str, secret_path: &str) -> Result<Box<MetaClient>, FfiError> {
    connect("NewClient", url, secret_path, DEFAULT_TIMEOUT)
}

pub fn NewClientWithTimeout(
    url: &str,
    secret_path: &str,
    timeout_ms: u64,
) -> Result<Box<MetaClient>, FfiError> {
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    if !(1..=DAY_MS).contains(&timeout_ms) {
        return Err(FfiError(format!(
            "call timeout {timeout_ms} ms is out of range: 1 ms to one day"
        )));
    }
    connect(
        "NewClientWithTimeout",
        url,
        secret_path,
        Duration::from_millis(timeout_ms),
    )
}

fn connect(
    what: &str,
    url: &str,
    secret_path: &str,
    timeout: Duration,
) -> Result<Box<MetaClient>, FfiError> {
    guard(what, || {
        let secret = if secret_path.is_empty() {
            None
        } else {
            Some(JwtSecret::from_file(Path::new(secret_path)).map_err(FfiError)?)
        };
        let runtime = CallRuntime::new()
            .map_err(|e| FfiError(format!("cannot start the async runtime: {e}")))?;
        let conn = runtime
            .block_on(Connection::connect(url, timeout, secret))
            .map_err(|e| FfiError::from_rpc(e, None))?;
        Ok(Box::new(MetaClient {
            client: MetachainClient::new(conn),
            runtime,
        }))
    })
}

pub fn ClientUrl(client: &MetaClient) -> String {
    client.client.connection().url().to_string()
}
