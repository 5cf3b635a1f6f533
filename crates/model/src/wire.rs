//! Encoding helpers shared by every wire type.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Accepts a JSON string or number and yields its text. Webitel emits int64 as strings but its
/// gateway also takes numbers on input (the integration guide sends `"roles":[{"id":4}]`).
pub fn flex_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(match Option::<Flex>::deserialize(d)? {
        None => None,
        Some(Flex::S(s)) => Some(s),
        Some(Flex::I(i)) => Some(i.to_string()),
        Some(Flex::U(u)) => Some(u.to_string()),
        Some(Flex::F(f)) => Some(f.to_string()),
        Some(Flex::B(b)) => Some(b.to_string()),
    })
}

/// Formats an int64 for the wire: a string, as Webitel's REST gateway does.
pub fn id_str(v: i64) -> String {
    v.to_string()
}

/// `{id, name}` reference to another object (Webitel's `ObjectId`, `UserId`, `Lookup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObjectId {
    #[serde(
        default,
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The engine-side name of the same shape.
pub type Lookup = ObjectId;

impl ObjectId {
    pub fn new(id: i64, name: impl Into<String>) -> Self {
        Self {
            id: Some(id_str(id)),
            name: Some(name.into()),
        }
    }

    pub fn id_only(id: i64) -> Self {
        Self {
            id: Some(id_str(id)),
            name: None,
        }
    }

    /// The numeric id, when present and well formed.
    pub fn int_id(&self) -> Option<i64> {
        self.id.as_deref().and_then(|s| s.trim().parse().ok())
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.name.is_none()
    }
}
