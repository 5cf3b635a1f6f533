//! The wire envelopes of webitel-sdk's WebSocket: requests `{seq, action, data}`, replies
//! `{status, seq_reply, data | error}` and events `{event, data, seq}` (PROTOCOL-NOTES b.2).

use crate::error::ApiError;
use serde_json::{Map, Value};

pub const NO_ACTION: &str = "api.web_socket_router.no_action.app_error";
pub const BAD_SEQ: &str = "api.web_socket_router.bad_seq.app_error";
pub const BAD_ACTION: &str = "api.web_socket_router.bad_action.app_error";
pub const NOT_AUTHENTICATED: &str = "api.web_socket_router.not_authenticated.app_error";
pub const BAD_JSON: &str = "api.web_socket_router.bad_json.app_error";
pub const TOO_LARGE: &str = "api.web_socket_router.too_large.app_error";
pub const INVALID_PARAM: &str = "api.websocket_handler.invalid_param.app_error";

/// A client request that passed envelope validation.
#[derive(Debug)]
pub struct Request {
    pub seq: i64,
    pub action: String,
    /// `data` as sent; absent or `null` become an empty object.
    pub data: Map<String, Value>,
}

/// Why a frame could not become a `Request`; `seq` is known when the frame carried a valid one.
#[derive(Debug)]
pub struct Rejected {
    pub seq: i64,
    pub error: ApiError,
}

/// Parses one text frame. Checks follow the engine's order: action first, then seq.
pub fn parse_request(text: &str) -> Result<Request, Rejected> {
    let reject = |seq, error| Rejected { seq, error };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        reject(
            0,
            ApiError::bad_request(BAD_JSON, format!("the frame is not JSON: {e}")),
        )
    })?;
    let Value::Object(mut obj) = value else {
        return Err(reject(
            0,
            ApiError::bad_request(BAD_JSON, "the frame must be a JSON object"),
        ));
    };
    let seq = match obj.get("seq") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_i64() {
            Some(n) => n,
            None => {
                return Err(reject(
                    0,
                    ApiError::bad_request(BAD_JSON, "seq must be an integer"),
                ))
            }
        },
    };
    // Replies to a bad seq carry no seq_reply: the client cannot match them anyway.
    let reply_seq = seq.max(0);
    let action = match obj.remove("action") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(reject(
                reply_seq,
                ApiError::bad_request(BAD_JSON, "action must be a string"),
            ))
        }
    };
    if action.is_empty() {
        return Err(reject(
            reply_seq,
            ApiError::bad_request(NO_ACTION, "the request names no action"),
        ));
    }
    if seq <= 0 {
        return Err(reject(
            0,
            ApiError::bad_request(BAD_SEQ, "seq must be a positive integer"),
        ));
    }
    let data = match obj.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(reject(
                seq,
                ApiError::bad_request(INVALID_PARAM, "data must be a JSON object"),
            ))
        }
    };
    Ok(Request { seq, action, data })
}

/// `{"status":"OK","seq_reply":n[,"data":{…}]}`; an empty map is omitted, as the engine does.
pub fn ok_reply(seq: i64, data: Option<Map<String, Value>>) -> String {
    let mut out = String::from("{\"status\":\"OK\"");
    push_seq(&mut out, seq);
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        out.push_str(",\"data\":");
        out.push_str(&Value::Object(d).to_string());
    }
    out.push('}');
    out
}

/// `{"status":"FAIL","seq_reply":n,"error":{AppError}}`; seq_reply is omitted when 0.
pub fn fail_reply(seq: i64, err: &ApiError) -> String {
    let mut out = String::from("{\"status\":\"FAIL\"");
    push_seq(&mut out, seq);
    out.push_str(",\"error\":");
    out.push_str(&serde_json::to_string(&err.0).unwrap_or_else(|_| "{}".into()));
    out.push('}');
    out
}

