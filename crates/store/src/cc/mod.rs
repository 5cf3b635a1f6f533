//! Contact center: teams, skills, agents (one per user) with their skills and status, queues
//! with the skills they ask for, and queue attempts. Every statement is scoped by domain; lists
//! carry their relations (user, team, skills) as joins and JSON arrays, never one query per row.
//! The telephony runtime reads a whole domain at once through [`Store::cc_directory`].

mod agents;
mod attempts;
mod directory;
mod lists;
mod members;
mod queues;
mod skills;
mod teams;

pub use agents::{
    AgentFilter, AgentInput, AgentRow, AgentSkillFilter, AgentSkillInput, AgentSkillRef,
    AgentSkillRow, AgentSkillsChange,
};
pub use attempts::{AttemptFilter, AttemptRow};
pub use directory::{
    CcAgentRow, CcAgentSkillRow, CcDirectory, CcQueueRow, CcQueueSkillRow, CcTeamRow,
};
pub use lists::{
    ListCommunicationFilter, ListCommunicationInput, ListCommunicationRow, ListFilter, ListInput,
    ListRow,
};
pub use members::{
    CommunicationRow, MemberFilter, MemberInput, MemberReset, MemberRow, MemberUpdate,
};
pub use queues::{
    QueueFilter, QueueInput, QueueRow, QueueSkillFilter, QueueSkillInput, QueueSkillRow,
};
pub use skills::{SkillFilter, SkillInput, SkillRow};
pub use teams::{TeamFilter, TeamInput, TeamRow};

use crate::db::Backend;
use crate::devices::display;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::Row;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>;

enum Arg {
    Int(i64),
    Text(String),
}

/// Bind values of a statement built piece by piece; each push answers its placeholder.
#[derive(Default)]
pub(crate) struct Args(Vec<Arg>);

impl Args {
    pub fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }

    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Arg::Text(v.into()));
        format!("${}", self.0.len())
    }

    /// `AND col IN ($a, $b…)`, or nothing for an empty list.
    pub fn texts_in(&mut self, col: &str, values: &[String]) -> String {
        if values.is_empty() {
            return String::new();
        }
        let ph: Vec<String> = values.iter().map(|v| self.text(v.clone())).collect();
        format!(" AND {col} IN ({})", ph.join(", "))
    }

    pub fn bind(self, mut q: AnyQuery<'_>) -> AnyQuery<'_> {
        for a in self.0 {
            q = match a {
                Arg::Int(i) => q.bind(i),
                Arg::Text(t) => q.bind(t),
            };
        }
        q
    }
}

/// `AND [NOT] col IN (1,2,3)`; ids are integers, so inlining them is injection-safe.
pub(crate) fn ints_in(col: &str, ids: &[i64], negate: bool) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let not = if negate { "NOT " } else { "" };
    format!(" AND {col} {not}IN ({})", list.join(","))
}

/// `(SELECT <json array of objects> FROM …)` in this backend's JSON dialect; `[]` when empty.
pub(crate) fn json_list(backend: Backend, fields: &str, from: &str) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT json_group_array(json_object({fields})) {from})"),
        Backend::Postgres => {
            format!("(SELECT COALESCE(json_agg(json_build_object({fields}))::text, '[]') {from})")
        }
    }
}

/// A user's display name in SQL: its name, else its username.
pub(crate) fn user_name_sql(alias: &str) -> String {
    format!("COALESCE(NULLIF({alias}.name, ''), {alias}.username)")
}

/// `(id, name)` from an id column and a name column; `None` when the id is NULL.
pub(crate) fn pair(r: &AnyRow, id: &str, name: &str) -> Option<(i64, String)> {
    let id: Option<i64> = r.try_get(id).ok().flatten();
    id.map(|id| {
        (
            id,
            r.try_get::<Option<String>, _>(name)
                .ok()
                .flatten()
                .unwrap_or_default(),
        )
    })
}

/// `created_by` / `updated_by` as `(id, display name)`; the select names them `cb_*`, `ub_*`.
pub(crate) fn actor(r: &AnyRow, col: &str, prefix: &str) -> Option<(i64, String)> {
    let id: Option<i64> = r.try_get(col).ok().flatten();
    id.map(|id| {
        (
            id,
            display(
                r.try_get(format!("{prefix}_name").as_str()).ok().flatten(),
                r.try_get(format!("{prefix}_username").as_str())
                    .ok()
                    .flatten(),
            ),
        )
    })
}

/// An integer column that fits the wire's int32.
pub(crate) fn int32(r: &AnyRow, col: &str) -> Result<i32, sqlx::Error> {
    let v: i64 = r.try_get(col)?;
    Ok(i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX }))
}

/// The joins and columns of `created_by`/`updated_by` for a table aliased `alias`.
pub(crate) fn actor_sql(alias: &str) -> (String, String) {
    (
        "cb.name AS cb_name, cb.username AS cb_username, ub.name AS ub_name, ub.username AS ub_username"
            .to_string(),
        format!(
            " LEFT JOIN users cb ON cb.id = {alias}.created_by LEFT JOIN users ub ON ub.id = {alias}.updated_by"
        ),
    )
}
