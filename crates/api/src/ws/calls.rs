//! Call control over the WebSocket: every call action webitel-sdk sends is parsed into a typed,
//! validated `CallRequest` and handed to one `CallControl` implementation (the call engine).

use super::protocol::INVALID_PARAM;
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who asks: the caller's session and the socket the request came on (the engine adds it to
/// originated legs as `X-Webitel-Sock-Id`).
#[derive(Debug, Clone)]
pub struct CallContext {
    pub session: Arc<Session>,
    pub sock_id: String,
}

/// Call variables: string values; numbers and booleans sent by a client are stringified.
pub type Variables = BTreeMap<String, String>;

/// `call_invite` (`OutboundCallRequest`).
#[derive(Debug, Clone, Deserialize)]
pub struct InviteRequest {
    pub destination: String,
    #[serde(default)]
    pub params: InviteParams,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteParams {
    pub timeout: Option<i64>,
    pub video: Option<bool>,
    pub audio: Option<bool>,
    pub screen: Option<bool>,
    pub record: Option<bool>,
    pub disable_auto_answer: Option<bool>,
    pub display: Option<String>,
    #[serde(alias = "hide_number")]
    pub hide_number: Option<bool>,
    #[serde(default, deserialize_with = "variables")]
    pub variables: Variables,
    /// The SDK sends a number; some apps send it as a string.
    #[serde(default, deserialize_with = "flex_id")]
    pub contact_id: Option<i64>,
}

/// `call_user`: call another user of the domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallUserRequest {
    pub to_user_id: i64,
    pub node_id: Option<String>,
    pub parent_call_id: Option<String>,
    pub send_to_call_id: Option<String>,
    pub use_video: Option<bool>,
    pub use_screen: Option<bool>,
    pub use_audio: Option<bool>,
    #[serde(default, deserialize_with = "variables")]
    pub variables: Variables,
}

