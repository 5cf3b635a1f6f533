//! `/api/calls/active` and `POST /api/calls`: call control over REST. Every action goes through
//! the same `CallControl` the WebSocket uses, validated by the same parser, so REST and
//! webitel-sdk share one call-control interface.

use crate::auth::{Access, Caller, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::RawBody;
use crate::ws::calls::{self as wscalls, CallContext};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn ctx(session: Arc<Session>) -> CallContext {
    CallContext {
        session,
        sock_id: String::new(),
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A control action on a live leg: needs `calls` update rights, then builds its data (the
/// request body is read only after the rights check) and runs `action` parsed exactly as the
/// WebSocket would.
async fn control(
    st: &AppState,
    c: &Caller,
    action: &str,
    data: impl FnOnce() -> ApiResult<Value>,
) -> ApiResult<()> {
    c.require("calls", Access::Update)?;
    let req = wscalls::parse(action, object(data()?))?;
    st.calls.execute(ctx(c.0.clone()), req).await?;
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, "app.call.not_found", format!("call {id} not found"))
}

/// The caller's live call legs.
#[utoipa::path(get, path = "/api/calls/active", tag = "calls",
    responses((status = 200, description = "{items:[ActiveCall], next}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn list(State(st): State<AppState>, c: Caller) -> ApiResult<Json<Value>> {
    c.require("calls", Access::Read)?;
    let items = st.calls.active_calls(ctx(c.0.clone())).await?;
    Ok(Json(json!({ "items": items, "next": false })))
}

/// One live call leg of the caller.
#[utoipa::path(get, path = "/api/calls/active/{id}", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "ActiveCall"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    c.require("calls", Access::Read)?;
    let items = st.calls.active_calls(ctx(c.0.clone())).await?;
    items
        .into_iter()
        .find(|v| v["id"].as_str() == Some(id.as_str()))
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

#[derive(Debug, Default, Deserialize)]
struct HangupBody {
    cause: Option<String>,
}

/// Hang a call leg up, optionally with a cause (e.g. `USER_BUSY`).
#[utoipa::path(delete, path = "/api/calls/active/{id}", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "{}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn hangup(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    control(&st, &c, "call_hangup", || {
        let b: HangupBody = body.json()?.unwrap_or_default();
        Ok(json!({ "id": id, "cause": b.cause }))
    })
    .await?;
    Ok(Json(json!({})))
}

/// Put a call leg on hold: the other party hears the hold tone.
#[utoipa::path(patch, path = "/api/calls/active/{id}/hold", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "{\"state\":\"hold\"}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn hold(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    control(&st, &c, "call_hold", || Ok(json!({ "id": id }))).await?;
    Ok(Json(json!({ "state": "hold" })))
}

/// Take a call leg off hold.
#[utoipa::path(patch, path = "/api/calls/active/{id}/unhold", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "{\"state\":\"active\"}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn unhold(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    control(&st, &c, "call_unhold", || Ok(json!({ "id": id }))).await?;
    Ok(Json(json!({ "state": "active" })))
}

#[derive(Debug, Default, Deserialize)]
struct DtmfBody {
    #[serde(default)]
    digit: Value,
}

/// Send one DTMF digit to the other party (RFC 4733).
#[utoipa::path(patch, path = "/api/calls/active/{id}/dtmf", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "{}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn dtmf(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    control(&st, &c, "call_dtmf", || {
        let b: DtmfBody = body.json()?.unwrap_or_default();
        // The engine's proto has `digit` as a one-character string; a number is accepted too.
        let digit = match b.digit {
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        };
        Ok(json!({ "id": id, "dtmf": digit }))
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
struct TransferBody {
    #[serde(default)]
    destination: Value,
}

/// Blind transfer: the other party is connected to `destination`; this leg ends.
#[utoipa::path(patch, path = "/api/calls/active/{id}/transfer", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "{}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn transfer(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    control(&st, &c, "call_blind_transfer", || {
        let b: TransferBody = body.json()?.unwrap_or_default();
        Ok(json!({ "id": id, "destination": b.destination }))
    })
    .await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
struct CreateFrom {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    extension: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CreateCall {
    from: Option<CreateFrom>,
    #[serde(default)]
    destination: Value,
    #[serde(default)]
    params: Map<String, Value>,
}

/// Whose phone rings first: `from.id` or `from.extension`, or the caller when `from` is absent.
/// Calling on behalf of someone else needs the `write` permission.
async fn originator(st: &AppState, c: &Caller, from: Option<CreateFrom>) -> ApiResult<Session> {
    let mut s = (*c.0).clone();
    let Some(from) = from else {
        return Ok(s);
    };
    let id = match &from.id {
        Value::Number(n) => n.as_i64(),
        Value::String(x) if !x.trim().is_empty() => x.trim().parse().ok(),
        _ => None,
    };
    let ext = from.extension.filter(|e| !e.trim().is_empty());
    let user = match (id, ext) {
        (Some(id), _) => st.store.get_user(c.domain_id, id).await?,
        (None, Some(ext)) => st
            .store
            .user_by_extension(c.domain_id, ext.trim())
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "app.call.create.valid.from",
                "from.id or from.extension is required",
            ))
        }
    };
    if user.id != c.user_id && !c.permissions.iter().any(|p| p == "write") {
        return Err(ApiError::forbidden(c.user_id, "calls", "write"));
    }
    s.user_id = user.id;
    s.extension = user.extension.clone();
    s.name = user.name.clone();
    s.username = user.username.clone();
    Ok(s)
}

/// Click-to-call: rings the user's own web phone first (auto-answer unless
/// `params.disable_auto_answer`), then dials `destination`. Replies `{id}` of the user's leg.
#[utoipa::path(post, path = "/api/calls", tag = "calls",
    responses((status = 200, description = "{id}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    c.require("calls", Access::Create)?;
    let b: CreateCall = body.json()?.unwrap_or_default();
    let session = originator(&st, &c, b.from).await?;
    // The engine strips the destination to digits and `+`.
    let raw = match &b.destination {
        Value::String(d) => d.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let destination: String = raw
        .chars()
        .filter(|ch| ch.is_ascii_digit() || *ch == '+')
        .collect();
    let p = &b.params;
    let mut params = json!({ "disableAutoAnswer": p.get("disable_auto_answer").and_then(Value::as_bool).unwrap_or(false) });
    for (from, to) in [
        ("timeout", "timeout"),
        ("display", "display"),
        ("variables", "variables"),
    ] {
        if let Some(v) = p.get(from) {
            params[to] = v.clone();
        }
    }
    let req = wscalls::parse(
        "call_invite",
        object(json!({ "destination": destination, "params": params })),
    )
    .map_err(|_| {
        ApiError::bad_request(
            "app.call.create.valid.destination",
            "destination is required",
        )
    })?;
    let reply = st.calls.execute(ctx(Arc::new(session)), req).await?;
    Ok(Json(
        json!({ "id": reply.get("id").cloned().unwrap_or(Value::Null) }),
    ))
}
