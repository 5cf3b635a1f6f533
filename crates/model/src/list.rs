//! The list envelope of search endpoints.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// webitel-go lists carry `page` and `size`; engine lists only `items` and `next`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListResponse<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default)]
    pub next: bool,
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}