fn push_seq(out: &mut String, seq: i64) {
    if seq > 0 {
        out.push_str(",\"seq_reply\":");
        out.push_str(&seq.to_string());
    }
}

/// An event serialised once and shared by every socket it goes to. The per-socket `seq` is
/// appended by each writer, so fan-out costs one string copy per socket, not one encode.
#[derive(Debug)]
pub struct EventFrame {
    head: String,
}

impl EventFrame {
    pub fn new(event: &str, data: &Value, user_id: Option<i64>, sock_id: Option<&str>) -> Self {
        let mut head = String::with_capacity(64);
        head.push_str("{\"event\":");
        head.push_str(&Value::from(event).to_string());
        head.push_str(",\"data\":");
        head.push_str(&data.to_string());
        if let Some(u) = user_id {
            head.push_str(",\"user_id\":");
            head.push_str(&u.to_string());
        }
        if let Some(s) = sock_id {
            head.push_str(",\"sock_id\":");
            head.push_str(&Value::from(s).to_string());
        }
        Self { head }
    }

    /// The frame text as sent on a socket whose event counter is at `seq`.
    pub fn render(&self, seq: u64) -> String {
        let mut s = String::with_capacity(self.head.len() + 24);
        s.push_str(&self.head);
        s.push_str(",\"seq\":");
        s.push_str(&seq.to_string());
        s.push('}');
        s
    }
}

/// 26 characters from the engine's id alphabet (base32 of 128 random bits), like `model.NewId`.
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..26)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request() {
        let r = parse_request(r#"{"seq":3,"action":"ping","data":{"ping":1}}"#).unwrap();
        assert_eq!((r.seq, r.action.as_str()), (3, "ping"));
        assert_eq!(r.data["ping"], 1);
        let r = parse_request(r#"{"seq":1,"action":"x"}"#).unwrap();
        assert!(r.data.is_empty());
    }

    #[test]
    fn rejects_in_the_engine_order() {
        let e = parse_request("nope").unwrap_err();
        assert_eq!((e.seq, e.error.0.id.as_str()), (0, BAD_JSON));
        let e = parse_request(r#"{"seq":2}"#).unwrap_err();
        assert_eq!((e.seq, e.error.0.id.as_str()), (2, NO_ACTION));
        let e = parse_request(r#"{"seq":0,"action":"ping"}"#).unwrap_err();
        assert_eq!((e.seq, e.error.0.id.as_str()), (0, BAD_SEQ));
        let e = parse_request(r#"{"seq":"1","action":"ping"}"#).unwrap_err();
        assert_eq!(e.error.0.id, BAD_JSON);
        let e = parse_request(r#"{"seq":4,"action":"ping","data":[1]}"#).unwrap_err();
        assert_eq!((e.seq, e.error.0.id.as_str()), (4, INVALID_PARAM));
        let e = parse_request("[1]").unwrap_err();
        assert_eq!(e.error.0.id, BAD_JSON);
    }

    #[test]
    fn replies_omit_empty_parts() {
        assert_eq!(ok_reply(1, None), r#"{"status":"OK","seq_reply":1}"#);
        assert_eq!(
            ok_reply(1, Some(Map::new())),
            r#"{"status":"OK","seq_reply":1}"#
        );
        let f: Value = serde_json::from_str(&fail_reply(0, &ApiError::internal("x"))).unwrap();
        assert!(f.get("seq_reply").is_none());
        assert_eq!(f["error"]["code"], 500);
    }

    #[test]
    fn event_frames_take_the_socket_seq() {
        let f = EventFrame::new("user_state", &serde_json::json!({"a":1}), Some(7), None);
        let v: Value = serde_json::from_str(&f.render(5)).unwrap();
        assert_eq!(v["seq"], 5);
        assert_eq!(v["user_id"], 7);
        assert_eq!(v["data"]["a"], 1);
    }

    #[test]
    fn ids_are_26_chars() {
        let id = new_id();
        assert_eq!(id.len(), 26);
        assert_ne!(id, new_id());
    }
}
