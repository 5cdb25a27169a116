//! libain-rs: everything generated from `protobuf/`, plus the small runtime the
//! generated code stands on.
//!
//! - [`types`]: prost messages, also serde (camelCase JSON, bytes as hex),
//!   of the package `metachain.types.v1` (also at [`metachain::types::v1`]);
//!   [`rpc`] (`metachain.rpc.v1`) holds the tonic server and client;
//! - [`MetachainService`]: the trait an engine implements, one method per rpc;
//! - [`metachain_grpc_server`] and [`metachain_rpc_module`]: gRPC and
//!   JSON-RPC servers for any implementor, with [`ServerOptions`];
//! - [`MetachainClient`]: the same rpcs over `grpc://`, `http://` or `ws://`.

pub mod auth;
pub mod client;
pub mod commitment;
pub mod error;
pub mod grpc;
pub mod jsonrpc;
pub mod serde_hex;
pub mod server;

pub use client::{Connection, Transport};
pub use commitment::native_txs_hash;
pub use error::{ErrorCode, RpcError};
pub use server::ServerOptions;

/// What a server-streaming rpc returns: a receiver of the events it publishes.
pub type Subscription<T> = tokio::sync::broadcast::Receiver<T>;

/// The encoded `FileDescriptorSet` of the spec, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));

include!(concat!(env!("OUT_DIR"), "/_packages.rs"));
include!(concat!(env!("OUT_DIR"), "/service.rs"));

/// True for a field's default value, which proto3 JSON leaves out.
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
