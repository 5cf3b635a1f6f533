//! `/api/call_center/agents/{agent_id}/skills`: an agent's skills, each with a capacity 0–100.

use super::{invalid, list, lookup, page, pick, ref_id, AGENT_CLASS};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{AgentSkill, AgentSkillsPatch, ListResponse};
use switchboard_store::{AgentSkillFilter, AgentSkillInput, AgentSkillRow, AgentSkillsChange};

const DEFAULT_FIELDS: &[&str] = &["id", "skill", "capacity", "enabled", "team", "agent"];

fn to_wire(r: &AgentSkillRow) -> AgentSkill {
    AgentSkill {
        id: Some(r.id.to_string()),
        agent: Some(lookup(&r.agent)),
        skill: Some(lookup(&r.skill)),
        team: r.team.as_ref().map(lookup),
        capacity: Some(r.capacity),
        enabled: Some(r.enabled),
        created_at: ms(r.created_at),
        created_by: r.created_by.as_ref().map(oid),
        updated_at: ms(r.updated_at),
        updated_by: r.updated_by.as_ref().map(oid),
    }
}

/// A capacity within 0–100 (Webitel's `agent_skill.valid.capacity`).
fn capacity(v: i32) -> ApiResult<i32> {
    if (0..=100).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "agent_skill.valid.capacity",
            format!("capacity is {v}; it must be between 0 and 100"),
        ))
    }
}

async fn apply(
    st: &AppState,
    c: &Caller,
    agent_id: i64,
    base: Option<&AgentSkillRow>,
    s: &AgentSkill,
    merge: bool,
) -> ApiResult<AgentSkillInput> {
    let skill_id = match (&s.skill, merge, base) {
        (Some(r), _, _) => ref_id(r, "agent_skill", "skill")?,
        (None, true, Some(b)) => Some(b.skill.0),
        _ => None,
    };
    let Some(skill_id) = skill_id else {
        return Err(invalid(
            "agent_skill",
            "skill",
            "skill is required: the skill the agent has, {\"id\": …}",
        ));
    };
    if !st.store.skill_exists(c.domain_id, skill_id).await? {
        return Err(invalid(
            "agent_skill",
            "skill",
            format!("skill {skill_id} does not exist in this domain"),
        ));
    }
    if base.map(|b| b.skill.0) != Some(skill_id) {
        let same = st
            .store
            .search_agent_skills(
                c.domain_id,
                agent_id,
                &AgentSkillFilter {
                    skill_ids: vec![skill_id],
                    ..Default::default()
                },
                &Default::default(),
            )
            .await?;
        if let Some(other) = same.items.first() {
            return Err(ApiError::new(
                409,
                "app.agent_skill.valid.skill",
                format!(
                    "agent {agent_id} already has skill {skill_id} (agent skill {})",
                    other.id
                ),
            ));
        }
    }
    Ok(AgentSkillInput {
        skill_id,
        capacity: capacity(pick(&s.capacity, base.map(|b| b.capacity), merge, 0))?,
        // Webitel's zero value would be a disabled skill; a skill given is meant to count.
        enabled: pick(&s.enabled, base.map(|b| b.enabled), merge, true),
    })
}

/// The agent id of the path, checked to exist in the caller's domain.
async fn agent_of(st: &AppState, c: &Caller, raw: &str) -> ApiResult<i64> {
    let id = path_id(raw, "agent")?;
    st.store.get_agent(c.domain_id, id).await?;
    Ok(id)
}

fn id_list(values: &[String], field: &str) -> ApiResult<Vec<i64>> {
    values
        .iter()
        .map(|v| {
            v.trim().parse().map_err(|_| {
                invalid(
                    "agent_skill",
                    field,
                    format!("{field} {v:?} is not an integer"),
                )
            })
        })
        .collect()
}

fn items(rows: &[AgentSkillRow]) -> ListResponse<AgentSkill> {
    ListResponse {
        page: None,
        size: None,
        next: false,
        items: rows.iter().map(to_wire).collect(),
    }
}

