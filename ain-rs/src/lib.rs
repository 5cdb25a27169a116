//! libain-rs: everything generated from `protobuf/`, plus the small runtime the
//! generated code stands on.
//!
//! - [`types`]: prost messages, also serde (camelCase JSON, bytes as hex);
//! - [`MetachainService`]: the trait an engine implements, one method per rpc;
//! - [`metachain_grpc_server`] and [`metachain_rpc_module`]: gRPC and
//!   JSON-RPC servers for any implementor;
//! - [`MetachainClient`]: the same rpcs over `grpc://` or `http://`.

pub mod client;
pub mod error;
pub mod grpc;
pub mod jsonrpc;
pub mod serde_hex;

pub use client::{Connection, Transport};
pub use error::{ErrorCode, RpcError};

include!(concat!(env!("OUT_DIR"), "/_packages.rs"));
include!(concat!(env!("OUT_DIR"), "/service.rs"));
