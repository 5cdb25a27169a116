//! The metachain engine. It has no consensus of its own: each block rides in a
//! native block as an opaque payload. No FFI and no sockets live here; the
//! engine implements [`ain_rs::MetachainService`] and callers bring transport.

pub mod address;
pub mod engine;
pub mod error;
pub mod hashing;
pub mod mempool;
pub mod state;
pub mod store;
pub mod tx;

pub use engine::{Engine, EngineOptions};
pub use error::EngineError;

/// Version of the engine, reported over every transport.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