/// A call leg: `id` plus the media node `app_id` the SDK echoes back.
#[derive(Debug, Clone, Deserialize)]
pub struct CallRef {
    pub id: String,
    #[serde(default)]
    pub app_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HangupRequest {
    #[serde(flatten)]
    pub call: CallRef,
    /// FreeSWITCH cause, e.g. `USER_BUSY` to reject a ringing call.
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DtmfRequest {
    #[serde(flatten)]
    pub call: CallRef,
    /// The engine sends only the first character.
    pub dtmf: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BlindTransferRequest {
    #[serde(flatten)]
    pub call: CallRef,
    pub destination: String,
    #[serde(default, deserialize_with = "variables")]
    pub variables: Variables,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MuteRequest {
    #[serde(flatten)]
    pub call: CallRef,
    pub mute: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BridgeRequest {
    pub from_id: String,
    pub from_app_id: Option<String>,
    pub to_id: String,
    pub to_app_id: Option<String>,
    #[serde(default, deserialize_with = "variables")]
    pub variables: Variables,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EavesdropRequest {
    pub id: String,
    pub control: Option<bool>,
    pub listen_a: Option<bool>,
    pub listen_b: Option<bool>,
    pub whisper_a: Option<bool>,
    pub whisper_b: Option<bool>,
    pub group: Option<String>,
    pub notify: Option<bool>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EavesdropStateRequest {
    pub id: String,
    pub state: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetContactRequest {
    pub id: String,
    #[serde(deserialize_with = "flex_id_required")]
    pub contact_id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToQueueRequest {
    pub parent_id: String,
    pub queue_id: Option<i64>,
    pub agent_id: Option<i64>,
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BtQueueRequest {
    pub id: String,
    pub queue_id: i64,
    #[serde(default, deserialize_with = "variables")]
    pub variables: Variables,
}

/// Every call action, validated.
#[derive(Debug, Clone)]
pub enum CallRequest {
    /// `call_invite` → reply `{id}`.
    Invite(InviteRequest),
    /// `call_user` → reply `{call_id}`.
    CallUser(CallUserRequest),
    Hangup(HangupRequest),
    Hold(CallRef),
    Unhold(CallRef),
    Dtmf(DtmfRequest),
    /// `call_blind_transfer` and `call_blind_transfer_ext`.
    BlindTransfer(BlindTransferRequest),
    Mute(MuteRequest),
    Bridge(BridgeRequest),
    /// `call_recordings` → reply `{file_id}`.
    Recordings {
        id: String,
    },
    /// `call_eavesdrop` → reply `{id}`.
    Eavesdrop(EavesdropRequest),
    EavesdropState(EavesdropStateRequest),
    SetContact(SetContactRequest),
    ToQueue(ToQueueRequest),
    BtQueue(BtQueueRequest),
}

/// Reply data of a call action; an empty map sends no `data`.
pub type CallReply = Map<String, Value>;

/// The call engine as the WebSocket API sees it.
pub trait CallControl: Send + Sync + 'static {
    /// Carries out one call action for the caller.
    fn execute(&self, ctx: CallContext, req: CallRequest) -> BoxFuture<'_, ApiResult<CallReply>>;
    /// The caller's live calls, as `subscribe_call` lists them (`Call` objects, b.6).
    fn active_calls(&self, ctx: CallContext) -> BoxFuture<'_, ApiResult<Vec<Value>>>;
}

/// Stands in until the call engine is wired: no live calls, and every action fails clearly.
#[derive(Debug, Default)]
pub struct NoCallEngine;

impl CallControl for NoCallEngine {
    fn execute(&self, _: CallContext, _: CallRequest) -> BoxFuture<'_, ApiResult<CallReply>> {
        Box::pin(async {
            Err(ApiError::new(
                501,
                "app.call.not_available",
                "call control is not available on this server yet",
            ))
        })
    }

    fn active_calls(&self, _: CallContext) -> BoxFuture<'_, ApiResult<Vec<Value>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Whether `action` is a call action this API routes to `CallControl`.
pub fn is_call_action(action: &str) -> bool {
    matches!(
        action,
        "call_invite"
            | "call_user"
            | "call_hangup"
            | "call_hold"
            | "call_unhold"
            | "call_dtmf"
            | "call_blind_transfer"
            | "call_blind_transfer_ext"
            | "call_mute"
            | "call_bridge"
            | "call_recordings"
            | "call_eavesdrop"
            | "call_eavesdrop_state"
            | "call_set_contact"
            | "call_to_queue"
            | "call_bt_queue"
    )
}

fn invalid(action: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(INVALID_PARAM, format!("{action}: {detail}"))
}

fn typed<T: DeserializeOwned>(action: &str, data: Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(data)).map_err(|e| invalid(action, e))
}

fn non_empty(action: &str, field: &str, v: &str) -> ApiResult<()> {
    if v.trim().is_empty() {
        Err(invalid(action, format!("{field} is required")))
    } else {
        Ok(())
    }
}

/// Parses and validates the `data` of a call action.
pub fn parse(action: &str, data: Map<String, Value>) -> ApiResult<CallRequest> {
    let leg = |r: &CallRef| non_empty(action, "id", &r.id);
    Ok(match action {
        "call_invite" => {
            let r: InviteRequest = typed(action, data)?;
            non_empty(action, "destination", &r.destination)?;
            CallRequest::Invite(r)
        }
        "call_user" => {
            let r: CallUserRequest = typed(action, data)?;
            if r.to_user_id <= 0 {
                return Err(invalid(action, "toUserId must be a positive integer"));
            }
            CallRequest::CallUser(r)
        }
        "call_hangup" => {
            let r: HangupRequest = typed(action, data)?;
            leg(&r.call)?;
            CallRequest::Hangup(r)
        }
        "call_hold" | "call_unhold" => {
            let r: CallRef = typed(action, data)?;
            leg(&r)?;
            if action == "call_hold" {
                CallRequest::Hold(r)
            } else {
                CallRequest::Unhold(r)
            }
        }
        "call_dtmf" => {
            let mut r: DtmfRequest = typed(action, data)?;
            leg(&r.call)?;
            let Some(digit) = r.dtmf.chars().next() else {
                return Err(invalid(action, "dtmf is required"));
            };
            if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d') {
                return Err(invalid(action, "dtmf must be 0-9, *, # or A-D"));
            }
            r.dtmf = digit.to_ascii_uppercase().to_string();
            CallRequest::Dtmf(r)
        }
        "call_blind_transfer" | "call_blind_transfer_ext" => {
            let r: BlindTransferRequest = typed(action, data)?;
            leg(&r.call)?;
            non_empty(action, "destination", &r.destination)?;
            CallRequest::BlindTransfer(r)
        }
        "call_mute" => {
            let r: MuteRequest = typed(action, data)?;
            leg(&r.call)?;
            CallRequest::Mute(r)
        }
        "call_bridge" => {
            let r: BridgeRequest = typed(action, data)?;
            non_empty(action, "from_id", &r.from_id)?;
            non_empty(action, "to_id", &r.to_id)?;
            CallRequest::Bridge(r)
        }
        "call_recordings" => {
            #[derive(Deserialize)]
            struct R {
                id: String,
            }
            let r: R = typed(action, data)?;
            non_empty(action, "id", &r.id)?;
            CallRequest::Recordings { id: r.id }
        }
        "call_eavesdrop" => {
            let r: EavesdropRequest = typed(action, data)?;
            non_empty(action, "id", &r.id)?;
            CallRequest::Eavesdrop(r)
        }
        "call_eavesdrop_state" => {
            let r: EavesdropStateRequest = typed(action, data)?;
            non_empty(action, "id", &r.id)?;
            if !matches!(r.state.as_str(), "muted" | "conference" | "prompt") {
                return Err(invalid(action, "state must be muted, conference or prompt"));
            }
            CallRequest::EavesdropState(r)
        }
        "call_set_contact" => {
            let r: SetContactRequest = typed(action, data)?;
            non_empty(action, "id", &r.id)?;
            CallRequest::SetContact(r)
        }
        "call_to_queue" => {
            let r: ToQueueRequest = typed(action, data)?;
            non_empty(action, "parent_id", &r.parent_id)?;
            if r.queue_id.is_none() && r.agent_id.is_none() {
                return Err(invalid(action, "queue_id or agent_id is required"));
            }
            CallRequest::ToQueue(r)
        }
        "call_bt_queue" => {
            let r: BtQueueRequest = typed(action, data)?;
            non_empty(action, "id", &r.id)?;
            CallRequest::BtQueue(r)
        }
        _ => {
            return Err(ApiError::bad_request(
                super::protocol::BAD_ACTION,
                format!("unknown action {action:?}"),
            ))
        }
    })
}

/// Variables: an object whose scalar values become strings; `null` is no variables.
fn variables<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Variables, D::Error> {
    use serde::de::Error;
    let v: Option<Map<String, Value>> = Option::deserialize(d)?;
    let mut out = Variables::new();
    for (k, v) in v.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            _ => return Err(D::Error::custom(format!("variable {k} must be a scalar"))),
        };
        out.insert(k, s);
    }
    Ok(out)
}

fn flex_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom("id must be an integer")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom("id must be an integer")),
        Some(_) => Err(D::Error::custom("id must be an integer")),
    }
}

fn flex_id_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    flex_id(d)?.ok_or_else(|| D::Error::custom("contact_id is required"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn validates_call_actions() {
        let ok = |a: &str, v: Value| parse(a, data(v)).unwrap();
        let bad = |a: &str, v: Value| parse(a, data(v)).unwrap_err().0.id;
        assert!(matches!(
            ok("call_invite", json!({"destination":"1002","params":{"disableStun":true,"autoAnswer":true,"variables":{"a":1}}})),
            CallRequest::Invite(r) if r.params.variables["a"] == "1"
        ));
        assert_eq!(bad("call_invite", json!({"destination": 5})), INVALID_PARAM);
        assert_eq!(bad("call_invite", json!({})), INVALID_PARAM);
        assert_eq!(
            bad("call_invite", json!({"destination": " "})),
            INVALID_PARAM
        );
        assert!(matches!(
            ok("call_dtmf", json!({"id":"c","app_id":"n","dtmf":"5#"})),
            CallRequest::Dtmf(r) if r.dtmf == "5"
        ));
        assert_eq!(
            bad("call_dtmf", json!({"id":"c","dtmf":"x"})),
            INVALID_PARAM
        );
        assert_eq!(bad("call_hold", json!({"id": 1})), INVALID_PARAM);
        assert_eq!(
            bad("call_mute", json!({"id":"c","mute":"yes"})),
            INVALID_PARAM
        );
        assert_eq!(bad("call_user", json!({"toUserId":"x"})), INVALID_PARAM);
        assert!(matches!(
            ok("call_set_contact", json!({"id":"c","contact_id":"42"})),
            CallRequest::SetContact(r) if r.contact_id == 42
        ));
        assert_eq!(
            bad("call_to_queue", json!({"parent_id":"c"})),
            INVALID_PARAM
        );
        assert_eq!(
            bad("call_bt_queue", json!({"id":"c","queue_id":"q"})),
            INVALID_PARAM
        );
        assert!(matches!(
            ok(
                "call_hangup",
                json!({"id":"c","app_id":"n","cause":"USER_BUSY"})
            ),
            CallRequest::Hangup(_)
        ));
        for a in ["call_invite", "call_hangup", "call_bt_queue"] {
            assert!(is_call_action(a));
        }
        assert!(!is_call_action("call_start_rec"));
    }
}
