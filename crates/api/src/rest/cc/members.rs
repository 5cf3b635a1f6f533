//! `/api/call_center/queues/{queue_id}/members` and `/api/call_center/members`: the people a
//! dialer queue calls (CC-NOTES 2.4). Every write checks the whole body first and writes
//! nothing when any part is wrong; a bulk create is all items or none.

use super::{invalid, list, lookup, page, ref_id, QUEUE_CLASS};
use crate::auth::{Access, Caller};
use crate::error::ApiResult;
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{
    Communication, CountResponse, ListResponse, Member, MemberBulk, MemberBulkResponse,
    MemberResetRequest, ObjectId,
};
use switchboard_store::{CommunicationRow, MemberFilter, MemberInput, MemberReset, MemberRow};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "queue",
    "priority",
    "expire_at",
    "created_at",
    "variables",
    "name",
    "timezone",
    "communications",
    "bucket",
    "min_offering_at",
    "stop_cause",
    "last_activity_at",
    "attempts",
    "reserved",
    "agent",
];

/// Queue types whose callers come to them: they have no member list.
const INBOUND_TYPES: &[i32] = &[1, 6, 7, 9, 10];

/// At most this many members in one bulk request.
const MAX_BULK: usize = 10_000;

/// Longest accepted number.
const MAX_DESTINATION_CHARS: usize = 64;

/// The member stop causes Webitel knows (SDK `MemberStopCause`), plus the dialer's own.
const STOP_CAUSES: &[&str] = &[
    "missed",
    "timeout",
    "failed",
    "abandoned",
    "success",
    "cancel",
    "expired",
    "canceled_by_timeout",
    "block",
    "max_attempts",
];

fn comm_to_wire(i: usize, c: &CommunicationRow) -> Communication {
    Communication {
        id: Some(i.to_string()),
        destination: Some(c.destination.clone()),
        kind: c.type_id.map(|id| ObjectId::new(id, c.type_name.clone())),
        priority: Some(c.priority),
        description: Some(c.description.clone()),
        display: (!c.display.is_empty()).then(|| c.display.clone()),
        resource: c.resource_id.map(ObjectId::id_only),
        state: Some(c.state),
        attempts: Some(c.attempts),
        last_activity_at: ms(c.last_activity_at),
        last_cause: (!c.last_cause.is_empty()).then(|| c.last_cause.clone()),
        stop_at: c.stop_at.and_then(ms),
        dtmf: (!c.dtmf.is_empty()).then(|| c.dtmf.clone()),
    }
}

pub(crate) fn to_wire(r: &MemberRow) -> Member {
    Member {
        id: Some(r.id.to_string()),
        queue: Some(lookup(&r.queue)),
        priority: Some(r.priority),
        expire_at: r.expire_at.and_then(ms),
        created_at: ms(r.created_at),
        variables: Some(r.variables.clone()),
        name: Some(r.name.clone()),
        timezone: (!r.timezone.is_empty()).then(|| ObjectId {
            id: None,
            name: Some(r.timezone.clone()),
        }),
        communications: Some(
            r.communications
                .iter()
                .enumerate()
                .map(|(i, c)| comm_to_wire(i, c))
                .collect(),
        ),
        bucket: r.bucket_id.map(ObjectId::id_only),
        min_offering_at: ms(r.ready_at),
        stop_cause: r.stop_cause.clone(),
        last_activity_at: ms(r.last_activity_at),
        attempts: Some(r.attempts),
        reserved: Some(false),
        agent: r.agent.as_ref().map(oid),
        skill: None,
    }
}

/// An epoch-ms field (`expire_at`, `min_offering_at`): `""`/`"0"` = unset.
fn epoch_ms(v: &Option<String>, field: &str) -> ApiResult<Option<i64>> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("0") => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(invalid(
                "member",
                field,
                format!("{field} {raw:?} is not a time in epoch milliseconds"),
            )),
        },
    }
}

