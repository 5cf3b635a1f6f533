//! webitel-sdk wire JSON (CC-NOTES 1.2, 1.3, 1.6): numbers for ids, epoch ms for times, every
//! sub-object the SDK dereferences present.

use crate::state::{Agent, Attempt, ChanState, Status, CHANNELS};
use serde_json::{json, Map, Value};

/// `communication` of an inbound call: the caller's number; type is Go's zero value.
pub(crate) fn communication(a: &Attempt) -> Value {
    json!({"destination": a.number, "type": {"id": 0, "name": ""}})
}

fn member_name(a: &Attempt) -> Value {
    if a.name.is_empty() {
        Value::Null
    } else {
        Value::String(a.name.clone())
    }
}

/// `(state, joined_at, timeout, no_answers)` of one channel.
fn channel_row(agent: &Agent, name: &str) -> (&'static str, i64, i64, u32) {
    if name == "call" {
        let c = &agent.call;
        (c.state.as_str(), c.joined_at, c.timeout, c.no_answers)
    } else {
        ("waiting", agent.others_joined_at, 0, 0)
    }
}

/// The `agent_status` event. Online events carry every channel (the SDK's `initChannels`
/// iterates them); payload and comment are omitted when empty (Go `omitempty`).
pub(crate) fn status_event(agent: &Agent, now_ms: i64) -> Value {
    let mut m = Map::new();
    if agent.status == Status::Online {
        let channels: Vec<Value> = CHANNELS
            .iter()
            .map(|name| {
                let (state, joined_at, _, no_answers) = channel_row(agent, name);
                json!({"channel": name, "state": state, "joined_at": joined_at,
                       "no_answers": no_answers})
            })
            .collect();
        m.insert("channels".into(), channels.into());
        m.insert("on_demand".into(), agent.on_demand.into());
    }
    m.insert("agent_id".into(), agent.conf.id.into());
    m.insert("user_id".into(), agent.conf.user_id.into());
    m.insert("domain_id".into(), agent.domain_id.into());
    m.insert("timestamp".into(), now_ms.into());
    m.insert("status".into(), agent.status.as_str().into());
    if let Some(p) = agent.payload.as_deref().filter(|p| !p.is_empty()) {
        m.insert("status_payload".into(), p.into());
    }
    if let Some(c) = agent.comment.as_deref().filter(|c| !c.is_empty()) {
        m.insert("status_comment".into(), c.into());
    }
    Value::Object(m)
}

/// A `channel` event of the call channel; `attempt_id` is omitted when `None` (`omitempty`).
pub(crate) fn channel_event(
    status: ChanState,
    attempt_id: Option<i64>,
    now_ms: i64,
    extra: Option<(&str, Value)>,
) -> Value {
    channel_event_named(status.as_str(), attempt_id, now_ms, extra)
}

