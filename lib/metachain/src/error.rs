//! Engine errors, and how they reach rpc callers.

use ain_rs::{ErrorCode, RpcError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database could not be opened or is not ours.
    #[error("cannot open metachain database {path}: {cause}")]
    Open { path: String, cause: String },
    /// The input breaks a rule; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The input does not fit the current chain; nothing was changed.
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    NotFound(String),
    /// The item is already known.
    #[error("{0}")]
    Duplicate(String),
    /// A capacity limit was reached.
    #[error("{0}")]
    Full(String),
    /// Stored data does not decode.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    #[error("storage: {0}")]
    Storage(#[from] redb::Error),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for EngineError {
            fn from(e: $t) -> Self {
                EngineError::Storage(e.into())
            }
        }
    )*};
}
storage_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<EngineError> for RpcError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) => RpcError::invalid(m),
            EngineError::Precondition(m) => RpcError::precondition(m),
            EngineError::NotFound(m) => RpcError::not_found(m),
            EngineError::Duplicate(m) => RpcError::new(ErrorCode::AlreadyExists, m),
            EngineError::Full(m) => RpcError::new(ErrorCode::ResourceExhausted, m),
            other => RpcError::internal(other.to_string()),
        }
    }
}
