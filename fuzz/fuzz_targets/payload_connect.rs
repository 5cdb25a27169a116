//! Arbitrary bytes as a metachain payload, decoded and connected on top of a
//! small chain: never a panic, and a rejected payload changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{LazyLock, Mutex};

static CHAIN: LazyLock<Mutex<metachain_fuzz::Chain>> =
    LazyLock::new(|| Mutex::new(metachain_fuzz::Chain::new()));

fuzz_target!(|data: &[u8]| {
    let mut chain = CHAIN.lock().unwrap_or_else(|e| e.into_inner());
    metachain_fuzz::payload_connect(&mut chain, data);
});
