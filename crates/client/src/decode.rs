//! Tolerant decoding of replies. Webitel answers single objects sometimes flat and sometimes in
//! an envelope named after the object (`{"device": …}`, `{"user": …}`, `{"created": …}`), lists
//! as `{page, size, next, items}` with empty fields omitted, and errors as either its `AppError`
//! JSON or a `google.rpc.Status`.

use crate::Error;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use switchboard_model::error::reason_phrase;
use switchboard_model::{AppError, ListResponse};

const BODY_EXCERPT: usize = 512;

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= BODY_EXCERPT {
        return text.to_string();
    }
    let mut end = BODY_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn parse(body: &[u8], what: &'static str) -> Result<Value, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        what,
        source: e,
        body: excerpt(body),
    })
}

fn from_value<T: DeserializeOwned>(v: Value, what: &'static str) -> Result<T, Error> {
    let text = v.to_string();
    serde_json::from_value(v).map_err(|e| Error::Decode {
        what,
        source: e,
        body: excerpt(text.as_bytes()),
    })
}

/// The object inside an envelope: if `v` is an object without its own `id` holding one of
/// `wrappers` as an object, that inner object; otherwise `v`.
fn unwrap_envelope(v: Value, wrappers: &[&str]) -> Value {
    if let Value::Object(map) = &v {
        if !map.contains_key("id") {
            for w in wrappers {
                if let Some(inner @ Value::Object(_)) = map.get(*w) {
                    return inner.clone();
                }
            }
        }
    }
    v
}

/// Decodes one object that may come flat or wrapped in one of `wrappers`.
pub fn decode_one<T: DeserializeOwned>(body: &[u8], wrappers: &[&str]) -> Result<T, Error> {
    let v = parse(body, "reply")?;
    from_value(unwrap_envelope(v, wrappers), "reply object")
}

/// Decodes a list envelope; a bare JSON array and an empty body (`{}`) are accepted too.
pub fn decode_list<T: DeserializeOwned>(body: &[u8]) -> Result<ListResponse<T>, Error> {
    match parse(body, "list")? {
        Value::Array(items) => Ok(ListResponse {
            page: None,
            size: None,
            next: false,
            items: from_value(Value::Array(items), "list items")?,
        }),
        v => from_value(v, "list"),
    }
}

/// Decodes a delete reply: `{"deleted": [...]}`, `{"deleted": {...}}`, a bare array or object,
/// or nothing at all (`{}` / empty body) as an empty list.
pub(crate) fn decode_deleted<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, Error> {
    let v = parse(body, "delete reply")?;
    let inner = match v {
        Value::Object(mut map) if map.contains_key("deleted") => {
            map.remove("deleted").unwrap_or(Value::Null)
        }
        Value::Object(map) if map.is_empty() => return Ok(Vec::new()),
        other => other,
    };
    match inner {
        Value::Array(items) => from_value(Value::Array(items), "deleted items"),
        Value::Null => Ok(Vec::new()),
        obj => Ok(vec![from_value(obj, "deleted item")?]),
    }
}

