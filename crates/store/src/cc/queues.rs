//! Queues and the skills they ask for. `payload` (free JSON read by the queue's type) and
//! `variables` (string map) are kept as JSON text; deleting a queue removes its skill rows,
//! its attempts stay in history.

use super::{actor, actor_sql, int32, ints_in, pair, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    /// Webitel's `type`: 0 offline … 10 outbound call.
    pub kind: i32,
    pub strategy: String,
    pub enabled: bool,
    pub priority: i32,
    pub team: Option<(i64, String)>,
    pub payload: Value,
    pub variables: BTreeMap<String, String>,
    pub timeout: i32,
    pub sec_locate_agent: i32,
    /// Kept as given: (id, name).
    pub ringtone: Option<(i64, String)>,
    pub sticky_agent: bool,
    pub processing: bool,
    pub processing_sec: i32,
    pub processing_renewal_sec: i32,
    pub tags: Vec<String>,
    /// The do-not-call list: (id, name).
    pub dnc_list: Option<(i64, String)>,
    /// Attempts not yet left, and of those the ones not yet bridged to an agent.
    pub active: i32,
    pub waiting: i32,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct QueueInput {
    pub name: String,
    pub description: String,
    pub kind: i32,
    pub strategy: String,
    pub enabled: bool,
    pub priority: i32,
    pub team_id: Option<i64>,
    /// A JSON object.
    pub payload: Value,
    pub variables: BTreeMap<String, String>,
    pub timeout: i32,
    pub sec_locate_agent: i32,
    pub ringtone: Option<(i64, String)>,
    pub sticky_agent: bool,
    pub processing: bool,
    pub processing_sec: i32,
    pub processing_renewal_sec: i32,
    pub tags: Vec<String>,
    /// A list of the same domain.
    pub dnc_list_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub kinds: Vec<i64>,
    pub team_ids: Vec<i64>,
    pub enabled: Option<bool>,
    /// Queues carrying any of these tags.
    pub tags: Vec<String>,
}

pub(crate) const QUEUE_COLS: &str = "q.id, q.domain_id, q.name, q.description, q.kind, \
    q.strategy, q.enabled, q.priority, q.team_id, q.payload, q.variables, q.timeout, \
    q.sec_locate_agent, q.ringtone_id, q.ringtone_name, q.sticky_agent, q.processing, \
    q.processing_sec, q.processing_renewal_sec, q.tags, q.dnc_list_id, q.created_at, \
    q.created_by, q.updated_at, q.updated_by";

fn queue_select() -> String {
    let (cols, joins) = actor_sql("q");
    format!(
        "SELECT {QUEUE_COLS}, tm.name AS t_name, dl.name AS dnc_name, {cols}, \
         (SELECT COUNT(*) FROM cc_attempts x WHERE x.queue_id = q.id AND x.leaving_at IS NULL) AS active, \
         (SELECT COUNT(*) FROM cc_attempts x WHERE x.queue_id = q.id AND x.leaving_at IS NULL \
          AND x.bridged_at IS NULL) AS waiting \
         FROM cc_queues q LEFT JOIN cc_teams tm ON tm.id = q.team_id \
         LEFT JOIN cc_lists dl ON dl.id = q.dnc_list_id{joins}"
    )
}

/// The queue columns of [`QUEUE_COLS`] (plus `t_name`, `dnc_name`); counters read as 0 when
/// absent.
pub(crate) fn queue_from(r: &AnyRow) -> StoreResult<QueueRow> {
    let payload: String = r.try_get("payload")?;
    let variables: String = r.try_get("variables")?;
    let tags: String = r.try_get("tags")?;
    Ok(QueueRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        kind: int32(r, "kind")?,
        strategy: r.try_get("strategy")?,
        enabled: crate::db::flag(r, "enabled"),
        priority: int32(r, "priority")?,
        team: pair(r, "team_id", "t_name"),
        payload: serde_json::from_str(&payload)
            .unwrap_or_else(|_| Value::Object(Default::default())),
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        timeout: int32(r, "timeout")?,
        sec_locate_agent: int32(r, "sec_locate_agent")?,
        ringtone: pair(r, "ringtone_id", "ringtone_name"),
        sticky_agent: crate::db::flag(r, "sticky_agent"),
        processing: crate::db::flag(r, "processing"),
        processing_sec: int32(r, "processing_sec")?,
        processing_renewal_sec: int32(r, "processing_renewal_sec")?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        dnc_list: pair(r, "dnc_list_id", "dnc_name"),
        active: int32(r, "active").unwrap_or(0),
        waiting: int32(r, "waiting").unwrap_or(0),
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

#[derive(Debug, Clone)]
pub struct QueueSkillRow {
    pub id: i64,
    pub queue_id: i64,
    pub skill: (i64, String),
    pub lvl: i32,
    pub min_capacity: i32,
    pub max_capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct QueueSkillInput {
    pub skill_id: i64,
    pub lvl: i32,
    pub min_capacity: i32,
    pub max_capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct QueueSkillFilter {
    /// Matches the skill's name.
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub skill_ids: Vec<i64>,
    pub lvls: Vec<i64>,
    pub enabled: Option<bool>,
}

const QUEUE_SKILL_SELECT: &str = "SELECT x.id, x.queue_id, x.skill_id, s.name AS s_name, \
    x.lvl, x.min_capacity, x.max_capacity, x.enabled \
    FROM cc_queue_skills x JOIN cc_skills s ON s.id = x.skill_id";

fn queue_skill_from(r: &AnyRow) -> StoreResult<QueueSkillRow> {
    Ok(QueueSkillRow {
        id: r.try_get("id")?,
        queue_id: r.try_get("queue_id")?,
        skill: (r.try_get("skill_id")?, r.try_get("s_name")?),
        lvl: int32(r, "lvl")?,
        min_capacity: int32(r, "min_capacity")?,
        max_capacity: int32(r, "max_capacity")?,
        enabled: crate::db::flag(r, "enabled"),
    })
}

fn json_text<T: serde::Serialize>(v: &T, empty: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| empty.to_string())
}

impl Store {
    async fn check_queue_team(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        team_id: Option<i64>,
    ) -> StoreResult<()> {
        let Some(t) = team_id else { return Ok(()) };
        let found = sqlx::query("SELECT id FROM cc_teams WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(t)
            .fetch_optional(&mut **tx)
            .await?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::Invalid(format!("team {t} does not exist in this domain")))
    }

    async fn check_queue_dnc_list(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        list_id: Option<i64>,
    ) -> StoreResult<()> {
        let Some(l) = list_id else { return Ok(()) };
        let found = sqlx::query("SELECT id FROM cc_lists WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(l)
            .fetch_optional(&mut **tx)
            .await?;
        found.map(|_| ()).ok_or_else(|| {
            StoreError::Invalid(format!("dnc_list {l} does not exist in this domain"))
        })
    }

    pub async fn create_queue(
        &self,
        domain_id: i64,
        q: &QueueInput,
        actor: Option<i64>,
    ) -> StoreResult<QueueRow> {
        let mut w = self.begin_write().await?;
        self.check_queue_team(&mut w.tx, domain_id, q.team_id)
            .await?;
        self.check_queue_dnc_list(&mut w.tx, domain_id, q.dnc_list_id)
            .await?;
        let row = sqlx::query(
            "INSERT INTO cc_queues (domain_id, name, description, kind, strategy, enabled, \
             priority, team_id, payload, variables, timeout, sec_locate_agent, ringtone_id, \
             ringtone_name, sticky_agent, processing, processing_sec, processing_renewal_sec, \
             tags, dnc_list_id, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $21, $22) RETURNING id",
        )
        .bind(domain_id)
        .bind(&q.name)
        .bind(&q.description)
        .bind(i64::from(q.kind))
        .bind(&q.strategy)
        .bind(q.enabled as i64)
        .bind(i64::from(q.priority))
        .bind(q.team_id)
        .bind(json_text(&q.payload, "{}"))
        .bind(json_text(&q.variables, "{}"))
        .bind(i64::from(q.timeout))
        .bind(i64::from(q.sec_locate_agent))
        .bind(q.ringtone.as_ref().map(|r| r.0))
        .bind(q.ringtone.as_ref().map(|r| r.1.clone()).unwrap_or_default())
        .bind(q.sticky_agent as i64)
        .bind(q.processing as i64)
        .bind(i64::from(q.processing_sec))
        .bind(i64::from(q.processing_renewal_sec))
        .bind(json_text(&q.tags, "[]"))
        .bind(q.dnc_list_id)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_queue(domain_id, id).await
    }

    pub async fn get_queue(&self, domain_id: i64, id: i64) -> StoreResult<QueueRow> {
        let row = sqlx::query(&format!(
            "{} WHERE q.domain_id = $1 AND q.id = $2",
            queue_select()
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("queue"))?;
        queue_from(&row)
    }

    /// Queues of a domain, highest priority first unless `sort` says otherwise.
    pub async fn search_queues(
        &self,
        domain_id: i64,
        f: &QueueFilter,
        page: &Page,
    ) -> StoreResult<Paged<QueueRow>> {
        let order = page.order_by(
            &[
                ("id", "q.id"),
                ("name", "q.name"),
                ("priority", "q.priority"),
                ("type", "q.kind"),
                ("strategy", "q.strategy"),
                ("enabled", "q.enabled"),
                ("team", "tm.name"),
                ("created_at", "q.created_at"),
                ("updated_at", "q.updated_at"),
            ],
            "q.priority DESC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE q.domain_id = {}",
            queue_select(),
            a.int(domain_id)
        );
        sql.push_str(&ints_in("q.id", &f.ids, false));
        sql.push_str(&ints_in("q.kind", &f.kinds, false));
        sql.push_str(&ints_in("q.team_id", &f.team_ids, false));
        if let Some(e) = f.enabled {
            sql.push_str(&format!(" AND q.enabled = {}", e as i64));
        }
        if !f.tags.is_empty() {
            // Tags are a JSON array of strings: match the quoted name.
            let any: Vec<String> = f
                .tags
                .iter()
                .map(|t| {
                    let p = a.text(format!(
                        "%{}%",
                        serde_json::to_string(t)
                            .unwrap_or_default()
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                    ));
                    format!("q.tags LIKE {p} ESCAPE '\\'")
                })
                .collect();
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(q.name) LIKE {p} ESCAPE '\\' OR LOWER(q.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, q.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(queue_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_queue(
        &self,
        domain_id: i64,
        id: i64,
        q: &QueueInput,
        actor: Option<i64>,
    ) -> StoreResult<QueueRow> {
        let mut w = self.begin_write().await?;
        self.check_queue_team(&mut w.tx, domain_id, q.team_id)
            .await?;
        self.check_queue_dnc_list(&mut w.tx, domain_id, q.dnc_list_id)
            .await?;
        let res = sqlx::query(
            "UPDATE cc_queues SET name = $3, description = $4, kind = $5, strategy = $6, \
             enabled = $7, priority = $8, team_id = $9, payload = $10, variables = $11, \
             timeout = $12, sec_locate_agent = $13, ringtone_id = $14, ringtone_name = $15, \
             sticky_agent = $16, processing = $17, processing_sec = $18, \
             processing_renewal_sec = $19, tags = $20, dnc_list_id = $21, updated_at = $22, \
             updated_by = $23 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&q.name)
        .bind(&q.description)
        .bind(i64::from(q.kind))
        .bind(&q.strategy)
        .bind(q.enabled as i64)
        .bind(i64::from(q.priority))
        .bind(q.team_id)
        .bind(json_text(&q.payload, "{}"))
        .bind(json_text(&q.variables, "{}"))
        .bind(i64::from(q.timeout))
        .bind(i64::from(q.sec_locate_agent))
        .bind(q.ringtone.as_ref().map(|r| r.0))
        .bind(q.ringtone.as_ref().map(|r| r.1.clone()).unwrap_or_default())
        .bind(q.sticky_agent as i64)
        .bind(q.processing as i64)
        .bind(i64::from(q.processing_sec))
        .bind(i64::from(q.processing_renewal_sec))
        .bind(json_text(&q.tags, "[]"))
        .bind(q.dnc_list_id)
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        w.commit().await?;
        self.get_queue(domain_id, id).await
    }

    /// Deletes a queue and its skills; its attempts stay in history.
    pub async fn delete_queue(&self, domain_id: i64, id: i64) -> StoreResult<QueueRow> {
        let row = self.get_queue(domain_id, id).await?;
        sqlx::query("DELETE FROM cc_queues WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Checks, inside a write, that the queue and the skill belong to the domain.
    async fn check_queue_skill_refs(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        queue_id: i64,
        skill_id: i64,
    ) -> StoreResult<()> {
        let queue = sqlx::query("SELECT id FROM cc_queues WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(queue_id)
            .fetch_optional(&mut **tx)
            .await?;
        if queue.is_none() {
            return Err(StoreError::NotFound("queue"));
        }
        let skill = sqlx::query("SELECT id FROM cc_skills WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(skill_id)
            .fetch_optional(&mut **tx)
            .await?;
        if skill.is_none() {
            return Err(StoreError::Invalid(format!(
                "skill {skill_id} does not exist in this domain"
            )));
        }
        Ok(())
    }

    pub async fn create_queue_skill(
        &self,
        domain_id: i64,
        queue_id: i64,
        s: &QueueSkillInput,
    ) -> StoreResult<QueueSkillRow> {
        let mut w = self.begin_write().await?;
        self.check_queue_skill_refs(&mut w.tx, domain_id, queue_id, s.skill_id)
            .await?;
        let row = sqlx::query(
            "INSERT INTO cc_queue_skills (domain_id, queue_id, skill_id, lvl, min_capacity, \
             max_capacity, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(domain_id)
        .bind(queue_id)
        .bind(s.skill_id)
        .bind(i64::from(s.lvl))
        .bind(i64::from(s.min_capacity))
        .bind(i64::from(s.max_capacity))
        .bind(s.enabled as i64)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "skill", &s.skill_id.to_string()))?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_queue_skill(domain_id, queue_id, id).await
    }

    pub async fn get_queue_skill(
        &self,
        domain_id: i64,
        queue_id: i64,
        id: i64,
    ) -> StoreResult<QueueSkillRow> {
        let row = sqlx::query(&format!(
            "{QUEUE_SKILL_SELECT} WHERE x.domain_id = $1 AND x.queue_id = $2 AND x.id = $3"
        ))
        .bind(domain_id)
        .bind(queue_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("queue_skill"))?;
        queue_skill_from(&row)
    }

    pub async fn search_queue_skills(
        &self,
        domain_id: i64,
        queue_id: i64,
        f: &QueueSkillFilter,
        page: &Page,
    ) -> StoreResult<Paged<QueueSkillRow>> {
        let order = page.order_by(
            &[
                ("id", "x.id"),
                ("skill", "s.name"),
                ("lvl", "x.lvl"),
                ("min_capacity", "x.min_capacity"),
                ("max_capacity", "x.max_capacity"),
                ("enabled", "x.enabled"),
            ],
            "x.id DESC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{QUEUE_SKILL_SELECT} WHERE x.domain_id = {} AND x.queue_id = {}{}{}{}",
            a.int(domain_id),
            a.int(queue_id),
            ints_in("x.id", &f.ids, false),
            ints_in("x.skill_id", &f.skill_ids, false),
            ints_in("x.lvl", &f.lvls, false)
        );
        if let Some(e) = f.enabled {
            sql.push_str(&format!(" AND x.enabled = {}", e as i64));
        }
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
            .map(queue_skill_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_queue_skill(
        &self,
        domain_id: i64,
        queue_id: i64,
        id: i64,
        s: &QueueSkillInput,
    ) -> StoreResult<QueueSkillRow> {
        let mut w = self.begin_write().await?;
        self.check_queue_skill_refs(&mut w.tx, domain_id, queue_id, s.skill_id)
            .await?;
        let res = sqlx::query(
            "UPDATE cc_queue_skills SET skill_id = $4, lvl = $5, min_capacity = $6, \
             max_capacity = $7, enabled = $8 WHERE domain_id = $1 AND queue_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(queue_id)
        .bind(id)
        .bind(s.skill_id)
        .bind(i64::from(s.lvl))
        .bind(i64::from(s.min_capacity))
        .bind(i64::from(s.max_capacity))
        .bind(s.enabled as i64)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "skill", &s.skill_id.to_string()))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("queue_skill"));
        }
        w.commit().await?;
        self.get_queue_skill(domain_id, queue_id, id).await
    }

    pub async fn delete_queue_skill(
        &self,
        domain_id: i64,
        queue_id: i64,
        id: i64,
    ) -> StoreResult<QueueSkillRow> {
        let row = self.get_queue_skill(domain_id, queue_id, id).await?;
        sqlx::query(
            "DELETE FROM cc_queue_skills WHERE domain_id = $1 AND queue_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(queue_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(row)
    }
}
