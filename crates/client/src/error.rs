//! The client's error type.

use switchboard_model::AppError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status. Webitel's `AppError` JSON is parsed as is; a
    /// `google.rpc.Status` body (`{code, message}`) becomes an `AppError` whose `id` is
    /// `rpc.<grpc code name>` and whose `detail` is the message; any other body is kept as the
    /// detail.
    #[error("{0}")]
    Api(AppError),
    /// The request did not complete: connection, TLS, timeout.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A 2xx reply whose body is not what the endpoint should answer.
    #[error("cannot decode {what}: {source}{}", if body.is_empty() { String::new() } else { format!("; body: {body}") })]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
        body: String,
    },
    /// The API base URL is not an http(s) URL.
    #[error("invalid API base URL {0}")]
    InvalidUrl(String),
}

impl Error {
    /// The server's error, when there is one.
    pub fn app_error(&self) -> Option<&AppError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.code),
            Error::Http(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// True when the request may have reached the server without the client learning the
    /// outcome (connection dropped, timeout, unreadable reply).
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Error::Http(_) | Error::Decode { .. })
    }
}
