//! The metachain engine: an EVM chain (revm) with no consensus of its own;
//! each block rides in a native block as an opaque payload. No FFI and no
//! sockets live here: the engine implements [`ain_rs::MetachainService`] and
//! callers bring transport. One job per module:
//!
//! - [`chain`]: network parameters (chain id, gas limit, base fee floor);
//! - [`keys`]: 0x addresses, Ethereum keys, EIP-712 withdrawals, signing;
//! - [`system`]: deposits and withdrawals as system txs;
//! - [`txpool`]: decoding, checking and ordering of pending EVM txs;
//! - [`overlay`] and [`executor`]: a block's execution with revm;
//! - [`lthash`]: the state root;
//! - [`store`]: the redb layout;
//! - [`builder`]: mint; [`engine`]: connect, disconnect, queries; [`service`]
//!   serves it;
//! - [`eth`]: what the Ethereum JSON-RPC reads: calls and gas estimates on the
//!   tip (never committed), blocks and txs by number or hash.

pub mod block_id;
pub mod builder;
pub mod chain;
pub mod engine;
pub mod error;
pub mod eth;
pub mod executor;
pub mod keys;
pub mod lthash;
pub mod overlay;
pub mod service;
pub mod store;
pub mod system;
pub mod txpool;

pub use engine::{Engine, EngineOptions};
pub use error::EngineError;

/// Version of the engine, reported over every transport.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
