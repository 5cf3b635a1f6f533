//! `/api/call_center/skills`: skills agents have and queues ask for.

use super::{list, name, page, pick, AGENT_CLASS};
use crate::auth::{Access, Caller};
use crate::error::ApiResult;
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{ListResponse, Skill};
use switchboard_store::{SkillFilter, SkillInput, SkillRow};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "active_agents",
    "total_agents",
    "created_by",
    "updated_by",
];

fn to_wire(r: &SkillRow) -> Skill {
    Skill {
        id: Some(r.id.to_string()),
        name: Some(r.name.clone()),
        description: Some(r.description.clone()),
        active_agents: Some(r.active_agents),
        total_agents: Some(r.total_agents),
        created_at: ms(r.created_at),
        created_by: r.created_by.as_ref().map(oid),
        updated_at: ms(r.updated_at),
        updated_by: r.updated_by.as_ref().map(oid),
    }
}

fn apply(base: Option<&SkillRow>, s: &Skill, merge: bool) -> ApiResult<SkillInput> {
    Ok(SkillInput {
        name: name(
            pick(&s.name, base.map(|b| b.name.clone()), merge, String::new()),
            "skill",
        )?,
        description: pick(
            &s.description,
            base.map(|b| b.description.clone()),
            merge,
            String::new(),
        ),
    })
}

/// Create a skill.
#[utoipa::path(post, path = "/api/call_center/skills", tag = "call_center", request_body = Skill,
    responses((status = 200, body = Skill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(s): JsonBody<Skill>,
) -> ApiResult<Json<Skill>> {
    c.require(AGENT_CLASS, Access::Create)?;
    let input = apply(None, &s, false)?;
    let row = st
        .store
        .create_skill(c.domain_id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Search skills: `q` (name, description), `id`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/skills", tag = "call_center",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query),
           ("id" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<Skill>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let page = page(&p)?;
    let filter = SkillFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
    };
    let res = st.store.search_skills(c.domain_id, &filter, &page).await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Read a skill.
#[utoipa::path(get, path = "/api/call_center/skills/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Skill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Skill>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let row = st
        .store
        .get_skill(c.domain_id, path_id(&id, "skill")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    s: Skill,
    merge: bool,
) -> ApiResult<Json<Skill>> {
    c.require(AGENT_CLASS, Access::Update)?;
    let id = path_id(&id, "skill")?;
    let base = st.store.get_skill(c.domain_id, id).await?;
    let input = apply(Some(&base), &s, merge)?;
    let row = st
        .store
        .update_skill(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace a skill.
#[utoipa::path(put, path = "/api/call_center/skills/{id}", tag = "call_center", request_body = Skill,
    params(("id" = String, Path)),
    responses((status = 200, body = Skill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<Skill>,
) -> ApiResult<Json<Skill>> {
    write(st, c, id, s, false).await
}

/// Change some fields of a skill.
#[utoipa::path(patch, path = "/api/call_center/skills/{id}", tag = "call_center", request_body = Skill,
    params(("id" = String, Path)),
    responses((status = 200, body = Skill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<Skill>,
) -> ApiResult<Json<Skill>> {
    write(st, c, id, s, true).await
}

/// Delete a skill; agents and queues lose it.
#[utoipa::path(delete, path = "/api/call_center/skills/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Skill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Skill>> {
    c.require(AGENT_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_skill(c.domain_id, path_id(&id, "skill")?)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}
