//! The one error type of every rpc, and its mapping onto gRPC statuses and
//! JSON-RPC error objects so that both transports report the same error.

use jsonrpsee::types::ErrorObjectOwned;

/// What went wrong, independent of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The input is malformed or breaks a rule (bad address, bad amount, corrupt payload).
    InvalidArgument,
    /// The block, account or tx asked for does not exist.
    NotFound,
    /// The input is well-formed but does not fit the current state (wrong parent).
    FailedPrecondition,
    /// The item is already known (duplicate tx).
    AlreadyExists,
    /// A limit was hit (mempool full, request too large).
    ResourceExhausted,
    /// Missing or bad credentials for a control rpc.
    Unauthenticated,
    /// The server cannot be reached.
    Unavailable,
    /// The call did not finish within its timeout.
    DeadlineExceeded,
    /// A bug or an I/O failure on the server.
    Internal,
}

/// The JSON-RPC error codes, one per [`ErrorCode`].
const JSONRPC_CODES: &[(ErrorCode, i32)] = &[
    (ErrorCode::InvalidArgument, -32602),
    (ErrorCode::NotFound, -32001),
    (ErrorCode::FailedPrecondition, -32002),
    (ErrorCode::AlreadyExists, -32003),
    (ErrorCode::ResourceExhausted, -32004),
    (ErrorCode::Unauthenticated, -32005),
    (ErrorCode::Unavailable, -32006),
    (ErrorCode::DeadlineExceeded, -32007),
    (ErrorCode::Internal, -32603),
];

impl ErrorCode {
    /// The JSON-RPC error code.
    pub fn jsonrpc_code(self) -> i32 {
        JSONRPC_CODES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or(-32603, |(_, n)| *n)
    }

    /// The code for a JSON-RPC error code; unknown codes are internal.
    pub fn from_jsonrpc_code(code: i32) -> Self {
        match code {
            -32700 | -32600 | -32601 => ErrorCode::InvalidArgument,
            _ => JSONRPC_CODES
                .iter()
                .find(|(_, n)| *n == code)
                .map_or(ErrorCode::Internal, |(c, _)| *c),
        }
    }

    fn grpc_code(self) -> tonic::Code {
        match self {
            ErrorCode::InvalidArgument => tonic::Code::InvalidArgument,
            ErrorCode::NotFound => tonic::Code::NotFound,
            ErrorCode::FailedPrecondition => tonic::Code::FailedPrecondition,
            ErrorCode::AlreadyExists => tonic::Code::AlreadyExists,
            ErrorCode::ResourceExhausted => tonic::Code::ResourceExhausted,
            ErrorCode::Unauthenticated => tonic::Code::Unauthenticated,
            ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            ErrorCode::Internal => tonic::Code::Internal,
        }
    }
}

/// An rpc error: a code plus a message for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<RpcError> for tonic::Status {
    fn from(e: RpcError) -> Self {
        tonic::Status::new(e.code.grpc_code(), e.message)
    }
}

impl From<tonic::Status> for RpcError {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code;
        let code = match s.code() {
            Code::InvalidArgument | Code::Unimplemented => ErrorCode::InvalidArgument,
            // tonic reports an over-limit message as OutOfRange.
            Code::ResourceExhausted | Code::OutOfRange => ErrorCode::ResourceExhausted,
            Code::NotFound => ErrorCode::NotFound,
            Code::FailedPrecondition | Code::Aborted => ErrorCode::FailedPrecondition,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::Unauthenticated | Code::PermissionDenied => ErrorCode::Unauthenticated,
            Code::Unavailable => ErrorCode::Unavailable,
            Code::DeadlineExceeded | Code::Cancelled => ErrorCode::DeadlineExceeded,
            _ => ErrorCode::Internal,
        };
        let mut message = s.message().to_string();
        if let Some(source) = std::error::Error::source(&s) {
            message = format!("{message}: {source}");
        }
        RpcError::new(code, message)
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        ErrorObjectOwned::owned(e.code.jsonrpc_code(), e.message, None::<()>)
    }
}

impl From<jsonrpsee::core::client::Error> for RpcError {
    fn from(e: jsonrpsee::core::client::Error) -> Self {
        use jsonrpsee::core::client::Error;
        match e {
            Error::Call(obj) => RpcError::new(
                ErrorCode::from_jsonrpc_code(obj.code()),
                obj.message().to_string(),
            ),
            Error::Transport(t) if t.to_string().contains("413") => RpcError::new(
                ErrorCode::ResourceExhausted,
                "request is larger than the server accepts (HTTP 413 Payload Too Large)",
            ),
            Error::Transport(t) => RpcError::new(ErrorCode::Unavailable, t.to_string()),
            Error::RestartNeeded(e) => RpcError::new(
                ErrorCode::Unavailable,
                format!("the server closed the connection (over a size limit, or stopped): {e}"),
            ),
            Error::RequestTimeout => {
                RpcError::new(ErrorCode::DeadlineExceeded, "request timed out")
            }
            other => RpcError::internal(other.to_string()),
        }
    }
}