/// The gRPC status name of a `google.rpc.Status` code.
fn grpc_name(code: i64) -> &'static str {
    match code {
        0 => "ok",
        1 => "cancelled",
        2 => "unknown",
        3 => "invalid_argument",
        4 => "deadline_exceeded",
        5 => "not_found",
        6 => "already_exists",
        7 => "permission_denied",
        8 => "resource_exhausted",
        9 => "failed_precondition",
        10 => "aborted",
        11 => "out_of_range",
        12 => "unimplemented",
        13 => "internal",
        14 => "unavailable",
        15 => "data_loss",
        16 => "unauthenticated",
        _ => "unknown",
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn app_error_from(m: &Map<String, Value>, http_status: u16) -> Option<AppError> {
    let id = str_field(m, "id")?;
    // AppError has an id and at least one of code/status/detail.
    if !(m.contains_key("code") || m.contains_key("status") || m.contains_key("detail")) {
        return None;
    }
    let code = m
        .get("code")
        .and_then(Value::as_u64)
        .filter(|c| (100..600).contains(c))
        .map(|c| c as u16)
        .unwrap_or(http_status);
    Some(AppError {
        id: id.to_string(),
        status: str_field(m, "status")
            .map(str::to_string)
            .unwrap_or_else(|| reason_phrase(code).to_string()),
        detail: str_field(m, "detail").unwrap_or_default().to_string(),
        request_id: str_field(m, "request_id").map(str::to_string),
        code,
    })
}

/// Turns a non-2xx reply into an `AppError`, whatever shape the server used.
pub fn decode_error(http_status: u16, body: &[u8]) -> AppError {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    if let Some(m) = &parsed {
        if let Some(e) = app_error_from(m, http_status) {
            return e;
        }
        // google.rpc.Status / rpcStatus: {code, message, details}; grpc-gateway v1 adds `error`.
        let message = str_field(m, "message").or_else(|| str_field(m, "error"));
        if let (Some(code), Some(message)) = (m.get("code").and_then(Value::as_i64), message) {
            // The engine puts its AppError JSON inside the status message.
            if let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(message) {
                if let Some(e) = app_error_from(&inner, http_status) {
                    return e;
                }
            }
            let mut detail = message.to_string();
            if let Some(Value::Array(d)) = m.get("details") {
                if !d.is_empty() {
                    detail.push_str(&format!(" (details: {})", Value::Array(d.clone())));
                }
            }
            return AppError {
                id: format!("rpc.{}", grpc_name(code)),
                status: reason_phrase(http_status).to_string(),
                detail,
                request_id: None,
                code: http_status,
            };
        }
    }
    let text = excerpt(body);
    AppError {
        id: format!("http.{http_status}"),
        status: reason_phrase(http_status).to_string(),
        detail: if text.is_empty() {
            format!("HTTP {http_status} with an empty body")
        } else {
            text
        },
        request_id: None,
        code: http_status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_model::{Device, Role, User, UserAccessToken};

    const GUIDE_DEVICE: &str = r#"{ "id": "7287", "name": "device for user 1", "account": "sipUser1", "password": "BNZdVLryFwcB", "user": {}, "logged_in": "1682943253855", "created_at": "1682943253855", "created_by": { "id": "130", "name": "Administrator" }, "updated_at": "1682943253855", "updated_by": { "id": "130", "name": "Administrator" } }"#;

    #[test]
    fn device_flat_as_in_the_guide() {
        let d: Device = decode_one(GUIDE_DEVICE.as_bytes(), &["device"]).unwrap();
        assert_eq!(d.id.as_deref(), Some("7287"));
        assert_eq!(d.account.as_deref(), Some("sipUser1"));
        assert_eq!(d.created_at.as_deref(), Some("1682943253855"));
        assert_eq!(d.created_by.unwrap().name.as_deref(), Some("Administrator"));
    }

    #[test]
    fn device_wrapped_as_in_the_protos() {
        let body = format!(r#"{{"device": {GUIDE_DEVICE}}}"#);
        let d: Device = decode_one(body.as_bytes(), &["device"]).unwrap();
        assert_eq!(d.id.as_deref(), Some("7287"));
        assert_eq!(d.name.as_deref(), Some("device for user 1"));
    }

    #[test]
    fn numeric_ids_are_accepted() {
        let d: Device =
            decode_one(br#"{"device":{"id":17,"account":"1001"}}"#, &["device"]).unwrap();
        assert_eq!(d.id.as_deref(), Some("17"));
    }

    #[test]
    fn user_wrapped_or_flat() {
        let flat = r#"{"id":"10","username":"2020","extension":"2020","device":{"id":"7287"},"roles":[{"id":4}]}"#;
        let wrapped = format!(r#"{{"user":{flat}}}"#);
        for body in [flat.to_string(), wrapped] {
            let u: User = decode_one(body.as_bytes(), &["user"]).unwrap();
            assert_eq!(u.id.as_deref(), Some("10"));
            assert_eq!(u.device.unwrap().id.as_deref(), Some("7287"));
            assert_eq!(u.roles.unwrap()[0].id.as_deref(), Some("4"));
        }
    }

    #[test]
    fn a_flat_object_whose_field_looks_like_a_wrapper_stays_flat() {
        // A device's `user` field must not be taken for a `{"user": …}` envelope.
        let d: Device = decode_one(
            br#"{"id":"5","user":{"id":"9","name":"x"}}"#,
            &["device", "user"],
        )
        .unwrap();
        assert_eq!(d.id.as_deref(), Some("5"));
        assert_eq!(d.user.id.as_deref(), Some("9"));
    }

    #[test]
    fn token_flat_or_wrapped() {
        let flat = r#"{"id":"k1","token":"secret","user":{"id":"10"}}"#;
        let t: UserAccessToken = decode_one(flat.as_bytes(), &["token", "created"]).unwrap();
        assert_eq!(t.token.as_deref(), Some("secret"));
        let wrapped = format!(r#"{{"token":{flat}}}"#);
        let t: UserAccessToken = decode_one(wrapped.as_bytes(), &["token", "created"]).unwrap();
        assert_eq!(t.id.as_deref(), Some("k1"));
        assert_eq!(t.token.as_deref(), Some("secret"));
    }

    #[test]
    fn role_created_envelope() {
        let r: Role = decode_one(
            br#"{"created":{"id":"7","name":"ops"}}"#,
            &["created", "role"],
        )
        .unwrap();
        assert_eq!(r.name.as_deref(), Some("ops"));
    }

    #[test]
    fn lists_full_empty_and_bare() {
        let l: ListResponse<User> =
            decode_list(br#"{"page":1,"size":16,"next":true,"items":[{"id":"1"}]}"#).unwrap();
        assert!(l.next);
        assert_eq!(l.items.len(), 1);
        let l: ListResponse<User> = decode_list(b"{}").unwrap();
        assert!(l.items.is_empty() && !l.next);
        let l: ListResponse<User> = decode_list(b"").unwrap();
        assert!(l.items.is_empty());
        let l: ListResponse<User> = decode_list(br#"[{"id":"1"},{"id":"2"}]"#).unwrap();
        assert_eq!(l.items.len(), 2);
    }

    #[test]
    fn deletes_in_every_shape() {
        let v: Vec<Device> = decode_deleted(br#"{"deleted":[{"id":"1"},{"id":"2"}]}"#).unwrap();
        assert_eq!(v.len(), 2);
        let v: Vec<Device> = decode_deleted(br#"{"deleted":{"id":"1"}}"#).unwrap();
        assert_eq!(v[0].id.as_deref(), Some("1"));
        let v: Vec<Device> = decode_deleted(b"{}").unwrap();
        assert!(v.is_empty());
        let v: Vec<Device> = decode_deleted(b"").unwrap();
        assert!(v.is_empty());
    }

    #[test]
    fn bad_json_is_a_decode_error() {
        let e = decode_one::<Device>(b"<html>oops</html>", &["device"]).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e}");
        assert!(e.to_string().contains("oops"));
    }

    #[test]
    fn app_error_json() {
        let e = decode_error(
            403,
            br#"{"id":"api.context.permissions.app_error","status":"Forbidden","detail":"userId=10, permission=calls access=create","code":403}"#,
        );
        assert_eq!(e.id, "api.context.permissions.app_error");
        assert_eq!(e.code, 403);
        assert_eq!(e.status, "Forbidden");
        assert!(e.detail.contains("permission=calls"));
    }

    #[test]
    fn rpc_status_keeps_code_and_message() {
        let e = decode_error(
            404,
            br#"{"code":5,"message":"user not found","details":[{"@type":"type.googleapis.com/x"}]}"#,
        );
        assert_eq!(e.id, "rpc.not_found");
        assert_eq!(e.code, 404);
        assert_eq!(e.status, "Not Found");
        assert!(e.detail.starts_with("user not found"));
        assert!(e.detail.contains("type.googleapis.com/x"));
    }

    #[test]
    fn rpc_status_wrapping_an_app_error() {
        let inner = r#"{"id":"app.call.create.valid.from","status":"Bad Request","detail":"from is required","code":400}"#;
        let body = serde_json::json!({"code": 13, "message": inner}).to_string();
        let e = decode_error(500, body.as_bytes());
        assert_eq!(e.id, "app.call.create.valid.from");
        assert_eq!(e.code, 400);
    }

    #[test]
    fn non_json_error_body() {
        let e = decode_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.id, "http.502");
        assert_eq!(e.code, 502);
        assert!(e.detail.contains("Bad Gateway"));
        let e = decode_error(503, b"");
        assert!(e.detail.contains("503"));
    }
}
