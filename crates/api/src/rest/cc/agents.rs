//! `/api/call_center/agents`: agents (one per user of the domain) and their status. Reads show
//! the contact center's live state (status, channels) over the stored one when it runs here.

use super::{invalid, list, page, pick, ref_id, AGENT_CLASS};
use crate::auth::{Access, Caller};
use crate::cc::AgentStatusChange;
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{
    Agent, AgentChannel, AgentStatusRequest, ListResponse, ObjectId, StatusResponse,
};
use switchboard_store::{now_ms, AgentFilter, AgentInput, AgentRow, StoreError};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "status",
    "name",
    "channel",
    "description",
    "status_duration",
    "last_status_change",
    "progressive_count",
    "user",
    "greeting_media",
    "allow_channels",
    "chat_count",
    "supervisor",
    "team",
    "region",
    "auditor",
    "is_supervisor",
    "extension",
];

/// The wire agent, with the contact center's live status and channels when it has them.
pub(crate) fn to_wire(st: &AppState, r: &AgentRow) -> Agent {
    let (status, payload, changed, channels) = match st.cc.live_agent(r.domain_id, r.id) {
        Some(l) => (
            l.status,
            l.status_payload,
            l.last_status_change,
            l.channels
                .into_iter()
                .filter_map(|v| serde_json::from_value::<AgentChannel>(v).ok())
                .collect(),
        ),
        None => (
            r.status.clone(),
            r.status_payload.clone(),
            r.last_status_change,
            Vec::new(),
        ),
    };
    let duration = if changed > 0 {
        (now_ms() - changed).max(0) / 1000
    } else {
        0
    };
    Agent {
        id: Some(r.id.to_string()),
        user: Some(oid(&r.user)),
        name: Some(r.user.1.clone()),
        status: Some(status),
        status_payload: payload.filter(|p| !p.is_empty()),
        description: Some(r.description.clone()),
        last_status_change: ms(changed),
        status_duration: Some(duration.to_string()),
        progressive_count: Some(r.progressive_count),
        channel: Some(channels),
        greeting_media: None,
        allow_channels: Some(r.allow_channels.clone()),
        chat_count: Some(r.chat_count),
        supervisor: None,
        team: r.team.as_ref().map(oid),
        region: None,
        auditor: None,
        is_supervisor: Some(r.is_supervisor),
        skills: Some(
            r.skills
                .iter()
                .map(|s| ObjectId::new(s.skill.0, s.skill.1.clone()))
                .collect(),
        ),
        extension: Some(r.extension.clone()),
        task_count: Some(r.task_count),
        screen_control: Some(false),
        allow_set_screen_control: Some(false),
        user_presence_status: None,
        extra_chat_count: None,
    }
}

/// A count of at least 1 (Webitel's `model.Agent.valid.*` rule).
fn count(v: i64, id: &str, what: &str) -> ApiResult<i64> {
    if v < 1 {
        return Err(ApiError::bad_request(
            id,
            format!("{what} is {v}; it should be more or equal 1"),
        ));
    }
    if v > i64::from(u32::MAX) {
        return Err(ApiError::bad_request(id, format!("{what} is too large")));
    }
    Ok(v)
}

