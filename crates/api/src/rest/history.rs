//! `/api/calls/history`: one record per call leg, as Webitel's `SearchHistoryCall` answers.

use super::{ms, oid};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::Value;
use switchboard_model::{Endpoint, HistoryCall, ListResponse};
use switchboard_store::{HistoryFilter, HistoryLeg, HistoryRecord, LegAttempt, Page};

fn endpoint(kind: &str, number: &str, id: &str, name: &str) -> Option<Endpoint> {
    (!number.is_empty() || !name.is_empty()).then(|| Endpoint {
        kind: kind.to_string(),
        number: number.to_string(),
        id: id.to_string(),
        name: name.to_string(),
    })
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn to_wire(r: &HistoryRecord) -> HistoryCall {
    HistoryCall {
        id: r.id.clone(),
        parent_id: opt(&r.parent_id),
        bridged_id: opt(&r.bridged_id),
        user: r.user_id.map(|id| oid(&(id, r.user_name.clone()))),
        extension: None,
        direction: r.direction.clone(),
        destination: r.destination.clone(),
        from: endpoint(&r.from_type, &r.from_number, &r.from_id, &r.from_name),
        to: endpoint(&r.to_type, &r.to_number, &r.to_id, &r.to_name),
        from_number: opt(&r.from_number),
        to_number: opt(&r.to_number),
        created_at: r.created_at.to_string(),
        answered_at: ms(r.answered_at),
        bridged_at: ms(r.bridged_at),
        hangup_at: ms(r.hangup_at),
        stored_at: ms(r.stored_at),
        hangup_by: opt(&r.hangup_by),
        cause: opt(&r.cause),
        sip_code: (r.sip_code != 0).then_some(r.sip_code as i32),
        duration: r.duration as i32,
        hold_sec: r.hold_sec as i32,
        wait_sec: r.wait_sec as i32,
        bill_sec: r.bill_sec as i32,
        talk_sec: (r.bill_sec - r.hold_sec).max(0) as i32,
        transfer_from: opt(&r.transfer_from),
        transfer_to: opt(&r.transfer_to),
        has_children: false,
        variables: serde_json::from_str(&r.variables).unwrap_or_default(),
        files: Vec::new(),
        ..Default::default()
    }
}

/// Webitel's `hangup_disposition` (CC-NOTES 4), simplified where we keep less: `hangup_by`
/// is not recorded yet, so every normal clearing of a root leg reads `client_dropped`.
fn hangup_disposition(r: &HistoryRecord, a: Option<&LegAttempt>) -> Option<String> {
    if r.hangup_at == 0 {
        return None;
    }
    if !r.parent_id.is_empty() {
        return Some(String::new());
    }
    let d = match r.cause.as_str() {
        "USER_BUSY" | "NO_ANSWER" => "not_answered",
        "ORIGINATOR_CANCEL" => "cancelled",
        _ if r.hangup_by == "F" => "ended",
        "NORMAL_CLEARING" => {
            let bridged = r.bridged_at > 0 || a.is_some_and(|a| a.bridged_at.is_some());
            let outbound = r.direction == "outbound";
            let agent_hung_up = (outbound && r.hangup_by == "A" && r.user_id.is_some())
                || (r.direction == "inbound" && r.hangup_by == "B" && bridged)
                || (outbound
                    && r.hangup_by == "B"
                    && bridged
                    && matches!(a.and_then(|a| a.queue_kind), Some(1 | 4 | 5)));
            if agent_hung_up {
                "agent_dropped"
            } else {
                "client_dropped"
            }
        }
        _ => "error",
    };
    Some(d.to_string())
}

fn secs(ms: i64) -> i32 {
    i32::try_from(ms.max(0) / 1000).unwrap_or(i32::MAX)
}

/// A history leg on the wire, with its queue attempt's fields when it belongs to one.
pub(crate) fn leg_to_wire(leg: &HistoryLeg) -> HistoryCall {
    let r = &leg.record;
    let mut w = to_wire(r);
    w.hangup_disposition = hangup_disposition(r, leg.attempt.as_ref());
    // Talk time is the time bridged to the other party, less hold.
    if r.bridged_at > 0 && r.hangup_at > r.bridged_at {
        w.talk_sec = (secs(r.hangup_at - r.bridged_at) - r.hold_sec as i32).max(0);
    }
    let Some(a) = &leg.attempt else {
        return w;
    };
    let end = a.leaving_at.unwrap_or(0);
    w.queue = Some(oid(&a.queue));
    w.team = a.team.as_ref().map(oid);
    w.agent = a.agent.as_ref().map(oid);
    w.attempt_id = Some(a.attempt_id.to_string());
    w.joined_at = ms(a.joined_at);
    w.leaving_at = a.leaving_at.and_then(ms);
    w.reporting_at = a.reporting_at.and_then(ms);
    w.queue_bridged_at = a.bridged_at.and_then(ms);
    w.queue_wait_sec = match (a.bridged_at, a.leaving_at) {
        (Some(b), _) => Some(secs(b - a.joined_at)),
        (None, Some(l)) => Some(secs(l - a.joined_at)),
        (None, None) => None,
    };
    w.queue_duration_sec = (end > 0).then(|| secs(end - a.joined_at));
    w.reporting_sec = Some(match (a.reporting_at, a.leaving_at) {
        (Some(rep), Some(l)) => secs(rep - l),
        _ => 0,
    });
    w.result = a.result.clone();
    w.agent_description = a.description.clone();
    w
}

/// Reads the search from either the query string or a JSON body (same field names; ranges as
/// `created_at.from` in queries and `{"created_at": {"from", "to"}}` in bodies).
fn filter_from(v: &Value) -> ApiResult<(HistoryFilter, Page, Vec<String>)> {
    let int = |x: &Value| -> Option<i64> {
        match x {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let range = |key: &str| -> (Option<i64>, Option<i64>) {
        let r = &v[key];
        (
            int(&r["from"]).filter(|x| *x != 0),
            int(&r["to"]).filter(|x| *x != 0),
        )
    };
    let strings = |key: &str| -> Vec<String> {
        match &v[key] {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Value::String(s) if !s.is_empty() => {
                s.split(',').map(|x| x.trim().to_string()).collect()
            }
            Value::Number(n) => vec![n.to_string()],
            _ => Vec::new(),
        }
    };
    let text = |key: &str| {
        v[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (created_from, created_to) = range("created_at");
    let (answered_from, answered_to) = range("answered_at");
    let (stored_from, stored_to) = range("stored_at");
    let (duration_from, duration_to) = range("duration");
    let mut user_ids = Vec::new();
    for u in strings("user_id") {
        user_ids.push(u.parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "grpc.call.search_history",
                format!("user_id {u:?} is not an integer"),
            )
        })?);
    }
    let ints = |key: &str| -> ApiResult<Vec<i64>> {
        strings(key)
            .iter()
            .map(|x| {
                x.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(
                        "grpc.call.search_history",
                        format!("{key} {x:?} is not an integer"),
                    )
                })
            })
            .collect()
    };
    let mut directions = strings("directions");
    directions.extend(text("direction"));
    let f = HistoryFilter {
        created_from,
        created_to,
        answered_from,
        answered_to,
        stored_from,
        stored_to,
        duration_from,
        duration_to,
        user_ids,
        ids: strings("id"),
        parent_id: text("parent_id"),
        skip_parent: v["skip_parent"].as_bool().unwrap_or(false) || v["skip_parent"] == "true",
        number: text("number"),
        directions,
        causes: strings("cause"),
        missed: v["missed"].as_bool().unwrap_or(false) || v["missed"] == "true",
        q: text("q"),
        queue_ids: ints("queue_id")?,
        agent_ids: ints("agent_id")?,
    };
    if f.created_from.is_none()
        && f.created_to.is_none()
        && f.stored_from.is_none()
        && f.stored_to.is_none()
        && f.number.is_none()
        && f.q.is_none()
        && f.ids.is_empty()
        && v["dependency_id"].is_null()
    {
        return Err(ApiError::bad_request(
            "grpc.call.search_history",
            "give created_at, stored_at, number, q, dependency_id or id to search call history",
        ));
    }
    // Engine paging: 1-based, 40 rows by default, at most 20000.
    let size = match int(&v["size"]).unwrap_or(0) {
        s if s <= 0 || s > 20_000 => 40,
        s => s,
    };
    let page = int(&v["page"]).unwrap_or(1).max(1);
    let sort = text("sort").map(|s| match s.strip_prefix('-') {
        Some(f) => (f.to_string(), true),
        None => (s.trim_start_matches('+').to_string(), false),
    });
    Ok((f, Page { page, size, sort }, strings("fields")))
}