/// Give an agent a skill (`skill` required, `capacity` 0–100, `enabled` true unless given).
#[utoipa::path(post, path = "/api/call_center/agents/{agent_id}/skills", tag = "call_center",
    request_body = AgentSkill, params(("agent_id" = String, Path)),
    responses((status = 200, body = AgentSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(agent_id): Path<String>,
    JsonBody(s): JsonBody<AgentSkill>,
) -> ApiResult<Json<AgentSkill>> {
    c.require(AGENT_CLASS, Access::Create)?;
    let agent_id = agent_of(&st, &c, &agent_id).await?;
    let input = apply(&st, &c, agent_id, None, &s, false).await?;
    let row = st
        .store
        .create_agent_skill(c.domain_id, agent_id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// An agent's skills: `q` (skill name), `id`, `skill_id`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/agents/{agent_id}/skills", tag = "call_center",
    params(("agent_id" = String, Path), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("q" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("fields" = Option<Vec<String>>, Query), ("id" = Option<Vec<String>>, Query),
           ("skill_id" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<AgentSkill>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(
    State(st): State<AppState>,
    c: Caller,
    Path(agent_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let agent_id = agent_of(&st, &c, &agent_id).await?;
    let page = page(&p)?;
    let filter = AgentSkillFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        skill_ids: p.ints("skill_id")?,
    };
    let res = st
        .store
        .search_agent_skills(c.domain_id, agent_id, &filter, &page)
        .await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Set `capacity` and/or `enabled` on the agent's skills named by `id` or `skill_id` (all of
/// them when both are empty); answers the changed skills.
#[utoipa::path(patch, path = "/api/call_center/agents/{agent_id}/skills", tag = "call_center",
    request_body = AgentSkillsPatch, params(("agent_id" = String, Path)),
    responses((status = 200, body = ListResponse<AgentSkill>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch_many(
    State(st): State<AppState>,
    c: Caller,
    Path(agent_id): Path<String>,
    JsonBody(b): JsonBody<AgentSkillsPatch>,
) -> ApiResult<Json<ListResponse<AgentSkill>>> {
    c.require(AGENT_CLASS, Access::Update)?;
    let agent_id = agent_of(&st, &c, &agent_id).await?;
    let change = AgentSkillsChange {
        ids: id_list(&b.id, "id")?,
        skill_ids: id_list(&b.skill_id, "skill_id")?,
        capacity: b.capacity.map(capacity).transpose()?,
        enabled: b.enabled,
    };
    let rows = st
        .store
        .patch_agent_skills(c.domain_id, agent_id, &change, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(items(&rows)))
}

/// Take skills from an agent by `id` or `skill_id` (query); answers the removed skills.
#[utoipa::path(delete, path = "/api/call_center/agents/{agent_id}/skills", tag = "call_center",
    params(("agent_id" = String, Path), ("id" = Option<Vec<String>>, Query),
           ("skill_id" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<AgentSkill>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_many(
    State(st): State<AppState>,
    c: Caller,
    Path(agent_id): Path<String>,
    p: Params,
) -> ApiResult<Json<ListResponse<AgentSkill>>> {
    c.require(AGENT_CLASS, Access::Delete)?;
    let agent_id = agent_of(&st, &c, &agent_id).await?;
    let (ids, skill_ids) = (p.ints("id")?, p.ints("skill_id")?);
    if ids.is_empty() && skill_ids.is_empty() {
        return Err(invalid(
            "agent_skill",
            "id",
            "give id or skill_id: the skills to take from the agent",
        ));
    }
    let rows = st
        .store
        .delete_agent_skills(c.domain_id, agent_id, &ids, &skill_ids)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(items(&rows)))
}

/// Read one skill of an agent.
#[utoipa::path(get, path = "/api/call_center/agents/{agent_id}/skills/{id}", tag = "call_center",
    params(("agent_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AgentSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path((agent_id, id)): Path<(String, String)>,
) -> ApiResult<Json<AgentSkill>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let row = st
        .store
        .get_agent_skill(
            c.domain_id,
            path_id(&agent_id, "agent")?,
            path_id(&id, "agent_skill")?,
        )
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    agent_id: String,
    id: String,
    s: AgentSkill,
    merge: bool,
) -> ApiResult<Json<AgentSkill>> {
    c.require(AGENT_CLASS, Access::Update)?;
    let (agent_id, id) = (path_id(&agent_id, "agent")?, path_id(&id, "agent_skill")?);
    let base = st.store.get_agent_skill(c.domain_id, agent_id, id).await?;
    let input = apply(&st, &c, agent_id, Some(&base), &s, merge).await?;
    let row = st
        .store
        .update_agent_skill(c.domain_id, agent_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace one skill of an agent.
#[utoipa::path(put, path = "/api/call_center/agents/{agent_id}/skills/{id}", tag = "call_center",
    request_body = AgentSkill, params(("agent_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AgentSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path((agent_id, id)): Path<(String, String)>,
    JsonBody(s): JsonBody<AgentSkill>,
) -> ApiResult<Json<AgentSkill>> {
    write(st, c, agent_id, id, s, false).await
}

/// Change one skill of an agent.
#[utoipa::path(patch, path = "/api/call_center/agents/{agent_id}/skills/{id}", tag = "call_center",
    request_body = AgentSkill, params(("agent_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AgentSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path((agent_id, id)): Path<(String, String)>,
    JsonBody(s): JsonBody<AgentSkill>,
) -> ApiResult<Json<AgentSkill>> {
    write(st, c, agent_id, id, s, true).await
}

/// Take one skill from an agent; answers it.
#[utoipa::path(delete, path = "/api/call_center/agents/{agent_id}/skills/{id}", tag = "call_center",
    params(("agent_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AgentSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((agent_id, id)): Path<(String, String)>,
) -> ApiResult<Json<AgentSkill>> {
    c.require(AGENT_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_agent_skill(
            c.domain_id,
            path_id(&agent_id, "agent")?,
            path_id(&id, "agent_skill")?,
        )
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}
