//! `/api/call_center/teams`: teams of agents and how calls are offered to them.

use super::{invalid, list, name, page, pick, within, AGENT_CLASS};
use crate::auth::{Access, Caller};
use crate::error::ApiResult;
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::cc::TEAM_STRATEGIES;
use switchboard_model::{ListResponse, Team};
use switchboard_store::{TeamFilter, TeamInput, TeamRow};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "strategy",
    "max_no_answer",
    "wrap_up_time",
    "no_answer_delay_time",
    "call_timeout",
    "updated_at",
    "admin",
    "invite_chat_timeout",
    "task_accept_timeout",
    "forecast_calculation",
];

/// Team times and counts are Webitel's int16.
const MAX_SMALL: i64 = i16::MAX as i64;

fn to_wire(r: &TeamRow) -> Team {
    Team {
        id: Some(r.id.to_string()),
        name: Some(r.name.clone()),
        description: Some(r.description.clone()),
        strategy: Some(r.strategy.clone()),
        max_no_answer: Some(r.max_no_answer),
        no_answer_delay_time: Some(r.no_answer_delay_time),
        wrap_up_time: Some(r.wrap_up_time),
        call_timeout: Some(r.call_timeout),
        invite_chat_timeout: Some(r.invite_chat_timeout),
        task_accept_timeout: Some(r.task_accept_timeout),
        admin: None,
        created_at: ms(r.created_at),
        created_by: r.created_by.as_ref().map(oid),
        updated_at: ms(r.updated_at),
        updated_by: r.updated_by.as_ref().map(oid),
    }
}

fn apply(base: Option<&TeamRow>, t: &Team, merge: bool) -> ApiResult<TeamInput> {
    let name = name(
        pick(&t.name, base.map(|b| b.name.clone()), merge, String::new()),
        "team",
    )?;
    let strategy = pick(
        &t.strategy,
        base.map(|b| b.strategy.clone()),
        merge,
        String::new(),
    )
    .trim()
    .to_string();
    if strategy.is_empty() {
        return Err(invalid(
            "team",
            "strategy",
            format!(
                "strategy is required: one of {}",
                TEAM_STRATEGIES.join(", ")
            ),
        ));
    }
    if !TEAM_STRATEGIES.contains(&strategy.as_str()) {
        return Err(invalid(
            "team",
            "strategy",
            format!(
                "strategy {strategy:?} is not one of {}",
                TEAM_STRATEGIES.join(", ")
            ),
        ));
    }
    let small = |new: Option<i32>, old: Option<i32>, field: &str| -> ApiResult<i32> {
        let v = pick(&new, old, merge, 0);
        Ok(within(i64::from(v), 0..=MAX_SMALL, "team", field)? as i32)
    };
    Ok(TeamInput {
        name,
        description: pick(
            &t.description,
            base.map(|b| b.description.clone()),
            merge,
            String::new(),
        ),
        strategy,
        max_no_answer: small(
            t.max_no_answer,
            base.map(|b| b.max_no_answer),
            "max_no_answer",
        )?,
        no_answer_delay_time: small(
            t.no_answer_delay_time,
            base.map(|b| b.no_answer_delay_time),
            "no_answer_delay_time",
        )?,
        wrap_up_time: small(t.wrap_up_time, base.map(|b| b.wrap_up_time), "wrap_up_time")?,
        call_timeout: small(t.call_timeout, base.map(|b| b.call_timeout), "call_timeout")?,
        invite_chat_timeout: small(
            t.invite_chat_timeout,
            base.map(|b| b.invite_chat_timeout),
            "invite_chat_timeout",
        )?,
        task_accept_timeout: small(
            t.task_accept_timeout,
            base.map(|b| b.task_accept_timeout),
            "task_accept_timeout",
        )?,
    })
}

/// Create a team; `strategy` is one of random, fewest-calls, least-talk-time, top-down,
/// round-robin, round-robin-bucket, longest-idle-agent, skill-capacity.
#[utoipa::path(post, path = "/api/call_center/teams", tag = "call_center", request_body = Team,
    responses((status = 200, body = Team), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(t): JsonBody<Team>,
) -> ApiResult<Json<Team>> {
    c.require(AGENT_CLASS, Access::Create)?;
    let input = apply(None, &t, false)?;
    let row = st
        .store
        .create_team(c.domain_id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Search teams: `q` (name, description), `id`, `strategy`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/teams", tag = "call_center",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query),
           ("id" = Option<Vec<String>>, Query), ("strategy" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<Team>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let page = page(&p)?;
    let filter = TeamFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        strategies: p.all("strategy"),
    };
    let res = st.store.search_teams(c.domain_id, &filter, &page).await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Read a team.
#[utoipa::path(get, path = "/api/call_center/teams/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Team), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Team>> {
    c.require(AGENT_CLASS, Access::Read)?;
    let row = st
        .store
        .get_team(c.domain_id, path_id(&id, "team")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(st: AppState, c: Caller, id: String, t: Team, merge: bool) -> ApiResult<Json<Team>> {
    c.require(AGENT_CLASS, Access::Update)?;
    let id = path_id(&id, "team")?;
    let base = st.store.get_team(c.domain_id, id).await?;
    let input = apply(Some(&base), &t, merge)?;
    let row = st
        .store
        .update_team(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace a team; absent fields take their defaults.
#[utoipa::path(put, path = "/api/call_center/teams/{id}", tag = "call_center", request_body = Team,
    params(("id" = String, Path)),
    responses((status = 200, body = Team), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(t): JsonBody<Team>,
) -> ApiResult<Json<Team>> {
    write(st, c, id, t, false).await
}

/// Change some fields of a team.
#[utoipa::path(patch, path = "/api/call_center/teams/{id}", tag = "call_center", request_body = Team,
    params(("id" = String, Path)),
    responses((status = 200, body = Team), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(t): JsonBody<Team>,
) -> ApiResult<Json<Team>> {
    write(st, c, id, t, true).await
}

/// Delete a team no agent or queue belongs to (409 names one that does).
#[utoipa::path(delete, path = "/api/call_center/teams/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Team), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Team>> {
    c.require(AGENT_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_team(c.domain_id, path_id(&id, "team")?)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_and_times_are_checked() {
        let ok = Team {
            name: Some(" Support ".into()),
            strategy: Some("round-robin".into()),
            call_timeout: Some(20),
            ..Default::default()
        };
        let input = apply(None, &ok, false).unwrap();
        assert_eq!((input.name.as_str(), input.call_timeout), ("Support", 20));
        let bad = Team {
            strategy: Some("roundrobin".into()),
            ..ok.clone()
        };
        assert_eq!(
            apply(None, &bad, false).unwrap_err().0.id,
            "app.team.valid.strategy"
        );
        let negative = Team {
            wrap_up_time: Some(-1),
            ..ok.clone()
        };
        assert_eq!(
            apply(None, &negative, false).unwrap_err().0.id,
            "app.team.valid.wrap_up_time"
        );
        let nameless = Team { name: None, ..ok };
        assert_eq!(
            apply(None, &nameless, false).unwrap_err().0.id,
            "app.team.valid.name"
        );
    }
}