async fn search(st: AppState, c: Caller, v: Value) -> ApiResult<Json<Value>> {
    c.require("calls", Access::Read)?;
    let (mut f, page, fields) = filter_from(&v)?;
    // Without the permission to read any record, a user sees only its own legs.
    if !c.permissions.iter().any(|p| p == "read") {
        f.user_ids = vec![c.user_id];
    }
    let res = st.store.search_history_legs(c.domain_id, &f, &page).await?;
    // Recordings are filed under the root call id; one query for the whole page.
    let root = |l: &HistoryLeg| {
        let r = &l.record;
        if r.parent_id.is_empty() {
            r.id.clone()
        } else {
            r.parent_id.clone()
        }
    };
    let mut roots: Vec<String> = res.items.iter().map(root).collect();
    roots.sort();
    roots.dedup();
    let files = st.store.files_of_calls(c.domain_id, &roots).await?;
    let items = res
        .items
        .iter()
        .map(|l| {
            let mut w = leg_to_wire(l);
            let id = root(l);
            w.files = files
                .iter()
                .filter(|f| f.call_id == id)
                .map(super::files::call_file)
                .collect();
            w
        })
        .collect();
    let list = ListResponse {
        page: None,
        size: None,
        next: res.next,
        items,
    };
    let out = serde_json::to_value(list).unwrap_or_default();
    let mut q = Params::default();
    if !fields.is_empty() {
        q.0.insert("fields".into(), fields);
    }
    Ok(Json(q.select_fields(out)))
}

