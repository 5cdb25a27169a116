//! libain: the one Rust staticlib linked into defid. It holds two cxx bridges,
//! both generated from `protobuf/`:
//! - [`libmc`] (`libmc.h`): in-process calls into the metachain engine;
//! - [`libain_rpc`] (`libain_rpc.h`): calls to a metachain server over the network.
//!
//! Every exported function runs inside [`guard`], so a Rust panic reaches C++
//! as a `rust::Error` exception instead of aborting the process.

mod call_runtime;
mod lifecycle;
mod meta_keys;
mod rpc_client;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use lifecycle::engine;

/// The in-process bridge.
// `meta_sign_transfer` takes an EIP-1559 tx's fields one by one, as C++ has them.
#[allow(clippy::too_many_arguments)]
pub mod libmc {
    use crate::lifecycle::{
        ain_debug_panic, ain_init, ain_is_initialized, ain_server_urls, ain_shutdown, ain_version,
    };
    use crate::meta_keys::{
        meta_address_of_key, meta_chain_id, meta_format_wei, meta_parse_address,
        meta_sign_transfer, meta_sign_withdrawal, meta_tx_hash,
    };
    use crate::{ain_bytes, ain_keep_freed_buffers, ain_native_txs_hash};
    include!(concat!(env!("OUT_DIR"), "/libmc.rs"));
}

/// The network bridge.
pub mod libain_rpc {
    use crate::rpc_client::{ClientUrl, MetaClient, NewClient, NewClientWithTimeout};
    include!(concat!(env!("OUT_DIR"), "/libain_rpc.rs"));
}

fn ain_keep_freed_buffers() -> bool {
    metachaind::heap::keep_freed_buffers()
}

fn ain_bytes(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}

fn ain_native_txs_hash(txs: Vec<libmc::ffi::NativeTx>) -> Vec<u8> {
    let txs: Vec<ain_rs::types::NativeTx> = txs.into_iter().map(Into::into).collect();
    ain_rs::native_txs_hash(&txs).to_vec()
}

/// The error every exported function returns; C++ sees its text in
/// `rust::Error::what()`.
#[derive(Debug)]
pub struct FfiError(pub String);

impl fmt::Display for FfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FfiError {
    /// `[code] context: message`: the tag lets C++ tell a rejected request
    /// (`[invalid-argument]`, ...) from a failed metachain (`[unavailable]`, ...).
    pub fn from_rpc(e: ain_rs::RpcError, context: Option<&str>) -> Self {
        use ain_rs::ErrorCode::*;
        let tag = match e.code {
            InvalidArgument => "invalid-argument",
            NotFound => "not-found",
            FailedPrecondition => "failed-precondition",
            AlreadyExists => "already-exists",
            ResourceExhausted => "resource-exhausted",
            Unauthenticated => "unauthenticated",
            Unavailable => "unavailable",
            DeadlineExceeded => "deadline-exceeded",
            Internal => "internal",
        };
        match context {
            Some(c) => FfiError(format!("[{tag}] {c}: {}", e.message)),
            None => FfiError(format!("[{tag}] {}", e.message)),
        }
    }
}

impl From<ain_rs::RpcError> for FfiError {
    fn from(e: ain_rs::RpcError) -> Self {
        FfiError::from_rpc(e, None)
    }
}

impl From<anyhow::Error> for FfiError {
    fn from(e: anyhow::Error) -> Self {
        FfiError(format!("{e:#}"))
    }
}

/// Runs `f`, turning a panic into an error naming the exported function.
pub fn guard<T>(name: &str, f: impl FnOnce() -> Result<T, FfiError>) -> Result<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(FfiError(format!(
                "[internal] {name}: internal error (panic): {what}"
            )))
        }
    }
}