/// The IANA zone of `{name}` (or `{id}` spelled as a zone name); `""` when none is given.
pub(crate) fn timezone(tz: &Option<ObjectId>) -> ApiResult<String> {
    let Some(tz) = tz else {
        return Ok(String::new());
    };
    let name = tz
        .name
        .as_deref()
        .or(tz.id.as_deref())
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Ok(String::new());
    }
    match jiff::tz::TimeZone::get(name) {
        Ok(_) => Ok(name.to_string()),
        Err(_) => Err(invalid(
            "member",
            "timezone",
            format!("unknown time zone {name:?}: give an IANA name such as \"Europe/Kyiv\""),
        )),
    }
}

fn communication(
    c: &Communication,
    base: Option<&CommunicationRow>,
    at: usize,
) -> ApiResult<CommunicationRow> {
    let destination = c
        .destination
        .as_deref()
        .map(str::trim)
        .map(str::to_string)
        .or_else(|| base.map(|b| b.destination.clone()))
        .unwrap_or_default();
    if destination.is_empty() {
        return Err(invalid(
            "member",
            "communications",
            format!("communications[{at}]: destination is required"),
        ));
    }
    if destination.chars().count() > MAX_DESTINATION_CHARS
        || destination
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        return Err(invalid(
            "member",
            "communications",
            format!(
                "communications[{at}]: destination {destination:?} is not a number \
                 (at most {MAX_DESTINATION_CHARS} characters, no spaces)"
            ),
        ));
    }
    let type_id = match &c.kind {
        Some(t) => ref_id(t, "member", "communications.type")?,
        None => base.and_then(|b| b.type_id),
    };
    let resource_id = match &c.resource {
        Some(r) => ref_id(r, "member", "communications.resource")?,
        None => base.and_then(|b| b.resource_id),
    };
    let mut row = base.cloned().unwrap_or_default();
    row.destination = destination;
    row.type_id = type_id;
    if let Some(t) = c.kind.as_ref().and_then(|t| t.name.clone()) {
        row.type_name = t;
    }
    if let Some(p) = c.priority {
        row.priority = p;
    }
    if let Some(d) = &c.description {
        row.description = d.clone();
    }
    if let Some(d) = &c.display {
        row.display = d.trim().to_string();
    }
    if let Some(d) = &c.dtmf {
        row.dtmf = d.clone();
    }
    row.resource_id = resource_id;
    Ok(row)
}

/// A body as a member to store; `base` is the stored member for PUT/PATCH, `merge` for PATCH.
fn apply(base: Option<&MemberRow>, m: &Member, merge: bool) -> ApiResult<MemberInput> {
    let keep = |given: bool| !given && merge;
    let communications = match &m.communications {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, c) in list.iter().enumerate() {
                let old = base.filter(|_| merge).and_then(|b| b.communications.get(i));
                out.push(communication(c, old, i)?);
            }
            out
        }
        None if merge => base.map(|b| b.communications.clone()).unwrap_or_default(),
        None => Vec::new(),
    };
    if communications.is_empty() {
        return Err(invalid(
            "member",
            "communications",
            "communications are required: at least one {\"destination\": \"…\"}",
        ));
    }
    let timezone = if keep(m.timezone.is_some()) {
        base.map(|b| b.timezone.clone()).unwrap_or_default()
    } else {
        timezone(&m.timezone)?
    };
    let expire_at = if keep(m.expire_at.is_some()) {
        base.and_then(|b| b.expire_at)
    } else {
        epoch_ms(&m.expire_at, "expire_at")?
    };
    let ready_at = if keep(m.min_offering_at.is_some()) {
        base.map(|b| b.ready_at).unwrap_or(0)
    } else {
        epoch_ms(&m.min_offering_at, "min_offering_at")?.unwrap_or(0)
    };
    let agent_id = match &m.agent {
        Some(a) => ref_id(a, "member", "agent")?,
        None if merge => base.and_then(|b| b.agent.as_ref().map(|a| a.0)),
        None => None,
    };
    let bucket_id = match &m.bucket {
        Some(b) => ref_id(b, "member", "bucket")?,
        None if merge => base.and_then(|b| b.bucket_id),
        None => None,
    };
    // `stop_cause: ""` starts the member over (Webitel's reset through PATCH).
    let (stop_cause, attempts) = match m.stop_cause.as_deref().map(str::trim) {
        Some("") => (None, 0),
        Some(c) if STOP_CAUSES.contains(&c) => {
            (Some(c.to_string()), base.map(|b| b.attempts).unwrap_or(0))
        }
        Some(c) => {
            return Err(invalid(
                "member",
                "stop_cause",
                format!("stop_cause {c:?} is not one of {}", STOP_CAUSES.join(", ")),
            ))
        }
        None => (
            base.and_then(|b| b.stop_cause.clone()),
            base.map(|b| b.attempts).unwrap_or(0),
        ),
    };
    let attempts = match m.attempts {
        Some(n) if n < 0 => {
            return Err(invalid("member", "attempts", "attempts cannot be negative"))
        }
        Some(n) => n,
        None => attempts,
    };
    let name = match &m.name {
        Some(n) => n.trim().to_string(),
        None if merge => base.map(|b| b.name.clone()).unwrap_or_default(),
        None => String::new(),
    };
    if name.chars().count() > 250 {
        return Err(invalid("member", "name", "name is at most 250 characters"));
    }
    Ok(MemberInput {
        name,
        priority: m
            .priority
            .or(base.filter(|_| merge).map(|b| b.priority))
            .unwrap_or(0),
        timezone,
        bucket_id,
        agent_id,
        variables: match &m.variables {
            Some(v) => v.clone(),
            None if merge => base.map(|b| b.variables.clone()).unwrap_or_default(),
            None => Default::default(),
        },
        communications,
        expire_at,
        ready_at,
        stop_cause,
        attempts,
    })
}