pub(crate) fn channel_event_named(
    status: &str,
    attempt_id: Option<i64>,
    now_ms: i64,
    extra: Option<(&str, Value)>,
) -> Value {
    let mut m = Map::new();
    if let Some(id) = attempt_id {
        m.insert("attempt_id".into(), id.into());
    }
    m.insert("channel".into(), "call".into());
    m.insert("status".into(), status.into());
    m.insert("timestamp".into(), now_ms.into());
    if let Some((k, v)) = extra {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

pub(crate) fn distribute(a: &Attempt, app_id: &str, agent_id: i64) -> Value {
    json!({
        "app_id": app_id,
        "channel": "call",
        "queue_id": a.queue_id,
        "queue_name": a.queue_name,
        "member_id": null,
        "member_name": member_name(a),
        "agent_id": agent_id,
        "member_channel_id": a.member_leg,
        "agent_channel_id": a.agent_leg,
        "communication": communication(a),
        "variables": null,
        "has_reporting": a.has_reporting(),
        // Ours: when the caller joined the queue (ms), for an agent page's wait time.
        "joined_at": a.joined_at,
    })
}

pub(crate) fn offering(a: &Attempt) -> Value {
    json!({
        "member_channel_id": a.member_leg,
        "agent_channel_id": a.agent_leg,
        "auto_answer": a.auto_answer,
    })
}

/// `processing` payload; `sec` is what is left of the deadline (renewals send the rest).
pub(crate) fn processing(deadline: i64, now_ms: i64, renewal_sec: u32) -> Value {
    json!({
        "autosave": false,
        "timeout": deadline,
        "sec": ((deadline - now_ms).max(0) / 1000),
        "renewal_sec": renewal_sec,
        "processing_prolongation": null,
    })
}

/// The `cc_agent_session` reply.
pub(crate) fn session(agent: &Agent, team: Option<(i64, &str)>, now_ms: i64) -> Value {
    let channels: Vec<Value> = CHANNELS
        .iter()
        .map(|name| {
            let (state, joined_at, timeout, no_answers) = channel_row(agent, name);
            let mut m = Map::new();
            m.insert("channel".into(), (*name).into());
            m.insert("state".into(), state.into());
            m.insert("open".into(), 0.into());
            m.insert("max_open".into(), 0.into());
            m.insert("no_answer".into(), no_answers.into());
            m.insert("joined_at".into(), joined_at.into());
            m.insert("timeout".into(), timeout.into());
            if *name == "call" && agent.call.state == ChanState::WrapTime {
                if let Some(id) = agent.call.attempt {
                    m.insert("wrap_time_ids".into(), json!([id]));
                }
            }
            Value::Object(m)
        })
        .collect();
    let team = match team {
        Some((id, name)) => json!({"id": id, "name": name}),
        None => Value::Null,
    };
    json!({
        "agent_id": agent.conf.id,
        "status": agent.status.as_str(),
        "status_payload": agent.payload.clone().unwrap_or_default(),
        "status_comment": agent.comment.clone().unwrap_or_default(),
        "last_status_change": agent.last_status_change,
        "status_duration": ((now_ms - agent.last_status_change).max(0) / 1000),
        "on_demand": agent.on_demand,
        "team": team,
        "is_supervisor": false,
        "is_admin": false,
        "channels": channels,
        "supervisor": null,
        "auditor": null,
        "screen_control": false,
        "desc_track": false,
    })
}

fn processing_sec(a: &Attempt) -> (u32, u32) {
    a.processing.unwrap_or((0, 0))
}

/// One `cc_agent_tasks` item (ENG `CCTask`).
pub(crate) fn task(a: &Attempt, app_id: &str) -> Value {
    let (sec, renewal) = processing_sec(a);
    json!({
        "attempt_id": a.id,
        "app_id": app_id,
        "channel": "call",
        "queue_id": a.queue_id,
        "queue_name": a.queue_name,
        "member_id": null,
        "member_name": member_name(a),
        "member_channel_id": a.member_leg,
        "agent_channel_id": a.agent_leg,
        "communication": communication(a),
        "leaving_at": a.leaving_at.unwrap_or(0),
        "joined_at": a.joined_at,
        "processing_timeout_at": a.processing_deadline,
        "bridged_at": a.bridged_at.unwrap_or(0),
        "processing_sec": sec,
        "processing_renewal_sec": renewal,
        "processing_autosave": false,
        "has_reporting": a.has_reporting(),
        "has_form": false,
        "form": null,
        "state": a.state.as_str(),
        "variables": null,
        "agent_id": a.agent_id,
        "has_prolongation": false,
        "remaining_prolongations": 0,
        "prolongation_sec": 0,
    })
}

/// The `task` of a `subscribe_call` item (ENG `GetUserActiveCall`), plus `communication` so
/// `task.displayNumber` works.
pub(crate) fn leg_task(a: &Attempt, app_id: &str) -> Value {
    let (sec, renewal) = processing_sec(a);
    json!({
        "attempt_id": a.id,
        "channel": "call",
        "app_id": app_id,
        "queue_id": a.queue_id,
        "queue_name": a.queue_name,
        "member_id": null,
        "member_channel_id": a.member_leg,
        "agent_channel_id": a.agent_leg,
        "destination": communication(a),
        "communication": communication(a),
        "state": a.state.as_str(),
        "leaving_at": a.leaving_at.unwrap_or(0),
        "joined_at": a.joined_at,
        "has_reporting": a.has_reporting(),
        "has_form": false,
        "processing_sec": sec,
        "processing_renewal_sec": renewal,
        "has_prolongation": false,
        "remaining_prolongations": 0,
        "prolongation_sec": 0,
        "processing_timeout_at": a.processing_deadline,
        "form": null,
    })
}

/// REST `channel[]` items (int64 fields are strings in proto3 JSON).
pub(crate) fn rest_channels(agent: &Agent) -> Vec<Value> {
    CHANNELS
        .iter()
        .map(|name| {
            let (state, joined_at, timeout, _) = channel_row(agent, name);
            json!({"channel": name, "state": state, "joined_at": joined_at.to_string(),
                   "timeout": timeout.to_string()})
        })
        .collect()
}