async fn apply(
    st: &AppState,
    c: &Caller,
    base: Option<&AgentRow>,
    a: &Agent,
    merge: bool,
) -> ApiResult<AgentInput> {
    let user_id = match (&a.user, merge, base) {
        (Some(u), _, _) => ref_id(u, "agent", "user")?,
        (None, true, Some(b)) => Some(b.user.0),
        _ => None,
    };
    let Some(user_id) = user_id else {
        return Err(invalid(
            "agent",
            "user",
            "user is required: the user who works as this agent, {\"id\": …}",
        ));
    };
    match st.store.get_user(c.domain_id, user_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => {
            return Err(invalid(
                "agent",
                "user",
                format!("user {user_id} does not exist in this domain"),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(other) = st.store.agent_id_of_user(c.domain_id, user_id).await? {
        if Some(other) != base.map(|b| b.id) {
            return Err(ApiError::new(
                409,
                "app.agent.valid.user",
                format!("user {user_id} is already agent {other}; a user has at most one agent"),
            ));
        }
    }
    let team_id = match (&a.team, merge, base) {
        (Some(t), _, _) => ref_id(t, "agent", "team")?,
        (None, true, Some(b)) => b.team.as_ref().map(|t| t.0),
        _ => None,
    };
    if let Some(t) = team_id {
        if !st.store.team_exists(c.domain_id, t).await? {
            return Err(invalid(
                "agent",
                "team",
                format!("team {t} does not exist in this domain"),
            ));
        }
    }
    let progressive = count(
        i64::from(pick(
            &a.progressive_count,
            base.map(|b| b.progressive_count),
            merge,
            1,
        )),
        "model.Agent.valid.ProgressiveCount",
        "progressive_count",
    )?;
    Ok(AgentInput {
        user_id,
        team_id,
        description: pick(
            &a.description,
            base.map(|b| b.description.clone()),
            merge,
            String::new(),
        ),
        progressive_count: i32::try_from(progressive).map_err(|_| {
            ApiError::bad_request(
                "model.Agent.valid.ProgressiveCount",
                "progressive_count is too large",
            )
        })?,
        chat_count: count(
            pick(&a.chat_count, base.map(|b| b.chat_count), merge, 1),
            "model.Agent.valid.ChatCount",
            "chat_count",
        )?,
        task_count: count(
            pick(&a.task_count, base.map(|b| b.task_count), merge, 1),
            "model.Agent.valid.TaskCount",
            "task_count",
        )?,
        is_supervisor: pick(
            &a.is_supervisor,
            base.map(|b| b.is_supervisor),
            merge,
            false,
        ),
        allow_channels: pick(
            &a.allow_channels,
            base.map(|b| b.allow_channels.clone()),
            merge,
            Vec::new(),
        )
        .into_iter()
        .map(|ch| ch.trim().to_string())
        .filter(|ch| !ch.is_empty())
        .collect(),
    })
}

/// Make a user of the domain an agent (`user` required; one agent per user). The agent starts
/// `offline`.
#[utoipa::path(post, path = "/api/call_center/agents", tag = "call_center", request_body = Agent,
    responses((status = 200, body = Agent), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(a): JsonBody<Agent>,
) -> ApiResult<Json<Agent>> {
    c.require(AGENT_CLASS, Access::Create)?;
    let input = apply(&st, &c, None, &a, false).await?;
    let row = st
        .store
        .create_agent(c.domain_id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&st, &row)))
}

/// Search agents: `q` (name, username, extension, description), `id`, `user_id`,
/// `not_user_id`, `team_id`, `not_team_id`, `skill_id`, `not_skill_id`, `queue_id` (agents who
/// can serve the queue), `extension`, `is_supervisor`, `not_supervisor`, paging, `sort`,
/// `fields`.
#[utoipa::path(get, path = "/api/call_center/agents", tag = "call_center",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query),
           ("id" = Option<Vec<String>>, Query), ("user_id" = Option<Vec<String>>, Query),
           ("team_id" = Option<Vec<String>>, Query), ("skill_id" = Option<Vec<String>>, Query),
           ("queue_id" = Option<Vec<String>>, Query), ("extension" = Option<Vec<String>>, Query),
           ("not_user_id" = Option<Vec<String>>, Query), ("not_team_id" = Option<Vec<String>>, Query),
           ("not_skill_id" = Option<Vec<String>>, Query), ("is_supervisor" = Option<bool>, Query),
           ("not_supervisor" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<Agent>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let page = page(&p)?;
    let is_supervisor = if p.bool("is_supervisor") {
        Some(true)
    } else if p.bool("not_supervisor") {
        Some(false)
    } else {
        None
    };
    let filter = AgentFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        user_ids: p.ints("user_id")?,
        not_user_ids: p.ints("not_user_id")?,
        team_ids: p.ints("team_id")?,
        not_team_ids: p.ints("not_team_id")?,
        skill_ids: p.ints("skill_id")?,
        not_skill_ids: p.ints("not_skill_id")?,
        queue_ids: p.ints("queue_id")?,
        extensions: p.all("extension"),
        is_supervisor,
    };
    let res = st.store.search_agents(c.domain_id, &filter, &page).await?;
    let items = res.items.iter().map(|r| to_wire(&st, r)).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Read an agent.
#[utoipa::path(get, path = "/api/call_center/agents/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Agent), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Agent>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let row = st
        .store
        .get_agent(c.domain_id, path_id(&id, "agent")?)
        .await?;
    Ok(Json(to_wire(&st, &row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    a: Agent,
    merge: bool,
) -> ApiResult<Json<Agent>> {
    c.require(AGENT_CLASS, Access::Update)?;
    let id = path_id(&id, "agent")?;
    let base = st.store.get_agent(c.domain_id, id).await?;
    let input = apply(&st, &c, Some(&base), &a, merge).await?;
    let row = st
        .store
        .update_agent(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&st, &row)))
}

/// Replace an agent's settings (`user` required); its status and skills stay.
#[utoipa::path(put, path = "/api/call_center/agents/{id}", tag = "call_center", request_body = Agent,
    params(("id" = String, Path)),
    responses((status = 200, body = Agent), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(a): JsonBody<Agent>,
) -> ApiResult<Json<Agent>> {
    write(st, c, id, a, false).await
}

/// Change some settings of an agent (`team: {}` takes it out of its team).
#[utoipa::path(patch, path = "/api/call_center/agents/{id}", tag = "call_center", request_body = Agent,
    params(("id" = String, Path)),
    responses((status = 200, body = Agent), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(a): JsonBody<Agent>,
) -> ApiResult<Json<Agent>> {
    write(st, c, id, a, true).await
}

/// Delete an agent and its skills (its user stays); answers the deleted agent.
#[utoipa::path(delete, path = "/api/call_center/agents/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Agent), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Agent>> {
    c.require(AGENT_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_agent(c.domain_id, path_id(&id, "agent")?)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&st, &row)))
}

