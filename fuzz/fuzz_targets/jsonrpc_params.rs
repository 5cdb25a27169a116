//! Arbitrary bytes as the params of every JSON-RPC method, parsed into each
//! input message and, when they parse, served read-only by an engine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{LazyLock, Mutex};

static CHAIN: LazyLock<Mutex<metachain_fuzz::Chain>> =
    LazyLock::new(|| Mutex::new(metachain_fuzz::Chain::new()));

fuzz_target!(|data: &[u8]| {
    let mut chain = CHAIN.lock().unwrap_or_else(|e| e.into_inner());
    metachain_fuzz::jsonrpc_params(&mut chain, data);
});
