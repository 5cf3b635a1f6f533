//! What the telephony runtime loads of a domain's contact center: every agent with its skills,
//! every team, every queue with its skills. Three statements per domain, whatever its size.

use super::agents::agent_from;
use super::queues::{queue_from, QUEUE_COLS};
use super::teams::{team_from, TEAM_COLS};
use super::{json_list, user_name_sql};
use crate::{Store, StoreResult};
use sqlx::Row;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct CcDirectory {
    pub agents: Vec<CcAgentRow>,
    pub teams: Vec<CcTeamRow>,
    pub queues: Vec<CcQueueRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcAgentSkillRow {
    pub skill_id: i64,
    pub capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcAgentRow {
    pub id: i64,
    pub user_id: i64,
    /// The user's display name.
    pub name: String,
    /// The user's extension.
    pub extension: String,
    pub team_id: Option<i64>,
    pub status: String,
    pub status_payload: Option<String>,
    pub last_status_change: i64,
    pub skills: Vec<CcAgentSkillRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcTeamRow {
    pub id: i64,
    pub name: String,
    pub strategy: String,
    pub max_no_answer: i32,
    pub no_answer_delay_time: i32,
    pub wrap_up_time: i32,
    pub call_timeout: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcQueueSkillRow {
    pub skill_id: i64,
    pub lvl: i32,
    pub min_capacity: i32,
    pub max_capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CcQueueRow {
    pub id: i64,
    pub name: String,
    /// Webitel's queue `type`.
    pub kind: i32,
    pub enabled: bool,
    pub priority: i32,
    pub strategy: String,
    pub team_id: Option<i64>,
    pub processing: bool,
    pub processing_sec: i32,
    pub processing_renewal_sec: i32,
    pub payload: serde_json::Value,
    pub variables: BTreeMap<String, String>,
    pub sticky_agent: bool,
    /// Ordered by level, then skill id.
    pub skills: Vec<CcQueueSkillRow>,
}

#[derive(serde::Deserialize)]
struct QueueSkillJson {
    skill_id: i64,
    lvl: i64,
    min_capacity: i64,
    max_capacity: i64,
    enabled: i64,
}

fn int32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

impl Store {
    pub async fn cc_directory(&self, domain_id: i64) -> StoreResult<CcDirectory> {
        let skills = json_list(
            self.backend,
            "'id', s.id, 'name', s.name, 'capacity', x.capacity, 'enabled', x.enabled",
            "FROM cc_agent_skills x JOIN cc_skills s ON s.id = x.skill_id WHERE x.agent_id = a.id",
        );
        // The columns `agent_from` reads, without the created/updated actors.
        let agents = sqlx::query(&format!(
            "SELECT a.id, a.domain_id, a.user_id, a.team_id, a.description, a.progressive_count, \
             a.chat_count, a.task_count, a.is_supervisor, a.allow_channels, a.status, \
             a.status_payload, a.last_status_change, a.created_at, a.created_by, a.updated_at, \
             a.updated_by, {} AS u_name, u.extension AS u_extension, CAST(NULL AS TEXT) AS t_name, \
             {skills} AS skills_json \
             FROM cc_agents a JOIN users u ON u.id = a.user_id WHERE a.domain_id = $1 ORDER BY a.id",
            user_name_sql("u")
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        let agents = agents
            .iter()
            .map(|r| {
                let a = agent_from(r)?;
                let mut skills: Vec<CcAgentSkillRow> = a
                    .skills
                    .iter()
                    .map(|s| CcAgentSkillRow {
                        skill_id: s.skill.0,
                        capacity: s.capacity,
                        enabled: s.enabled,
                    })
                    .collect();
                skills.sort_by_key(|s| s.skill_id);
                Ok(CcAgentRow {
                    id: a.id,
                    user_id: a.user.0,
                    name: a.user.1,
                    extension: a.extension,
                    team_id: a.team.map(|t| t.0),
                    status: a.status,
                    status_payload: a.status_payload,
                    last_status_change: a.last_status_change,
                    skills,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;

        let teams = sqlx::query(&format!(
            "SELECT {TEAM_COLS} FROM cc_teams t WHERE t.domain_id = $1 ORDER BY t.id"
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        let teams = teams
            .iter()
            .map(|r| {
                let t = team_from(r)?;
                Ok(CcTeamRow {
                    id: t.id,
                    name: t.name,
                    strategy: t.strategy,
                    max_no_answer: t.max_no_answer,
                    no_answer_delay_time: t.no_answer_delay_time,
                    wrap_up_time: t.wrap_up_time,
                    call_timeout: t.call_timeout,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;

        let queue_skills = json_list(
            self.backend,
            "'skill_id', x.skill_id, 'lvl', x.lvl, 'min_capacity', x.min_capacity, \
             'max_capacity', x.max_capacity, 'enabled', x.enabled",
            "FROM cc_queue_skills x WHERE x.queue_id = q.id",
        );
        let queues = sqlx::query(&format!(
            "SELECT {QUEUE_COLS}, CAST(NULL AS TEXT) AS t_name, {queue_skills} AS skills_json \
             FROM cc_queues q WHERE q.domain_id = $1 ORDER BY q.priority DESC, q.id"
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        let queues = queues
            .iter()
            .map(|r| {
                let raw: String = r.try_get("skills_json")?;
                let mut skills: Vec<CcQueueSkillRow> =
                    serde_json::from_str::<Vec<QueueSkillJson>>(&raw)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| CcQueueSkillRow {
                            skill_id: s.skill_id,
                            lvl: int32(s.lvl),
                            min_capacity: int32(s.min_capacity),
                            max_capacity: int32(s.max_capacity),
                            enabled: s.enabled != 0,
                        })
                        .collect();
                skills.sort_by_key(|s| (s.lvl, s.skill_id));
                let q = queue_from(r)?;
                Ok(CcQueueRow {
                    id: q.id,
                    name: q.name,
                    kind: q.kind,
                    enabled: q.enabled,
                    priority: q.priority,
                    strategy: q.strategy,
                    team_id: q.team.map(|t| t.0),
                    processing: q.processing,
                    processing_sec: q.processing_sec,
                    processing_renewal_sec: q.processing_renewal_sec,
                    payload: q.payload,
                    variables: q.variables,
                    sticky_agent: q.sticky_agent,
                    skills,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(CcDirectory {
            agents,
            teams,
            queues,
        })
    }

    /// Domains with any agent or queue: the ones the contact center loads at start.
    pub async fn cc_domains(&self) -> StoreResult<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT domain_id FROM cc_agents UNION SELECT domain_id FROM cc_queues ORDER BY domain_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("domain_id")?)).collect()
    }
}
