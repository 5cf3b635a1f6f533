//! `/api/call_center/queues`: queues and the skills they ask for. A queue's `payload` is free
//! JSON read by its type (CC-NOTES 2.3); PATCH merges its top-level keys, PUT replaces it.

use super::{
    invalid, list, lookup, name, page, pick, ref_id, within, MAX_PAYLOAD_BYTES, QUEUE_CLASS,
};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{Map, Value};
use switchboard_model::cc::{QueueTag, TaskProcessing, QUEUE_STRATEGIES, QUEUE_TYPES};
use switchboard_model::{ListResponse, Queue, QueueSkill};
use switchboard_store::{
    QueueFilter, QueueInput, QueueRow, QueueSkillFilter, QueueSkillInput, QueueSkillRow, StoreError,
};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "enabled",
    "priority",
    "updated_at",
    "name",
    "type",
    "created_at",
    "created_by",
    "updated_by",
    "team",
    "count",
    "waiting",
    "active",
    "tags",
    "resource_groups",
    "resources",
];

const SKILL_DEFAULT_FIELDS: &[&str] = &[
    "id",
    "skill",
    "buckets",
    "lvl",
    "min_capacity",
    "max_capacity",
    "enabled",
];

/// Post-call work a queue gives by default, in seconds (Webitel's column default).
const DEFAULT_PROCESSING_SEC: i64 = 30;

/// Queue skill levels: 1 is offered first; Webitel's range tops at 1000.
const MAX_LVL: i64 = 1000;

fn to_wire(r: &QueueRow) -> Queue {
    Queue {
        id: Some(r.id.to_string()),
        domain_id: Some(r.domain_id.to_string()),
        name: Some(r.name.clone()),
        description: Some(r.description.clone()),
        kind: Some(r.kind),
        strategy: Some(r.strategy.clone()),
        enabled: Some(r.enabled),
        priority: Some(r.priority),
        team: r.team.as_ref().map(lookup),
        payload: Some(r.payload.clone()),
        variables: Some(r.variables.clone()),
        timeout: Some(r.timeout),
        sec_locate_agent: Some(r.sec_locate_agent),
        ringtone: r.ringtone.as_ref().map(lookup),
        sticky_agent: Some(r.sticky_agent),
        processing: Some(r.processing),
        processing_sec: Some(i64::from(r.processing_sec)),
        processing_renewal_sec: Some(i64::from(r.processing_renewal_sec)),
        task_processing: Some(TaskProcessing {
            enabled: Some(r.processing),
            sec: Some(i64::from(r.processing_sec)),
            renewal_sec: Some(i64::from(r.processing_renewal_sec)),
            autosave: None,
        }),
        tags: Some(
            r.tags
                .iter()
                .map(|t| QueueTag { name: t.clone() })
                .collect(),
        ),
        dnc_list: r.dnc_list.as_ref().map(lookup),
        // No member lists yet: a queue's members are the calls waiting in it.
        count: Some(r.waiting),
        waiting: Some(r.waiting),
        active: Some(r.active),
        created_at: ms(r.created_at),
        created_by: r.created_by.as_ref().map(oid),
        updated_at: ms(r.updated_at),
        updated_by: r.updated_by.as_ref().map(oid),
    }
}

fn seconds(v: i64, field: &str) -> ApiResult<i32> {
    Ok(within(v, 0..=i64::from(i32::MAX), "queue", field)? as i32)
}

