//! Generates this crate's code from `protobuf/`; nothing generated is committed.
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    ain_codegen::generate_ain_rs(&manifest.join("../protobuf"), &out)
}