/// The change a status request asks for; an unknown status is Webitel's 400.
pub(crate) fn status_change(b: &AgentStatusRequest) -> ApiResult<AgentStatusChange> {
    let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    match b.status.trim() {
        "online" => Ok(AgentStatusChange::Online {
            on_demand: b.on_demand,
        }),
        "pause" => Ok(AgentStatusChange::Pause {
            payload: text(&b.payload),
            comment: text(&b.status_comment),
        }),
        "offline" => Ok(AgentStatusChange::Offline),
        other => Err(ApiError::bad_request(
            "grpc.agent.update_status",
            format!("not found status {other:?}: use online, pause or offline"),
        )),
    }
}

/// Put an agent online, on pause (`payload` = the cause) or offline. An agent's own user
/// needs only read access to agents; anyone else needs update access.
#[utoipa::path(patch, path = "/api/call_center/agents/{id}/status", tag = "call_center",
    request_body = AgentStatusRequest, params(("id" = String, Path)),
    responses((status = 200, body = StatusResponse), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn set_status(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AgentStatusRequest>,
) -> ApiResult<Json<StatusResponse>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let id = path_id(&id, "agent")?;
    let change = status_change(&b)?;
    if st.store.agent_id_of_user(c.domain_id, c.user_id).await? != Some(id) {
        c.require(AGENT_CLASS, Access::Update)?;
    }
    // 404 for an agent of no domain of the caller's, before the contact center sees it.
    st.store.get_agent(c.domain_id, id).await?;
    st.cc.set_status(c.domain_id, id, change).await?;
    Ok(Json(StatusResponse {
        status: "OK".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_changes_and_others_are_refused() {
        let req = |s: &str| AgentStatusRequest {
            status: s.into(),
            on_demand: true,
            payload: Some("Lunch".into()),
            status_comment: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(
            status_change(&req("online")).unwrap(),
            AgentStatusChange::Online { on_demand: true }
        );
        assert_eq!(
            status_change(&req("pause")).unwrap(),
            AgentStatusChange::Pause {
                payload: Some("Lunch".into()),
                comment: None
            }
        );
        assert_eq!(
            status_change(&req("offline")).unwrap(),
            AgentStatusChange::Offline
        );
        for bad in ["", "busy", "Online"] {
            assert_eq!(
                status_change(&req(bad)).unwrap_err().0.id,
                "grpc.agent.update_status"
            );
        }
    }
}
