//! Arbitrary bytes as a JSON-RPC HTTP body, through metachaind's envelope
//! check, compared with serde_json and jsonrpsee.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| metachain_fuzz::jsonrpc_envelope(data));
