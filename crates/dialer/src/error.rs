//! The crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum DialerError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("bad scenario {path}: {source}")]
    Scenario {
        path: String,
        source: serde_json::Error,
    },
}
