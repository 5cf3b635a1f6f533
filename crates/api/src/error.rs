//! The one place where every failure becomes Webitel's error JSON with the matching HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_model::AppError;
use switchboard_store::StoreError;

/// An API failure: a Webitel `AppError` that renders with HTTP status = `code`.
#[derive(Debug, Clone)]
pub struct ApiError(pub AppError);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: u16, id: impl Into<String>, detail: impl Into<String>) -> Self {
        Self(AppError::new(code, id, detail))
    }

    pub fn bad_request(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(400, id, detail)
    }

    pub fn unauthenticated(id: &str, detail: impl Into<String>) -> Self {
        Self::new(401, id, detail)
    }

    pub fn forbidden(user_id: i64, class: &str, access: &str) -> Self {
        Self::new(
            403,
            "api.context.permissions.app_error",
            format!("userId={user_id}, permission={class} access={access}"),
        )
    }

    pub fn license() -> Self {
        Self::new(
            412,
            "api.context.permissions.license",
            "token scope is forceless: the user holds no active licence",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            404,
            format!("app.{what}.not_found"),
            format!("{what} not found"),
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "app.internal.app_error", detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict { field, value } => ApiError::new(
                409,
                format!("app.{field}.conflict"),
                format!("{field} {value:?} is already in use"),
            ),
            StoreError::Invalid(detail) => ApiError::bad_request("app.request.invalid", detail),
            StoreError::InUse { what, detail } => {
                ApiError::new(409, format!("app.{what}.in_use"), detail)
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal("storage failure; see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}