/// The queue of the path: it must exist in the caller's domain and be a dialer queue.
async fn dialer_queue(st: &AppState, c: &Caller, raw: &str) -> ApiResult<i64> {
    let id = path_id(raw, "queue")?;
    let q = st.store.get_queue(c.domain_id, id).await?;
    if INBOUND_TYPES.contains(&q.kind) {
        return Err(invalid(
            "member",
            "queue",
            format!(
                "queue {id} is of type {}, whose callers come to it: members belong to \
                 outbound queues (0 offline, 2 ivr, 3 preview, 4 progressive, 5 predictive, \
                 8 outbound task)",
                q.kind
            ),
        ));
    }
    Ok(id)
}

/// Add a member to a dialer queue: `communications` (each with a `destination`) required,
/// `timezone` `{name}` an IANA zone, `expire_at`/`min_offering_at` epoch ms.
#[utoipa::path(post, path = "/api/call_center/queues/{queue_id}/members", tag = "call_center",
    request_body = Member, params(("queue_id" = String, Path)),
    responses((status = 200, body = Member), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    JsonBody(m): JsonBody<Member>,
) -> ApiResult<Json<Member>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let queue_id = dialer_queue(&st, &c, &queue_id).await?;
    let input = apply(None, &m, false)?;
    let ids = st
        .store
        .create_members(c.domain_id, queue_id, &[input], Some(c.user_id))
        .await?;
    let row = st
        .store
        .get_member(c.domain_id, Some(queue_id), ids[0])
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Add many members at once (`{items, file_name}`); answers their ids in order. One bad item
/// refuses the whole request, naming the item.
#[utoipa::path(post, path = "/api/call_center/queues/{queue_id}/members/bulk", tag = "call_center",
    request_body = MemberBulk, params(("queue_id" = String, Path)),
    responses((status = 200, body = MemberBulkResponse), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn bulk(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    JsonBody(b): JsonBody<MemberBulk>,
) -> ApiResult<Json<MemberBulkResponse>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let queue_id = dialer_queue(&st, &c, &queue_id).await?;
    if b.items.len() > MAX_BULK {
        return Err(invalid(
            "member",
            "items",
            format!("at most {MAX_BULK} members per request"),
        ));
    }
    let mut inputs = Vec::with_capacity(b.items.len());
    for (i, m) in b.items.iter().enumerate() {
        inputs.push(apply(None, m, false).map_err(|mut e| {
            e.0.detail = format!("items[{i}]: {}", e.0.detail);
            e
        })?);
    }
    let ids = st
        .store
        .create_members(c.domain_id, queue_id, &inputs, Some(c.user_id))
        .await?;
    if !ids.is_empty() {
        st.cc.changed(c.domain_id);
    }
    Ok(Json(MemberBulkResponse {
        ids: ids.iter().map(i64::to_string).collect(),
    }))
}

