//! Webitel's error body (the engine's `AppError`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"id":"dotted.machine.id","status":"Forbidden","detail":"…","code":403}`; the HTTP status
/// equals `code` and `status` is its reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppError {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub code: u16,
}

impl AppError {
    pub fn new(code: u16, id: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            status: reason_phrase(code).to_string(),
            detail: detail.into(),
            request_id: None,
            code,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.id, self.code, self.detail)
    }
}

impl std::error::Error for AppError {}

/// HTTP reason phrases for the codes the API uses.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