async fn apply(
    st: &AppState,
    c: &Caller,
    base: Option<&QueueRow>,
    q: &Queue,
    merge: bool,
) -> ApiResult<QueueInput> {
    let name = name(
        pick(&q.name, base.map(|b| b.name.clone()), merge, String::new()),
        "queue",
    )?;
    let kind = pick(&q.kind, base.map(|b| b.kind), merge, 0);
    if !(0..QUEUE_TYPES.len() as i32).contains(&kind) {
        return Err(invalid(
            "queue",
            "type",
            format!(
                "type {kind} is not a queue type: 0 offline, 1 inbound, 2 ivr, 3 preview, \
                 4 progressive, 5 predictive, 6 inbound chat, 7 task, 8 outbound task, 9 im, \
                 10 outbound call"
            ),
        ));
    }
    let strategy = match pick(
        &q.strategy,
        base.map(|b| b.strategy.clone()),
        merge,
        String::new(),
    )
    .trim()
    {
        "" => "fifo".to_string(),
        s if QUEUE_STRATEGIES.contains(&s) => s.to_string(),
        s => {
            return Err(invalid(
                "queue",
                "strategy",
                format!(
                    "strategy {s:?} is not one of {}",
                    QUEUE_STRATEGIES.join(", ")
                ),
            ))
        }
    };
    let team_id = match (&q.team, merge, base) {
        (Some(t), _, _) => ref_id(t, "queue", "team")?,
        (None, true, Some(b)) => b.team.as_ref().map(|t| t.0),
        _ => None,
    };
    if let Some(t) = team_id {
        if !st.store.team_exists(c.domain_id, t).await? {
            return Err(invalid(
                "queue",
                "team",
                format!("team {t} does not exist in this domain"),
            ));
        }
    }
    let dnc_list_id = match (&q.dnc_list, merge, base) {
        (Some(l), _, _) => ref_id(l, "queue", "dnc_list")?,
        (None, true, Some(b)) => b.dnc_list.as_ref().map(|l| l.0),
        _ => None,
    };
    if let Some(l) = dnc_list_id {
        match st.store.get_list(c.domain_id, l).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return Err(invalid(
                    "queue",
                    "dnc_list",
                    format!("dnc_list {l} does not exist in this domain"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let payload = match (&q.payload, merge, base) {
        (None | Some(Value::Null), true, Some(b)) => b.payload.clone(),
        (None | Some(Value::Null), _, _) => Value::Object(Map::new()),
        (Some(Value::Object(given)), true, Some(b)) => {
            // Webitel's patch sets the given keys over the stored payload.
            let mut merged = b.payload.as_object().cloned().unwrap_or_default();
            merged.extend(given.clone());
            Value::Object(merged)
        }
        (Some(v @ Value::Object(_)), _, _) => v.clone(),
        (Some(_), _, _) => {
            return Err(invalid(
                "queue",
                "payload",
                "payload must be a JSON object, e.g. {\"max_wait_time\": 60}",
            ))
        }
    };
    if payload.to_string().len() > MAX_PAYLOAD_BYTES {
        return Err(invalid("queue", "payload", "payload is larger than 1 MiB"));
    }
    dialer_payload(st, c, &payload).await?;
    let ringtone = match (&q.ringtone, merge, base) {
        (Some(r), _, _) => {
            ref_id(r, "queue", "ringtone")?.map(|id| (id, r.name.clone().unwrap_or_default()))
        }
        (None, true, Some(b)) => b.ringtone.clone(),
        _ => None,
    };
    // `task_processing` is Webitel's newer spelling of the processing fields; it wins.
    let tp = q.task_processing.as_ref();
    let processing = tp.and_then(|t| t.enabled).or(q.processing);
    let processing_sec = tp.and_then(|t| t.sec).or(q.processing_sec);
    let renewal_sec = tp.and_then(|t| t.renewal_sec).or(q.processing_renewal_sec);
    let mut tags: Vec<String> = Vec::new();
    for t in pick(
        &q.tags
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.name.clone()).collect()),
        base.map(|b| b.tags.clone()),
        merge,
        Vec::new(),
    ) {
        let t = t.trim().to_string();
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(QueueInput {
        name,
        description: pick(
            &q.description,
            base.map(|b| b.description.clone()),
            merge,
            String::new(),
        ),
        kind,
        strategy,
        // Webitel's zero value would be a disabled queue; a queue made is meant to work.
        enabled: pick(&q.enabled, base.map(|b| b.enabled), merge, true),
        priority: pick(&q.priority, base.map(|b| b.priority), merge, 0),
        team_id,
        dnc_list_id,
        payload,
        variables: pick(
            &q.variables,
            base.map(|b| b.variables.clone()),
            merge,
            Default::default(),
        ),
        timeout: seconds(
            i64::from(pick(&q.timeout, base.map(|b| b.timeout), merge, 0)),
            "timeout",
        )?,
        sec_locate_agent: seconds(
            i64::from(pick(
                &q.sec_locate_agent,
                base.map(|b| b.sec_locate_agent),
                merge,
                0,
            )),
            "sec_locate_agent",
        )?,
        ringtone,
        sticky_agent: pick(&q.sticky_agent, base.map(|b| b.sticky_agent), merge, false),
        processing: pick(&processing, base.map(|b| b.processing), merge, false),
        processing_sec: seconds(
            pick(
                &processing_sec,
                base.map(|b| i64::from(b.processing_sec)),
                merge,
                DEFAULT_PROCESSING_SEC,
            ),
            "processing_sec",
        )?,
        processing_renewal_sec: seconds(
            pick(
                &renewal_sec,
                base.map(|b| i64::from(b.processing_renewal_sec)),
                merge,
                0,
            ),
            "processing_renewal_sec",
        )?,
        tags,
    })
}

/// The payload keys the dialer reads must be numbers it can use: counts and seconds not
/// negative (`max_calls` -1 = unlimited), `gateway_id` a gateway of the domain.
async fn dialer_payload(st: &AppState, c: &Caller, payload: &Value) -> ApiResult<()> {
    let int = |key: &str| -> ApiResult<Option<i64>> {
        match payload.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse::<i64>().ok())
            }
            Some(other) => Err(invalid(
                "queue",
                "payload",
                format!("payload.{key} is {other}; it must be an integer"),
            )),
        }
    };
    for key in [
        "max_attempts",
        "wait_between_retries",
        "originate_timeout",
        "max_wait_time",
        "retry_abandoned_after",
    ] {
        if int(key)?.is_some_and(|v| v < 0) {
            return Err(invalid(
                "queue",
                "payload",
                format!("payload.{key} cannot be negative"),
            ));
        }
    }
    if int("max_calls")?.is_some_and(|v| v < -1) {
        return Err(invalid(
            "queue",
            "payload",
            "payload.max_calls is -1 (unlimited), 0 (no calls) or a positive limit",
        ));
    }
    if let Some(g) = int("gateway_id")?.filter(|g| *g != 0) {
        match st.store.get_gateway(c.domain_id, g).await {
            Ok(_) => {}
            Err(switchboard_store::StoreError::NotFound(_)) => {
                return Err(invalid(
                    "queue",
                    "payload",
                    format!("payload.gateway_id {g} is no gateway of this domain"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if payload
        .get("retry_abandoned")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        return Err(invalid(
            "queue",
            "payload",
            "payload.retry_abandoned is true or false",
        ));
    }
    Ok(())
}

/// Create a queue: `name` required, `type` 0–10 (0 when absent, as Webitel), `strategy` fifo,
/// lifo or strict_fifo (fifo when absent), `enabled` true unless given, `processing_sec` 30.
#[utoipa::path(post, path = "/api/call_center/queues", tag = "call_center", request_body = Queue,
    responses((status = 200, body = Queue), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(q): JsonBody<Queue>,
) -> ApiResult<Json<Queue>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let input = apply(&st, &c, None, &q, false).await?;
    let row = st
        .store
        .create_queue(c.domain_id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Search queues, highest priority first: `q` (name, description), `id`, `type`, `team_id`,
/// `tags`, `enabled`, paging, `sort`, `fields` (the default fields leave `payload` out).
#[utoipa::path(get, path = "/api/call_center/queues", tag = "call_center",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query),
           ("id" = Option<Vec<String>>, Query), ("type" = Option<Vec<i32>>, Query),
           ("team_id" = Option<Vec<String>>, Query), ("tags" = Option<Vec<String>>, Query),
           ("enabled" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<Queue>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let page = page(&p)?;
    let enabled = match p.get("enabled") {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(
                "api.request.bad_param",
                format!("query parameter enabled={other:?} is not true or false"),
            ))
        }
    };
    let filter = QueueFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        kinds: p.ints("type")?,
        team_ids: p.ints("team_id")?,
        enabled,
        tags: p.all("tags"),
    };
    let res = st.store.search_queues(c.domain_id, &filter, &page).await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Read a queue (all fields, `payload` included).
#[utoipa::path(get, path = "/api/call_center/queues/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Queue>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let row = st
        .store
        .get_queue(c.domain_id, path_id(&id, "queue")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    q: Queue,
    merge: bool,
) -> ApiResult<Json<Queue>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let id = path_id(&id, "queue")?;
    let base = st.store.get_queue(c.domain_id, id).await?;
    let input = apply(&st, &c, Some(&base), &q, merge).await?;
    let row = st
        .store
        .update_queue(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace a queue; absent fields take their defaults.
#[utoipa::path(put, path = "/api/call_center/queues/{id}", tag = "call_center", request_body = Queue,
    params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(q): JsonBody<Queue>,
) -> ApiResult<Json<Queue>> {
    write(st, c, id, q, false).await
}

/// Change some fields of a queue (`payload` keys merge into the stored payload).
#[utoipa::path(patch, path = "/api/call_center/queues/{id}", tag = "call_center", request_body = Queue,
    params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(q): JsonBody<Queue>,
) -> ApiResult<Json<Queue>> {
    write(st, c, id, q, true).await
}

/// Delete a queue and its skills; its attempts stay in history.
#[utoipa::path(delete, path = "/api/call_center/queues/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Queue>> {
    c.require(QUEUE_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_queue(c.domain_id, path_id(&id, "queue")?)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

fn skill_to_wire(r: &QueueSkillRow) -> QueueSkill {
    QueueSkill {
        id: Some(r.id),
        skill: Some(lookup(&r.skill)),
        buckets: Some(Vec::new()),
        lvl: Some(r.lvl),
        min_capacity: Some(r.min_capacity),
        max_capacity: Some(r.max_capacity),
        enabled: Some(r.enabled),
    }
}

async fn apply_skill(
    st: &AppState,
    c: &Caller,
    queue_id: i64,
    base: Option<&QueueSkillRow>,
    s: &QueueSkill,
    merge: bool,
) -> ApiResult<QueueSkillInput> {
    let skill_id = match (&s.skill, merge, base) {
        (Some(r), _, _) => ref_id(r, "queue_skill", "skill")?,
        (None, true, Some(b)) => Some(b.skill.0),
        _ => None,
    };
    let Some(skill_id) = skill_id else {
        return Err(invalid(
            "queue_skill",
            "skill",
            "skill is required: the skill the queue's agents need, {\"id\": …}",
        ));
    };
    if !st.store.skill_exists(c.domain_id, skill_id).await? {
        return Err(invalid(
            "queue_skill",
            "skill",
            format!("skill {skill_id} does not exist in this domain"),
        ));
    }
    if s.buckets
        .as_ref()
        .is_some_and(|b| b.iter().any(|x| !x.is_empty()))
    {
        return Err(invalid(
            "queue_skill",
            "buckets",
            "buckets are not supported yet; leave buckets out or empty",
        ));
    }
    if base.map(|b| b.skill.0) != Some(skill_id) {
        let same = st
            .store
            .search_queue_skills(
                c.domain_id,
                queue_id,
                &QueueSkillFilter {
                    skill_ids: vec![skill_id],
                    ..Default::default()
                },
                &Default::default(),
            )
            .await?;
        if let Some(other) = same.items.first() {
            return Err(ApiError::new(
                409,
                "app.queue_skill.valid.skill",
                format!(
                    "queue {queue_id} already asks for skill {skill_id} (queue skill {})",
                    other.id
                ),
            ));
        }
    }
    let cap = |new: &Option<i32>, old: Option<i32>, default: i32, field: &str| -> ApiResult<i32> {
        Ok(within(
            i64::from(pick(new, old, merge, default)),
            0..=100,
            "queue_skill",
            field,
        )? as i32)
    };
    let min_capacity = cap(
        &s.min_capacity,
        base.map(|b| b.min_capacity),
        0,
        "min_capacity",
    )?;
    let max_capacity = cap(
        &s.max_capacity,
        base.map(|b| b.max_capacity),
        100,
        "max_capacity",
    )?;
    if min_capacity > max_capacity {
        return Err(invalid(
            "queue_skill",
            "max_capacity",
            format!("min_capacity {min_capacity} is above max_capacity {max_capacity}"),
        ));
    }
    Ok(QueueSkillInput {
        skill_id,
        lvl: within(
            i64::from(pick(&s.lvl, base.map(|b| b.lvl), merge, 0)),
            0..=MAX_LVL,
            "queue_skill",
            "lvl",
        )? as i32,
        min_capacity,
        max_capacity,
        enabled: pick(&s.enabled, base.map(|b| b.enabled), merge, true),
    })
}

/// The queue id of the path, checked to exist in the caller's domain.
async fn queue_of(st: &AppState, c: &Caller, raw: &str) -> ApiResult<i64> {
    let id = path_id(raw, "queue")?;
    st.store.get_queue(c.domain_id, id).await?;
    Ok(id)
}

/// Ask for a skill in a queue: `skill` required, `lvl` 0–1000, capacities 0–100 (0 and 100
/// when absent), `enabled` true unless given.
#[utoipa::path(post, path = "/api/call_center/queues/{queue_id}/skills", tag = "call_center",
    request_body = QueueSkill, params(("queue_id" = String, Path)),
    responses((status = 200, body = QueueSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create_skill(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    JsonBody(s): JsonBody<QueueSkill>,
) -> ApiResult<Json<QueueSkill>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let queue_id = queue_of(&st, &c, &queue_id).await?;
    let input = apply_skill(&st, &c, queue_id, None, &s, false).await?;
    let row = st
        .store
        .create_queue_skill(c.domain_id, queue_id, &input)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(skill_to_wire(&row)))
}

/// A queue's skills: `q` (skill name), `id`, `skill_id`, `lvl`, `enabled`, paging, `sort`,
/// `fields`.
#[utoipa::path(get, path = "/api/call_center/queues/{queue_id}/skills", tag = "call_center",
    params(("queue_id" = String, Path), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("q" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("fields" = Option<Vec<String>>, Query), ("id" = Option<Vec<String>>, Query),
           ("skill_id" = Option<Vec<String>>, Query), ("lvl" = Option<Vec<i32>>, Query),
           ("enabled" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<QueueSkill>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search_skills(
    State(st): State<AppState>,
    c: Caller,
    Path(queue_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let queue_id = queue_of(&st, &c, &queue_id).await?;
    let page = page(&p)?;
    let filter = QueueSkillFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        skill_ids: p.ints("skill_id")?,
        lvls: p.ints("lvl")?,
        enabled: p.get("enabled").map(|v| v == "true" || v == "1"),
    };
    let res = st
        .store
        .search_queue_skills(c.domain_id, queue_id, &filter, &page)
        .await?;
    let items = res.items.iter().map(skill_to_wire).collect();
    Ok(Json(list(&p, SKILL_DEFAULT_FIELDS, res.next, items)))
}

/// Read one skill of a queue.
#[utoipa::path(get, path = "/api/call_center/queues/{queue_id}/skills/{id}", tag = "call_center",
    params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = QueueSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read_skill(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
) -> ApiResult<Json<QueueSkill>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let row = st
        .store
        .get_queue_skill(
            c.domain_id,
            path_id(&queue_id, "queue")?,
            path_id(&id, "queue_skill")?,
        )
        .await?;
    Ok(Json(skill_to_wire(&row)))
}

async fn write_skill(
    st: AppState,
    c: Caller,
    queue_id: String,
    id: String,
    s: QueueSkill,
    merge: bool,
) -> ApiResult<Json<QueueSkill>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let (queue_id, id) = (path_id(&queue_id, "queue")?, path_id(&id, "queue_skill")?);
    let base = st.store.get_queue_skill(c.domain_id, queue_id, id).await?;
    let input = apply_skill(&st, &c, queue_id, Some(&base), &s, merge).await?;
    let row = st
        .store
        .update_queue_skill(c.domain_id, queue_id, id, &input)
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(skill_to_wire(&row)))
}

/// Replace one skill of a queue.
#[utoipa::path(put, path = "/api/call_center/queues/{queue_id}/skills/{id}", tag = "call_center",
    request_body = QueueSkill, params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = QueueSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update_skill(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
    JsonBody(s): JsonBody<QueueSkill>,
) -> ApiResult<Json<QueueSkill>> {
    write_skill(st, c, queue_id, id, s, false).await
}

/// Change one skill of a queue.
#[utoipa::path(patch, path = "/api/call_center/queues/{queue_id}/skills/{id}", tag = "call_center",
    request_body = QueueSkill, params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = QueueSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch_skill(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
    JsonBody(s): JsonBody<QueueSkill>,
) -> ApiResult<Json<QueueSkill>> {
    write_skill(st, c, queue_id, id, s, true).await
}

/// Stop asking for a skill in a queue; answers the removed row.
#[utoipa::path(delete, path = "/api/call_center/queues/{queue_id}/skills/{id}", tag = "call_center",
    params(("queue_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = QueueSkill), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_skill(
    State(st): State<AppState>,
    c: Caller,
    Path((queue_id, id)): Path<(String, String)>,
) -> ApiResult<Json<QueueSkill>> {
    c.require(QUEUE_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_queue_skill(
            c.domain_id,
            path_id(&queue_id, "queue")?,
            path_id(&id, "queue_skill")?,
        )
        .await?;
    st.cc.changed(c.domain_id);
    Ok(Json(skill_to_wire(&row)))
}
