//! The crate's error type.

use thiserror::Error;

/// Why a message (or one of its header values) failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("message incomplete")]
    Incomplete,
    #[error("message too large")]
    TooLarge,
    #[error("header section is not UTF-8")]
    InvalidUtf8,
    #[error("malformed start line")]
    InvalidStartLine,
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    #[error("malformed method")]
    InvalidMethod,
    #[error("malformed status code")]
    InvalidStatus,
    #[error("malformed URI")]
    InvalidUri,
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
    #[error("malformed host")]
    InvalidHost,
    #[error("malformed port")]
    InvalidPort,
    #[error("malformed header line")]
    InvalidHeaderLine,
    #[error("malformed parameter")]
    InvalidParam,
    #[error("malformed {0} header")]
    InvalidHeader(&'static str),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("CSeq method does not match request method")]
    CSeqMethodMismatch,
    #[error("Content-Length does not match body")]
    ContentLength,
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
}
