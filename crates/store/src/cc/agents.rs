//! Agents and their skills. An agent is a user of the domain (at most one agent per user); its
//! name and extension are the user's. Deleting the user deletes the agent, and an agent's skill
//! rows go with it.

use super::{actor, actor_sql, int32, ints_in, json_list, pair, user_name_sql, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A skill as an agent row carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSkillRef {
    pub skill: (i64, String),
    pub capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct AgentRow {
    pub id: i64,
    pub domain_id: i64,
    /// The user: (id, display name). The agent's name is the user's.
    pub user: (i64, String),
    pub extension: String,
    pub team: Option<(i64, String)>,
    pub description: String,
    pub progressive_count: i32,
    pub chat_count: i64,
    pub task_count: i64,
    pub is_supervisor: bool,
    pub allow_channels: Vec<String>,
    /// Last status the contact center stored: `offline`, `online`, `pause`, `break_out`.
    pub status: String,
    pub status_payload: Option<String>,
    pub last_status_change: i64,
    /// Ordered by skill name.
    pub skills: Vec<AgentSkillRef>,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct AgentInput {
    pub user_id: i64,
    pub team_id: Option<i64>,
    pub description: String,
    pub progressive_count: i32,
    pub chat_count: i64,
    pub task_count: i64,
    pub is_supervisor: bool,
    pub allow_channels: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    /// Matches the user's name, username or extension, or the description.
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub user_ids: Vec<i64>,
    pub not_user_ids: Vec<i64>,
    pub team_ids: Vec<i64>,
    pub not_team_ids: Vec<i64>,
    pub skill_ids: Vec<i64>,
    pub not_skill_ids: Vec<i64>,
    /// Agents who can serve one of these queues: in the queue's team (if it has one) with an
    /// enabled skill the queue asks for, within its capacity range.
    pub queue_ids: Vec<i64>,
    pub extensions: Vec<String>,
    pub is_supervisor: Option<bool>,
}

#[derive(serde::Deserialize)]
struct SkillJson {
    id: i64,
    name: String,
    capacity: i64,
    enabled: i64,
}

fn agent_select(store: &Store) -> String {
    let skills = json_list(
        store.backend,
        "'id', s.id, 'name', s.name, 'capacity', x.capacity, 'enabled', x.enabled",
        "FROM cc_agent_skills x JOIN cc_skills s ON s.id = x.skill_id WHERE x.agent_id = a.id",
    );
    let (cols, joins) = actor_sql("a");
    format!(
        "SELECT a.id, a.domain_id, a.user_id, a.team_id, a.description, a.progressive_count, \
         a.chat_count, a.task_count, a.is_supervisor, a.allow_channels, a.status, \
         a.status_payload, a.last_status_change, a.created_at, a.created_by, a.updated_at, \
         a.updated_by, {} AS u_name, u.extension AS u_extension, t.name AS t_name, {cols}, \
         {skills} AS skills_json \
         FROM cc_agents a JOIN users u ON u.id = a.user_id LEFT JOIN cc_teams t ON t.id = a.team_id{joins}",
        user_name_sql("u")
    )
}

pub(crate) fn agent_from(r: &AnyRow) -> StoreResult<AgentRow> {
    let skills_raw: String = r.try_get("skills_json")?;
    let mut skills: Vec<AgentSkillRef> = serde_json::from_str::<Vec<SkillJson>>(&skills_raw)
        .unwrap_or_default()
        .into_iter()
        .map(|s| AgentSkillRef {
            skill: (s.id, s.name),
            capacity: i32::try_from(s.capacity).unwrap_or(0),
            enabled: s.enabled != 0,
        })
        .collect();
    skills.sort_by(|a, b| a.skill.1.cmp(&b.skill.1).then(a.skill.0.cmp(&b.skill.0)));
    let channels: String = r.try_get("allow_channels")?;
    Ok(AgentRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        user: (r.try_get("user_id")?, r.try_get("u_name")?),
        extension: r.try_get("u_extension")?,
        team: pair(r, "team_id", "t_name"),
        description: r.try_get("description")?,
        progressive_count: int32(r, "progressive_count")?,
        chat_count: r.try_get("chat_count")?,
        task_count: r.try_get("task_count")?,
        is_supervisor: crate::db::flag(r, "is_supervisor"),
        allow_channels: serde_json::from_str(&channels).unwrap_or_default(),
        status: r.try_get("status")?,
        status_payload: r.try_get("status_payload")?,
        last_status_change: r.try_get("last_status_change")?,
        skills,
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

#[derive(Debug, Clone)]
pub struct AgentSkillRow {
    pub id: i64,
    pub domain_id: i64,
    /// The agent: (id, its user's display name).
    pub agent: (i64, String),
    pub skill: (i64, String),
    /// The agent's team.
    pub team: Option<(i64, String)>,
    pub capacity: i32,
    pub enabled: bool,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct AgentSkillInput {
    pub skill_id: i64,
    pub capacity: i32,
    pub enabled: bool,
}

/// A bulk change of an agent's skills: the rows named by `ids` or `skill_ids` (all when both
/// are empty) take the given `capacity` and `enabled`.
#[derive(Debug, Clone, Default)]
pub struct AgentSkillsChange {
    pub ids: Vec<i64>,
    pub skill_ids: Vec<i64>,
    pub capacity: Option<i32>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct AgentSkillFilter {
    /// Matches the skill's name.
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub skill_ids: Vec<i64>,
}

fn agent_skill_select() -> String {
    let (cols, joins) = actor_sql("x");
    format!(
        "SELECT x.id, x.domain_id, x.agent_id, x.skill_id, x.capacity, x.enabled, x.created_at, \
         x.created_by, x.updated_at, x.updated_by, s.name AS s_name, {} AS a_name, a.team_id, \
         t.name AS t_name, {cols} \
         FROM cc_agent_skills x JOIN cc_skills s ON s.id = x.skill_id \
         JOIN cc_agents a ON a.id = x.agent_id JOIN users u ON u.id = a.user_id \
         LEFT JOIN cc_teams t ON t.id = a.team_id{joins}",
        user_name_sql("u")
    )
}

fn agent_skill_from(r: &AnyRow) -> StoreResult<AgentSkillRow> {
    Ok(AgentSkillRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        agent: (r.try_get("agent_id")?, r.try_get("a_name")?),
        skill: (r.try_get("skill_id")?, r.try_get("s_name")?),
        team: pair(r, "team_id", "t_name"),
        capacity: int32(r, "capacity")?,
        enabled: crate::db::flag(r, "enabled"),
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

impl Store {
    /// Checks, inside a write, that the agent's user and team belong to the domain.
    async fn check_agent_refs(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        a: &AgentInput,
    ) -> StoreResult<()> {
        let user = sqlx::query("SELECT id FROM users WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(a.user_id)
            .fetch_optional(&mut **tx)
            .await?;
        if user.is_none() {
            return Err(StoreError::Invalid(format!(
                "user {} does not exist in this domain",
                a.user_id
            )));
        }
        if let Some(t) = a.team_id {
            let team = sqlx::query("SELECT id FROM cc_teams WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(t)
                .fetch_optional(&mut **tx)
                .await?;
            if team.is_none() {
                return Err(StoreError::Invalid(format!(
                    "team {t} does not exist in this domain"
                )));
            }
        }
        Ok(())
    }

    /// Makes user `a.user_id` an agent, `offline` from now on.
    pub async fn create_agent(
        &self,
        domain_id: i64,
        a: &AgentInput,
        actor: Option<i64>,
    ) -> StoreResult<AgentRow> {
        let mut w = self.begin_write().await?;
        self.check_agent_refs(&mut w.tx, domain_id, a).await?;
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO cc_agents (domain_id, user_id, team_id, description, progressive_count, \
             chat_count, task_count, is_supervisor, allow_channels, status, last_status_change, \
             created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'offline', $10, $10, $11, $10, $11) \
             RETURNING id",
        )
        .bind(domain_id)
        .bind(a.user_id)
        .bind(a.team_id)
        .bind(&a.description)
        .bind(i64::from(a.progressive_count))
        .bind(a.chat_count)
        .bind(a.task_count)
        .bind(a.is_supervisor as i64)
        .bind(serde_json::to_string(&a.allow_channels).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "user", &a.user_id.to_string()))?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_agent(domain_id, id).await
    }

    pub async fn get_agent(&self, domain_id: i64, id: i64) -> StoreResult<AgentRow> {
        let row = sqlx::query(&format!(
            "{} WHERE a.domain_id = $1 AND a.id = $2",
            agent_select(self)
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("agent"))?;
        agent_from(&row)
    }

    /// The agent of a user, if the user is one.
    pub async fn agent_id_of_user(&self, domain_id: i64, user_id: i64) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT id FROM cc_agents WHERE domain_id = $1 AND user_id = $2")
            .bind(domain_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    pub async fn search_agents(
        &self,
        domain_id: i64,
        f: &AgentFilter,
        page: &Page,
    ) -> StoreResult<Paged<AgentRow>> {
        let name = user_name_sql("u");
        let order = page.order_by(
            &[
                ("id", "a.id"),
                ("name", name.as_str()),
                ("status", "a.status"),
                ("extension", "u.extension"),
                ("description", "a.description"),
                ("last_status_change", "a.last_status_change"),
                ("team", "t.name"),
                ("progressive_count", "a.progressive_count"),
            ],
            "a.id ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE a.domain_id = {}",
            agent_select(self),
            a.int(domain_id)
        );
        sql.push_str(&ints_in("a.id", &f.ids, false));
        sql.push_str(&ints_in("a.user_id", &f.user_ids, false));
        sql.push_str(&ints_in("a.user_id", &f.not_user_ids, true));
        sql.push_str(&ints_in("a.team_id", &f.team_ids, false));
        if !f.not_team_ids.is_empty() {
            // An agent without a team is in none of them.
            let list: Vec<String> = f.not_team_ids.iter().map(i64::to_string).collect();
            sql.push_str(&format!(
                " AND (a.team_id IS NULL OR a.team_id NOT IN ({}))",
                list.join(",")
            ));
        }
        sql.push_str(&a.texts_in("u.extension", &f.extensions));
        if let Some(s) = f.is_supervisor {
            sql.push_str(&format!(" AND a.is_supervisor = {}", s as i64));
        }
        if !f.skill_ids.is_empty() {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM cc_agent_skills x WHERE x.agent_id = a.id{})",
                ints_in("x.skill_id", &f.skill_ids, false)
            ));
        }
        if !f.not_skill_ids.is_empty() {
            sql.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM cc_agent_skills x WHERE x.agent_id = a.id{})",
                ints_in("x.skill_id", &f.not_skill_ids, false)
            ));
        }
        if !f.queue_ids.is_empty() {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM cc_queues q \
                   JOIN cc_queue_skills qs ON qs.queue_id = q.id AND qs.enabled = 1 \
                   JOIN cc_agent_skills x ON x.skill_id = qs.skill_id AND x.agent_id = a.id \
                     AND x.enabled = 1 AND x.capacity >= qs.min_capacity AND x.capacity <= qs.max_capacity \
                   WHERE q.domain_id = a.domain_id{} AND (q.team_id IS NULL OR q.team_id = a.team_id))",
                ints_in("q.id", &f.queue_ids, false)
            ));
        }
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(u.name) LIKE {p} ESCAPE '\\' OR LOWER(u.username) LIKE {p} ESCAPE '\\' \
                 OR LOWER(u.extension) LIKE {p} ESCAPE '\\' OR LOWER(a.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, a.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(agent_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    /// Replaces the agent's settings; its status and skills stay.
    pub async fn update_agent(
        &self,
        domain_id: i64,
        id: i64,
        a: &AgentInput,
        actor: Option<i64>,
    ) -> StoreResult<AgentRow> {
        let mut w = self.begin_write().await?;
        self.check_agent_refs(&mut w.tx, domain_id, a).await?;
        let res = sqlx::query(
            "UPDATE cc_agents SET user_id = $3, team_id = $4, description = $5, \
             progressive_count = $6, chat_count = $7, task_count = $8, is_supervisor = $9, \
             allow_channels = $10, updated_at = $11, updated_by = $12 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(a.user_id)
        .bind(a.team_id)
        .bind(&a.description)
        .bind(i64::from(a.progressive_count))
        .bind(a.chat_count)
        .bind(a.task_count)
        .bind(a.is_supervisor as i64)
        .bind(serde_json::to_string(&a.allow_channels).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "user", &a.user_id.to_string()))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("agent"));
        }
        w.commit().await?;
        self.get_agent(domain_id, id).await
    }

    /// Deletes an agent and its skills; its attempts stay in history.
    pub async fn delete_agent(&self, domain_id: i64, id: i64) -> StoreResult<AgentRow> {
        let row = self.get_agent(domain_id, id).await?;
        sqlx::query("DELETE FROM cc_agents WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Records an agent's status as the contact center changed it at `at_ms`.
    pub async fn set_agent_status(
        &self,
        domain_id: i64,
        agent_id: i64,
        status: &str,
        payload: Option<&str>,
        at_ms: i64,
    ) -> StoreResult<()> {
        let res = sqlx::query(
            "UPDATE cc_agents SET status = $3, status_payload = $4, last_status_change = $5 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(agent_id)
        .bind(status)
        .bind(payload)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("agent"));
        }
        Ok(())
    }

    async fn check_skill_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        skill_id: i64,
    ) -> StoreResult<()> {
        let found = sqlx::query("SELECT id FROM cc_skills WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(skill_id)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::Invalid(format!(
                "skill {skill_id} does not exist in this domain"
            )));
        }
        Ok(())
    }

    async fn check_agent_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        agent_id: i64,
    ) -> StoreResult<()> {
        let found = sqlx::query("SELECT id FROM cc_agents WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(agent_id)
            .fetch_optional(&mut **tx)
            .await?;
        found.map(|_| ()).ok_or(StoreError::NotFound("agent"))
    }

    pub async fn create_agent_skill(
        &self,
        domain_id: i64,
        agent_id: i64,
        s: &AgentSkillInput,
        actor: Option<i64>,
    ) -> StoreResult<AgentSkillRow> {
        let mut w = self.begin_write().await?;
        self.check_agent_in(&mut w.tx, domain_id, agent_id).await?;
        self.check_skill_in(&mut w.tx, domain_id, s.skill_id)
            .await?;
        let row = sqlx::query(
            "INSERT INTO cc_agent_skills (domain_id, agent_id, skill_id, capacity, enabled, \
             created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
        )
        .bind(domain_id)
        .bind(agent_id)
        .bind(s.skill_id)
        .bind(i64::from(s.capacity))
        .bind(s.enabled as i64)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "skill", &s.skill_id.to_string()))?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_agent_skill(domain_id, agent_id, id).await
    }

    pub async fn get_agent_skill(
        &self,
        domain_id: i64,
        agent_id: i64,
        id: i64,
    ) -> StoreResult<AgentSkillRow> {
        let row = sqlx::query(&format!(
            "{} WHERE x.domain_id = $1 AND x.agent_id = $2 AND x.id = $3",
            agent_skill_select()
        ))
        .bind(domain_id)
        .bind(agent_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("agent_skill"))?;
        agent_skill_from(&row)
    }

    pub async fn search_agent_skills(
        &self,
        domain_id: i64,
        agent_id: i64,
        f: &AgentSkillFilter,
        page: &Page,
    ) -> StoreResult<Paged<AgentSkillRow>> {
        let order = page.order_by(
            &[
                ("id", "x.id"),
                ("skill", "s.name"),
                ("skill_name", "s.name"),
                ("capacity", "x.capacity"),
                ("enabled", "x.enabled"),
            ],
            "s.name ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE x.domain_id = {} AND x.agent_id = {}{}{}",
            agent_skill_select(),
            a.int(domain_id),
            a.int(agent_id),
            ints_in("x.id", &f.ids, false),
            ints_in("x.skill_id", &f.skill_ids, false)
        );
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(" AND LOWER(s.name) LIKE {p} ESCAPE '\\'"));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, x.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(agent_skill_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_agent_skill(
        &self,
        domain_id: i64,
        agent_id: i64,
        id: i64,
        s: &AgentSkillInput,
        actor: Option<i64>,
    ) -> StoreResult<AgentSkillRow> {
        let mut w = self.begin_write().await?;
        self.check_skill_in(&mut w.tx, domain_id, s.skill_id)
            .await?;
        let res = sqlx::query(
            "UPDATE cc_agent_skills SET skill_id = $4, capacity = $5, enabled = $6, \
             updated_at = $7, updated_by = $8 WHERE domain_id = $1 AND agent_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(agent_id)
        .bind(id)
        .bind(s.skill_id)
        .bind(i64::from(s.capacity))
        .bind(s.enabled as i64)
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "skill", &s.skill_id.to_string()))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("agent_skill"));
        }
        w.commit().await?;
        self.get_agent_skill(domain_id, agent_id, id).await
    }

    /// The agent's skill rows named by `ids` or `skill_ids` (all of them when both are empty);
    /// `p` is the table's alias with its dot, or nothing.
    fn agent_skills_where(p: &str, ids: &[i64], skill_ids: &[i64]) -> String {
        match (ids.is_empty(), skill_ids.is_empty()) {
            (true, true) => String::new(),
            (false, true) => ints_in(&format!("{p}id"), ids, false),
            (true, false) => ints_in(&format!("{p}skill_id"), skill_ids, false),
            (false, false) => format!(
                " AND ({p}id IN ({}) OR {p}skill_id IN ({}))",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
                skill_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    async fn agent_skills_of(
        &self,
        domain_id: i64,
        agent_id: i64,
        ids: &[i64],
        skill_ids: &[i64],
    ) -> StoreResult<Vec<AgentSkillRow>> {
        let rows = sqlx::query(&format!(
            "{} WHERE x.domain_id = $1 AND x.agent_id = $2{} ORDER BY s.name, x.id",
            agent_skill_select(),
            Self::agent_skills_where("x.", ids, skill_ids)
        ))
        .bind(domain_id)
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_skill_from).collect()
    }

    /// Sets `capacity` and/or `enabled` on several of an agent's skills; answers them.
    pub async fn patch_agent_skills(
        &self,
        domain_id: i64,
        agent_id: i64,
        c: &AgentSkillsChange,
        actor: Option<i64>,
    ) -> StoreResult<Vec<AgentSkillRow>> {
        let (ids, skill_ids, capacity, enabled) = (&c.ids, &c.skill_ids, c.capacity, c.enabled);
        let mut w = self.begin_write().await?;
        self.check_agent_in(&mut w.tx, domain_id, agent_id).await?;
        let rows_where = Self::agent_skills_where("", ids, skill_ids);
        // -1 keeps a column as it is.
        sqlx::query(&format!(
            "UPDATE cc_agent_skills SET \
             capacity = CASE WHEN $3 < 0 THEN capacity ELSE $3 END, \
             enabled = CASE WHEN $4 < 0 THEN enabled ELSE $4 END, \
             updated_at = $5, updated_by = $6 WHERE domain_id = $1 AND agent_id = $2{rows_where}"
        ))
        .bind(domain_id)
        .bind(agent_id)
        .bind(capacity.map(i64::from).unwrap_or(-1))
        .bind(enabled.map(|e| e as i64).unwrap_or(-1))
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        self.agent_skills_of(domain_id, agent_id, ids, skill_ids)
            .await
    }

    /// Deletes several of an agent's skills (by row or skill id); answers the deleted rows.
    pub async fn delete_agent_skills(
        &self,
        domain_id: i64,
        agent_id: i64,
        ids: &[i64],
        skill_ids: &[i64],
    ) -> StoreResult<Vec<AgentSkillRow>> {
        if ids.is_empty() && skill_ids.is_empty() {
            return Err(StoreError::Invalid(
                "give id or skill_id: the skills to take from the agent".into(),
            ));
        }
        let rows = self
            .agent_skills_of(domain_id, agent_id, ids, skill_ids)
            .await?;
        let rows_where = Self::agent_skills_where("", ids, skill_ids);
        sqlx::query(&format!(
            "DELETE FROM cc_agent_skills WHERE domain_id = $1 AND agent_id = $2{rows_where}"
        ))
        .bind(domain_id)
        .bind(agent_id)
        .execute(&self.pool)
        .await?;
        Ok(rows)
    }

    pub async fn delete_agent_skill(
        &self,
        domain_id: i64,
        agent_id: i64,
        id: i64,
    ) -> StoreResult<AgentSkillRow> {
        let row = self.get_agent_skill(domain_id, agent_id, id).await?;
        sqlx::query(
            "DELETE FROM cc_agent_skills WHERE domain_id = $1 AND agent_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(agent_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(row)
    }
}
