//! The actions of an authenticated socket (PROTOCOL-NOTES b.6).

use super::calls::{self, CallContext};
use super::device::{self, Origin};
use super::hub::Topic;
use super::protocol::{BAD_ACTION, INVALID_PARAM};
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What an action runs with.
#[derive(Clone)]
pub struct ActionCtx {
    pub state: AppState,
    pub session: Arc<Session>,
    pub sock_id: Arc<str>,
    pub origin: Arc<Origin>,
}

type Data = Map<String, Value>;

fn not_available(area: &str, what: &str) -> ApiError {
    ApiError::new(
        501,
        format!("app.{area}.not_available"),
        format!("{what} is not available on this server yet"),
    )
}

/// Chat actions webitel-sdk can send (and the engine registers).
fn is_chat_action(action: &str) -> bool {
    matches!(
        action,
        "subscribe_chat"
            | "un_subscribe_chat"
            | "join_chat"
            | "decline_chat"
            | "close_chat"
            | "leave_chat"
            | "send_text_chat"
            | "send_file_chat"
            | "blind_transfer_chat"
            | "transfer_user_chat"
            | "chat_set_contact"
            | "start_chat"
            | "add_to_chat"
            | "update_channel_chat"
            | "list_active_chat"
    )
}

/// Screen-sharing signalling between users.
fn is_screen_action(action: &str) -> bool {
    matches!(
        action,
        "ss_invite"
            | "ss_accept"
            | "ss_ack"
            | "screenshot"
            | "start_record_screen"
            | "stop_record_screen"
    )
}

/// Contact-center ids are integers; strings there are client bugs worth reporting.
fn check_ids(action: &str, data: &Data) -> ApiResult<()> {
    for key in ["agent_id", "attempt_id", "queue_id", "member_id", "team_id"] {
        if let Some(v) = data.get(key) {
            if !(v.is_null() || v.is_i64()) {
                return Err(ApiError::bad_request(
                    INVALID_PARAM,
                    format!("{action}: {key} must be an integer"),
                ));
            }
        }
    }
    Ok(())
}

/// Runs one action. `Ok(None)` is a reply without data.
pub async fn dispatch(ctx: &ActionCtx, action: &str, mut data: Data) -> ApiResult<Option<Data>> {
    let now = switchboard_store::now_ms;
    let hub = &ctx.state.hub;
    let s = &ctx.session;
    match action {
        "ping" => {
            let mut out = Data::new();
            out.insert("pong".into(), 1.into());
            if ctx.state.ws.ping_latency {
                out.insert("server_ts".into(), now().into());
            }
            Ok(Some(out))
        }
        "latency_start" => {
            let mut out = Data::new();
            out.insert("server_ts".into(), now().into());
            Ok(Some(out))
        }
        "latency_ack" => {
            data.insert("server_ack_ts".into(), now().into());
            Ok(Some(data))
        }
        "user_default_device" => {
            let name = match data.get("name") {
                None | Some(Value::Null) => "",
                Some(Value::String(n)) => n.as_str(),
                Some(_) => {
                    return Err(ApiError::bad_request(
                        INVALID_PARAM,
                        "user_default_device: name must be a string",
                    ))
                }
            };
            device::default_device(&ctx.state, s, &ctx.origin, name)
                .await
                .map(Some)
        }
        "subscribe_call" => {
            let items = ctx.state.calls.active_calls(call_ctx(ctx)).await?;
            hub.subscribe(s.domain_id, &ctx.sock_id, Topic::Call, true);
            let mut out = Data::new();
            // Always present: webitel-sdk's subscribeCall() reads `data.items`.
            out.insert("items".into(), Value::Array(items));
            Ok(Some(out))
        }
        "un_subscribe_call" => {
            hub.subscribe(s.domain_id, &ctx.sock_id, Topic::Call, false);
            Ok(None)
        }
        "subscribe_users_status" => {
            hub.subscribe(s.domain_id, &ctx.sock_id, Topic::UserState, true);
            Ok(None)
        }
        "un_subscribe_users_status" => {
            hub.subscribe(s.domain_id, &ctx.sock_id, Topic::UserState, false);
            Ok(None)
        }
        a if calls::is_call_action(a) => {
            let req = calls::parse(a, data)?;
            ctx.state
                .calls
                .execute(call_ctx(ctx), req)
                .await
                .map(|r| Some(r).filter(|r| !r.is_empty()))
        }
        "cc_agent_subscribe_status" => {
            check_ids(action, &data)?;
            if !data.get("agent_id").is_some_and(Value::is_i64) {
                return Err(ApiError::bad_request(
                    INVALID_PARAM,
                    "cc_agent_subscribe_status: agent_id is required",
                ));
            }
            // Webitel binds the socket's own user's agent events, whatever agent_id says.
            hub.subscribe(s.domain_id, &ctx.sock_id, Topic::Agent, true);
            Ok(None)
        }
        "cc_queue_board" => {
            check_ids(action, &data)?;
            // `subscribe: false` only reads the board (an agent page's one-off look).
            let subscribe = data
                .get("subscribe")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let board = ctx
                .state
                .cc
                .ws_action(ctx.session.clone(), action.to_owned(), data)
                .await?;
            // Then every change of the domain's board, coalesced by the runtime.
            if subscribe {
                hub.subscribe(s.domain_id, &ctx.sock_id, Topic::Board, true);
            }
            Ok(board)
        }
        a if a.starts_with("cc_") => {
            check_ids(a, &data)?;
            ctx.state
                .cc
                .ws_action(ctx.session.clone(), a.to_owned(), data)
                .await
        }
        a if is_chat_action(a) => Err(not_available("chat", "chat")),
        a if is_screen_action(a) => Err(not_available("screen", "screen sharing")),
        a => Err(ApiError::bad_request(
            BAD_ACTION,
            format!("unknown action {a:?}"),
        )),
    }
}

fn call_ctx(ctx: &ActionCtx) -> CallContext {
    CallContext {
        session: ctx.session.clone(),
        sock_id: ctx.sock_id.to_string(),
    }
}
