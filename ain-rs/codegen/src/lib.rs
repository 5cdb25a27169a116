//! ain-codegen: turns the protobuf spec into every binding the project uses.
//!
//! One `.proto` rpc yields (a) prost+serde messages, (b) a service-trait
//! method, (c) a tonic server adapter and client method, (d) a jsonrpsee
//! registration and client method, (e) cxx shared structs with `From`
//! conversions and (f) the C++-facing `libmc.h` / `libain_rpc.h` functions.
//! Build scripts call [`generate_ain_rs`] and [`generate_bridges`].

pub mod cxx;
pub mod rust;
pub mod spec;

pub use spec::Spec;

use anyhow::Result;
use std::path::Path;

/// Loads the spec and asks cargo to rerun when any of it changes.
pub fn load_for_build(proto_dir: &Path) -> Result<Spec> {
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let spec = Spec::load(proto_dir)?;
    for f in &spec.files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(spec)
}

/// Generates the `ain-rs` crate's code (messages, trait, servers, clients).
pub fn generate_ain_rs(proto_dir: &Path, out_dir: &Path) -> Result<()> {
    let spec = load_for_build(proto_dir)?;
    rust::generate(&spec, out_dir)
}

/// Generates both cxx bridges of the staticlib and their C++ halves.
pub fn generate_bridges(proto_dir: &Path, out_dir: &Path, extras: &cxx::Extras) -> Result<()> {
    let spec = load_for_build(proto_dir)?;
    cxx::generate(&spec, out_dir, extras)
}