/// Search call history by query parameters (`created_at.from`, `user_id`, `number`, …).
#[utoipa::path(get, path = "/api/calls/history", tag = "calls",
    params(("created_at.from" = Option<String>, Query), ("created_at.to" = Option<String>, Query),
           ("user_id" = Option<String>, Query), ("number" = Option<String>, Query),
           ("direction" = Option<String>, Query), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("sort" = Option<String>, Query), ("q" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<HistoryCall>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search_get(
    State(st): State<AppState>,
    c: Caller,
    p: Params,
) -> ApiResult<Json<Value>> {
    // Dotted query keys (`created_at.from`) become nested objects, as the JSON body has them.
    let mut v = serde_json::Map::new();
    for (k, vals) in &p.0 {
        let val = if vals.len() > 1
            || matches!(
                k.as_str(),
                "user_id" | "id" | "cause" | "directions" | "fields" | "queue_id" | "agent_id"
            ) {
            Value::Array(vals.iter().cloned().map(Value::String).collect())
        } else {
            Value::String(vals.first().cloned().unwrap_or_default())
        };
        match k.split_once('.') {
            Some((outer, inner)) => {
                let e = v
                    .entry(outer.to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(m) = e {
                    m.insert(inner.to_string(), val);
                }
            }
            None => {
                v.insert(k.clone(), val);
            }
        }
    }
    search(st, c, Value::Object(v)).await
}

/// Search call history with a JSON body (`engine.SearchHistoryCallRequest`).
#[utoipa::path(post, path = "/api/calls/history", tag = "calls",
    responses((status = 200, body = ListResponse<HistoryCall>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search_post(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    search(st, c, v).await
}