fn range(p: &Params, key: &str) -> ApiResult<(Option<i64>, Option<i64>)> {
    Ok((p.int(&format!("{key}.from"))?, p.int(&format!("{key}.to"))?))
}

fn filter(p: &Params, queue_ids: Vec<i64>) -> ApiResult<MemberFilter> {
    Ok(MemberFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        queue_ids,
        bucket_ids: p.ints("bucket_id")?,
        agent_ids: p.ints("agent_id")?,
        destination: p.get("destination").map(str::to_string),
        name: p.get("name").map(str::to_string),
        stop_causes: p.all("stop_cause"),
        priority: range(p, "priority")?,
        attempts: range(p, "attempts")?,
        created_at: range(p, "created_at")?,
    })
}

async fn search_in(st: &AppState, c: &Caller, p: &Params, queues: Vec<i64>) -> ApiResult<Value> {
    let page = page(p)?;
    let res = st
        .store
        .search_members(c.domain_id, &filter(p, queues)?, &page)
        .await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(list(p, DEFAULT_FIELDS, res.next, items))
}

/// A queue's members, highest priority first: `q` (name or number), `id`, `destination`,
/// `name`, `stop_cause`, `bucket_id`, `agent_id`, `priority.from/.to`, `attempts.from/.to`,
/// `created_at.from/.to`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/queues/{queue_id}/members", tag = "call_center",
    params(("queue_id" = String, Path), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("q" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("fields" = Option<Vec<String>>, Query), ("id" = Option<Vec<String>>, Query),
           ("destination" = Option<String>, Query), ("stop_cause" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<Member>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let queue_id = path_id(&queue_id, "queue")?;
    st.store.get_queue(c.domain_id, queue_id).await?;
    Ok(Json(search_in(&st, &c, &p, vec![queue_id]).await?))
}

/// Members of every queue of the domain (`queue_id` narrows), with the queue search's filters.
#[utoipa::path(get, path = "/api/call_center/members", tag = "call_center",
    params(("queue_id" = Option<Vec<String>>, Query), ("page" = Option<i32>, Query),
           ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("destination" = Option<String>, Query), ("stop_cause" = Option<Vec<String>>, Query),
           ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<Member>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search_all(
    State(st): State<AppState>,
    c: Caller,
    p: Params,
) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let queues = p.ints("queue_id")?;
    Ok(Json(search_in(&st, &c, &p, queues).await?))
}

/// Read one member.
#[utoipa::path(get, path = "/api/call_center/queues/{queue_id}/members/{id}", tag = "call_center",
    params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Member), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
) -> ApiResult<Json<Member>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let row = st
        .store
        .get_member(
            c.domain_id,
            Some(path_id(&queue_id, "queue")?),
            path_id(&id, "member")?,
        )
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    (queue_id, id): (String, String),
    m: Member,
    merge: bool,
) -> ApiResult<Json<Member>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let (queue_id, id) = (path_id(&queue_id, "queue")?, path_id(&id, "member")?);
    let base = st.store.get_member(c.domain_id, Some(queue_id), id).await?;
    let input = apply(Some(&base), &m, merge)?;
    let row = st
        .store
        .update_member(c.domain_id, queue_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace a member; absent fields take their defaults.
#[utoipa::path(put, path = "/api/call_center/queues/{queue_id}/members/{id}", tag = "call_center",
    request_body = Member, params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Member), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(ids): Path<(String, String)>,
    JsonBody(m): JsonBody<Member>,
) -> ApiResult<Json<Member>> {
    write(st, c, ids, m, false).await
}

/// Change some fields of a member; `stop_cause: ""` starts it over (no attempts, callable).
#[utoipa::path(patch, path = "/api/call_center/queues/{queue_id}/members/{id}", tag = "call_center",
    request_body = Member, params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Member), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(ids): Path<(String, String)>,
    JsonBody(m): JsonBody<Member>,
) -> ApiResult<Json<Member>> {
    write(st, c, ids, m, true).await
}

