//! `/api/call_center/queues/attempts/history`: queue attempts as the contact center wrote them.

use super::{list, ms_opt, page, QUEUE_CLASS};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::Value;
use switchboard_model::cc::MemberCommunication;
use switchboard_model::{AttemptHistory, ListResponse, ObjectId};
use switchboard_store::{AttemptFilter, AttemptRow};

/// Every field: Webitel's attempt lists have no narrower default.
const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "channel",
    "queue",
    "member",
    "agent",
    "team",
    "member_call_id",
    "agent_call_id",
    "destination",
    "joined_at",
    "offering_at",
    "bridged_at",
    "reporting_at",
    "leaving_at",
    "result",
    "description",
    "variables",
];

pub(crate) fn to_wire(a: &AttemptRow) -> AttemptHistory {
    AttemptHistory {
        id: a.id.to_string(),
        channel: "call".into(),
        queue: Some(ObjectId::new(a.queue_id, a.queue_name.clone())),
        // Inbound attempts have no member list entry.
        member: a
            .member_id
            .map(|id| ObjectId::new(id, a.member_name.clone().unwrap_or_default())),
        agent: a
            .agent_id
            .map(|id| ObjectId::new(id, a.agent_name.clone().unwrap_or_default())),
        team: a.team_id.map(ObjectId::id_only),
        member_call_id: a.member_call_id.clone(),
        agent_call_id: a.agent_call_id.clone(),
        destination: (!a.destination.is_empty()).then(|| MemberCommunication {
            destination: a.destination.clone(),
        }),
        joined_at: a.joined_at.to_string(),
        offering_at: ms_opt(a.offering_at),
        bridged_at: ms_opt(a.bridged_at),
        reporting_at: ms_opt(a.reporting_at),
        leaving_at: ms_opt(a.leaving_at),
        result: a.result.clone(),
        description: a.description.clone(),
        variables: Default::default(),
    }
}

fn range(p: &Params, key: &str) -> ApiResult<(Option<i64>, Option<i64>)> {
    Ok((
        p.int(&format!("{key}.from"))?.filter(|v| *v != 0),
        p.int(&format!("{key}.to"))?.filter(|v| *v != 0),
    ))
}

/// Search attempts, newest first: `joined_at.from/.to`, `leaving_at.from/.to`, `id`,
/// `queue_id`, `agent_id`, `member_id`, `result`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/queues/attempts/history", tag = "call_center",
    params(("joined_at.from" = Option<String>, Query), ("joined_at.to" = Option<String>, Query),
           ("leaving_at.from" = Option<String>, Query), ("leaving_at.to" = Option<String>, Query),
           ("id" = Option<Vec<String>>, Query), ("queue_id" = Option<Vec<String>>, Query),
           ("agent_id" = Option<Vec<String>>, Query), ("member_id" = Option<Vec<String>>, Query),
           ("result" = Option<Vec<String>>, Query),
           ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<AttemptHistory>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn history(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let page = page(&p)?;
    let (joined_from, joined_to) = range(&p, "joined_at")?;
    let (leaving_from, leaving_to) = range(&p, "leaving_at")?;
    if let (Some(f), Some(t)) = (joined_from, joined_to) {
        if f > t {
            return Err(ApiError::bad_request(
                "app.attempt.valid.joined_at",
                format!("joined_at.from {f} is after joined_at.to {t}"),
            ));
        }
    }
    let filter = AttemptFilter {
        joined_from,
        joined_to,
        leaving_from,
        leaving_to,
        ids: p.ints("id")?,
        queue_ids: p.ints("queue_id")?,
        agent_ids: p.ints("agent_id")?,
        results: p.all("result"),
        member_ids: p.ints("member_id")?,
    };
    let res = st
        .store
        .search_attempts(c.domain_id, &filter, &page)
        .await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}
