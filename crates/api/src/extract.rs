//! Request extractors whose failures speak Webitel's error JSON.

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// A JSON body. Malformed JSON and wrong field types give 400 `api.request.bad_json`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                415,
                "api.request.content_type",
                "expected Content-Type: application/json",
            )),
            Err(e) => Err(ApiError::bad_request("api.request.bad_json", e.body_text())),
        }
    }
}

/// The query string as a multimap: Webitel repeats keys for arrays (`fields=a&fields=b`).
#[derive(Debug, Default, Clone)]
pub struct Params(pub HashMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Params {
    pub fn parse(query: &str) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let key = k.trim_end_matches("[]").to_string();
            // `a,b` inside one value is also an array, as grpc-gateway accepts.
            map.entry(key).or_default().push(v.into_owned());
        }
        Params(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// All values of a repeated key, also splitting comma-separated lists.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .get(key)
            .map(|vs| {
                vs.iter()
                    .flat_map(|v| v.split(','))
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(
                    "api.request.bad_param",
                    format!("query parameter {key}={v:?} is not an integer"),
                )
            }),
        }
    }

    pub fn ints(&self, key: &str) -> Result<Vec<i64>, ApiError> {
        self.all(key)
            .iter()
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(
                        "api.request.bad_param",
                        format!("query parameter {key}={v:?} is not an integer"),
                    )
                })
            })
            .collect()
    }

    pub fn bool(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }

    /// Paging for webitel-go style lists: page from 1, size 16 by default (at most 1000);
    /// `sort` as `field`, `+field`, `-field` or `!field`.
    pub fn page(&self) -> Result<switchboard_store::Page, ApiError> {
        let page = self.int("page")?.unwrap_or(1).max(1);
        let size = match self.int("size")?.unwrap_or(16) {
            s if s <= 0 => 16,
            s => s.min(1000),
        };
        let sort = self.all("sort").into_iter().next().map(|s| {
            if let Some(f) = s.strip_prefix('-').or_else(|| s.strip_prefix('!')) {
                (f.to_string(), true)
            } else {
                (s.trim_start_matches('+').to_string(), false)
            }
        });
        Ok(switchboard_store::Page { page, size, sort })
    }

    /// Output field selection (`fields=id,name`): keeps only the named keys of each object.
    pub fn select_fields(&self, value: serde_json::Value) -> serde_json::Value {
        let fields = self.all("fields");
        if fields.is_empty() {
            return value;
        }
        let keep = |obj: &mut serde_json::Map<String, serde_json::Value>| {
            obj.retain(|k, _| k == "id" || fields.iter().any(|f| f == k));
        };
        match value {
            serde_json::Value::Object(mut o) => {
                if let Some(serde_json::Value::Array(items)) = o.get_mut("items") {
                    for it in items.iter_mut() {
                        if let serde_json::Value::Object(m) = it {
                            keep(m);
                        }
                    }
                } else {
                    keep(&mut o);
                }
                serde_json::Value::Object(o)
            }
            v => v,
        }
    }
}

/// Parses a path id; Webitel ids are int64.
pub fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| {
        ApiError::bad_request(
            format!("app.{what}.valid.id"),
            format!("{what} id {raw:?} is not an integer"),
        )
    })
}

/// A body that may be empty or JSON, parsed by the handler (bulk deletes, token creation).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::bad_request("api.request.body", e.body_text()))
    }
}

impl RawBody {
    /// The JSON body, or `None` when the body is empty.
    pub fn json<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.0)
            .map(Some)
            .map_err(|e| ApiError::bad_request("api.request.bad_json", e.to_string()))
    }
}