/// Remove a member; its attempts stay in history.
#[utoipa::path(delete, path = "/api/call_center/queues/{queue_id}/members/{id}", tag = "call_center",
    params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Member), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
) -> ApiResult<Json<Member>> {
    c.require(QUEUE_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_member(
            c.domain_id,
            path_id(&queue_id, "queue")?,
            path_id(&id, "member")?,
        )
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Stopped members start over (`ids`, `stop_cause` narrow; all stopped members when empty);
/// answers `{count}`.
#[utoipa::path(patch, path = "/api/call_center/queues/{queue_id}/members/reset", tag = "call_center",
    request_body = MemberResetRequest, params(("queue_id" = String, Path)),
    responses((status = 200, body = CountResponse), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn reset(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    JsonBody(r): JsonBody<MemberResetRequest>,
) -> ApiResult<Json<CountResponse>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let queue_id = path_id(&queue_id, "queue")?;
    let mut ids = Vec::with_capacity(r.ids.len());
    for raw in &r.ids {
        ids.push(raw.trim().parse::<i64>().map_err(|_| {
            invalid(
                "member",
                "ids",
                format!("member id {raw:?} is not an integer"),
            )
        })?);
    }
    for cause in &r.stop_cause {
        if !STOP_CAUSES.contains(&cause.as_str()) {
            return Err(invalid(
                "member",
                "stop_cause",
                format!(
                    "stop_cause {cause:?} is not one of {}",
                    STOP_CAUSES.join(", ")
                ),
            ));
        }
    }
    let n = st
        .store
        .reset_members(
            c.domain_id,
            queue_id,
            &MemberReset {
                ids,
                stop_causes: r.stop_cause.clone(),
            },
        )
        .await?;
    if n > 0 {
        st.cc.changed(c.domain_id);
    }
    Ok(Json(CountResponse {
        count: Some(n.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(json: &str) -> Member {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_member_needs_a_number_and_a_known_zone() {
        let ok = apply(
            None,
            &member(
                r#"{"name":"Ann","communications":[{"destination":" +380441 "}],
                        "timezone":{"name":"Europe/Kyiv"},"expire_at":"1900000000000"}"#,
            ),
            false,
        )
        .unwrap();
        assert_eq!(ok.communications[0].destination, "+380441");
        assert_eq!(ok.timezone, "Europe/Kyiv");
        assert_eq!(ok.expire_at, Some(1_900_000_000_000));
        for bad in [
            r#"{"communications":[]}"#,
            r#"{"communications":[{"destination":""}]}"#,
            r#"{"communications":[{"destination":"12 34"}]}"#,
            r#"{"communications":[{"destination":"1"}],"timezone":{"name":"Mars/Olympus"}}"#,
            r#"{"communications":[{"destination":"1"}],"expire_at":"soon"}"#,
            r#"{"communications":[{"destination":"1"}],"stop_cause":"bored"}"#,
        ] {
            let e = apply(None, &member(bad), false).unwrap_err();
            assert_eq!(e.0.code, 400, "{bad}");
        }
    }

    #[test]
    fn an_empty_stop_cause_starts_over_and_patch_keeps_the_rest() {
        let base = MemberRow {
            id: 1,
            domain_id: 1,
            queue: (2, "Q".into()),
            name: "Ann".into(),
            priority: 5,
            timezone: "Europe/Kyiv".into(),
            bucket_id: None,
            agent: None,
            variables: Default::default(),
            communications: vec![CommunicationRow {
                destination: "100".into(),
                attempts: 3,
                ..Default::default()
            }],
            expire_at: None,
            ready_at: 99,
            stop_cause: Some("failed".into()),
            stop_at: Some(5),
            attempts: 3,
            last_activity_at: 0,
            created_at: 0,
            created_by: None,
            updated_at: 0,
            updated_by: None,
        };
        let m = apply(Some(&base), &member(r#"{"stop_cause":""}"#), true).unwrap();
        assert_eq!((m.stop_cause, m.attempts), (None, 0));
        assert_eq!((m.name.as_str(), m.priority), ("Ann", 5));
        assert_eq!(m.communications[0].destination, "100");
        assert_eq!(m.timezone, "Europe/Kyiv");
    }
}
