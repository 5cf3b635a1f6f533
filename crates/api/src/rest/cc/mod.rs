//! `/api/call_center/...`: agents, teams, skills, agent skills, queues, queue skills, members,
//! do-not-call lists and the attempts history. Engine-style lists (`{next, items}`, 40 rows by
//! default) answer the resource's default fields unless `fields` names others. Every successful write tells the
//! contact center (`ContactCenter::changed`) so that it reloads the domain.

pub mod agent_skills;
pub mod agents;
pub mod attempts;
pub mod lists;
pub mod members;
pub mod queues;
pub mod skills;
pub mod teams;

use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use serde::Serialize;
use serde_json::Value;
use switchboard_model::{ListResponse, ObjectId};
use switchboard_store::Page;

/// Object class of agents, teams, skills and agent skills.
pub(crate) const AGENT_CLASS: &str = "cc_agent";
/// Object class of queues, queue skills and attempts.
pub(crate) const QUEUE_CLASS: &str = "cc_queue";

/// Longest accepted name of a team, skill or queue.
const MAX_NAME_CHARS: usize = 100;

/// Longest accepted queue payload, in bytes of JSON text.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Engine paging: page from 1, 40 rows unless `size` says otherwise.
pub(crate) fn page(p: &Params) -> ApiResult<Page> {
    let mut page = p.page()?;
    if p.get("size").is_none() {
        page.size = 40;
    }
    Ok(page)
}

/// An engine list reply with `fields` applied, or the resource's default fields.
pub(crate) fn list<T: Serialize>(
    p: &Params,
    defaults: &[&str],
    next: bool,
    items: Vec<T>,
) -> Value {
    let v = serde_json::to_value(ListResponse {
        page: None,
        size: None,
        next,
        items,
    })
    .unwrap_or_default();
    if p.all("fields").is_empty() {
        let mut d = Params::default();
        d.0.insert(
            "fields".into(),
            defaults.iter().map(|f| f.to_string()).collect(),
        );
        d.select_fields(v)
    } else {
        p.select_fields(v)
    }
}

/// A 400 whose id names the object and field (`app.queue.valid.team`).
pub(crate) fn invalid(owner: &str, field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("app.{owner}.valid.{field}"), detail)
}

/// The id of a `{id, name}` reference: `None` for `{}`, `""` or `"0"` (no reference).
pub(crate) fn ref_id(r: &ObjectId, owner: &str, field: &str) -> ApiResult<Option<i64>> {
    match r.id.as_deref().map(str::trim) {
        None | Some("") | Some("0") => Ok(None),
        Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
            invalid(
                owner,
                field,
                format!("{field} id {raw:?} is not an integer"),
            )
        }),
    }
}

/// A field of a PUT/PATCH/POST body: the given value, else (PATCH) the stored one, else the
/// create default.
pub(crate) fn pick<T: Clone>(new: &Option<T>, old: Option<T>, merge: bool, default: T) -> T {
    match (new, merge) {
        (Some(v), _) => v.clone(),
        (None, true) => old.unwrap_or(default),
        (None, false) => default,
    }
}

/// A required, trimmed name of at most 100 characters.
pub(crate) fn name(v: String, owner: &str) -> ApiResult<String> {
    let v = v.trim().to_string();
    if v.is_empty() {
        return Err(invalid(owner, "name", "name is required"));
    }
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            owner,
            "name",
            format!("name is at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(v)
}

/// An integer field within `range`.
pub(crate) fn within(
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    owner: &str,
    field: &str,
) -> ApiResult<i64> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(invalid(
            owner,
            field,
            format!(
                "{field} is {v}; it must be between {} and {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// `(id, name)` as a wire reference.
pub(crate) fn lookup(v: &(i64, String)) -> ObjectId {
    ObjectId::new(v.0, v.1.clone())
}

/// Epoch ms for the wire: a string, or absent when unset.
pub(crate) fn ms_opt(v: Option<i64>) -> Option<String> {
    v.filter(|v| *v != 0).map(|v| v.to_string())
}
