//! Dialer members: whom an outbound queue calls (communications = numbers, kept as one JSON
//! array), their variables and time zone, and the bookkeeping the dialer writes back after
//! every attempt (attempts, `ready_at`, `stop_cause`). Bulk creation is one transaction: all
//! rows or none. The dialer reads a queue's callable members in batches, best first.

use super::{actor, actor_sql, int32, ints_in, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// One number of a member, as stored inside the member's `communications`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommunicationRow {
    pub destination: String,
    /// Webitel's communication type reference, kept as given.
    pub type_id: Option<i64>,
    pub type_name: String,
    /// Higher first.
    pub priority: i32,
    pub description: String,
    /// The caller id to show for this number (empty: the queue's).
    pub display: String,
    pub resource_id: Option<i64>,
    pub dtmf: String,
    /// Webitel's state: 0 ready, 1 stopped (barred or done).
    pub state: i32,
    pub attempts: i32,
    pub last_activity_at: i64,
    /// The last attempt's result on this number.
    pub last_cause: String,
    pub stop_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub id: i64,
    pub domain_id: i64,
    pub queue: (i64, String),
    pub name: String,
    pub priority: i32,
    /// IANA time zone name; empty when unknown.
    pub timezone: String,
    pub bucket_id: Option<i64>,
    pub agent: Option<(i64, String)>,
    pub variables: BTreeMap<String, String>,
    pub communications: Vec<CommunicationRow>,
    pub expire_at: Option<i64>,
    /// Not called before (epoch ms; Webitel's `min_offering_at`).
    pub ready_at: i64,
    pub stop_cause: Option<String>,
    pub stop_at: Option<i64>,
    pub attempts: i32,
    pub last_activity_at: i64,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

/// A member as created or replaced (REST validated it).
#[derive(Debug, Clone, Default)]
pub struct MemberInput {
    pub name: String,
    pub priority: i32,
    pub timezone: String,
    pub bucket_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub variables: BTreeMap<String, String>,
    /// At least one, each with a destination.
    pub communications: Vec<CommunicationRow>,
    pub expire_at: Option<i64>,
    pub ready_at: i64,
    pub stop_cause: Option<String>,
    pub attempts: i32,
}

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Name or first destination.
    pub q: Option<String>,
    pub ids: Vec<i64>,
    /// Empty: every queue of the domain.
    pub queue_ids: Vec<i64>,
    pub bucket_ids: Vec<i64>,
    pub agent_ids: Vec<i64>,
    /// Members one of whose numbers is exactly this.
    pub destination: Option<String>,
    pub name: Option<String>,
    pub stop_causes: Vec<String>,
    pub priority: (Option<i64>, Option<i64>),
    pub attempts: (Option<i64>, Option<i64>),
    pub created_at: (Option<i64>, Option<i64>),
}

/// What the dialer writes back after an attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberUpdate {
    pub domain_id: i64,
    pub id: i64,
    pub attempts: i32,
    pub ready_at: i64,
    pub stop_cause: Option<String>,
    pub stop_at: Option<i64>,
    pub last_activity_at: i64,
    pub communications: Vec<CommunicationRow>,
}

/// `PATCH …/members/reset`: which stopped members start over.
#[derive(Debug, Clone, Default)]
pub struct MemberReset {
    /// Empty: every stopped member of the queue.
    pub ids: Vec<i64>,
    /// Empty: whatever stopped them.
    pub stop_causes: Vec<String>,
}

fn member_select() -> String {
    let (cols, joins) = actor_sql("m");
    format!(
        "SELECT m.id, m.domain_id, m.queue_id, q.name AS q_name, m.name, m.priority, \
         m.timezone, m.bucket_id, m.agent_id, {agent} AS a_name, m.variables, \
         m.communications, m.expire_at, m.ready_at, m.stop_cause, m.stop_at, m.attempts, \
         m.last_activity_at, m.created_at, m.created_by, m.updated_at, m.updated_by, {cols} \
         FROM cc_members m JOIN cc_queues q ON q.id = m.queue_id \
         LEFT JOIN cc_agents ag ON ag.id = m.agent_id LEFT JOIN users au ON au.id = ag.user_id{joins}",
        agent = super::user_name_sql("au"),
    )
}

fn member_from(r: &AnyRow) -> StoreResult<MemberRow> {
    let variables: String = r.try_get("variables")?;
    let comms: String = r.try_get("communications")?;
    Ok(MemberRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        queue: (r.try_get("queue_id")?, r.try_get("q_name")?),
        name: r.try_get("name")?,
        priority: int32(r, "priority")?,
        timezone: r.try_get("timezone")?,
        bucket_id: r.try_get("bucket_id")?,
        agent: super::pair(r, "agent_id", "a_name"),
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        communications: serde_json::from_str(&comms).unwrap_or_default(),
        expire_at: r.try_get("expire_at")?,
        ready_at: r.try_get("ready_at")?,
        stop_cause: r.try_get("stop_cause")?,
        stop_at: r.try_get("stop_at")?,
        attempts: int32(r, "attempts")?,
        last_activity_at: r.try_get("last_activity_at")?,
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

fn comms_text(c: &[CommunicationRow]) -> String {
    serde_json::to_string(c).unwrap_or_else(|_| "[]".into())
}

fn first_destination(c: &[CommunicationRow]) -> String {
    c.first().map(|c| c.destination.clone()).unwrap_or_default()
}

impl Store {
    async fn check_member_refs(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        queue_id: i64,
        agents: &[i64],
    ) -> StoreResult<()> {
        let queue = sqlx::query("SELECT id FROM cc_queues WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(queue_id)
            .fetch_optional(&mut **tx)
            .await?;
        if queue.is_none() {
            return Err(StoreError::NotFound("queue"));
        }
        let mut agents = agents.to_vec();
        agents.sort_unstable();
        agents.dedup();
        if !agents.is_empty() {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM cc_agents WHERE domain_id = $1{}",
                ints_in("id", &agents, false)
            );
            let n: i64 = sqlx::query(&sql)
                .bind(domain_id)
                .fetch_one(&mut **tx)
                .await?
                .try_get("n")?;
            if n != agents.len() as i64 {
                return Err(StoreError::Invalid(
                    "a member's agent does not exist in this domain".into(),
                ));
            }
        }
        Ok(())
    }

    /// Creates members of a queue in one transaction; answers their ids in input order.
    pub async fn create_members(
        &self,
        domain_id: i64,
        queue_id: i64,
        members: &[MemberInput],
        actor: Option<i64>,
    ) -> StoreResult<Vec<i64>> {
        let mut w = self.begin_write().await?;
        let agents: Vec<i64> = members.iter().filter_map(|m| m.agent_id).collect();
        self.check_member_refs(&mut w.tx, domain_id, queue_id, &agents)
            .await?;
        let now = now_ms();
        let mut ids = Vec::with_capacity(members.len());
        for m in members {
            let row = sqlx::query(
                "INSERT INTO cc_members (domain_id, queue_id, name, priority, timezone, \
                 bucket_id, agent_id, variables, communications, destination, expire_at, \
                 ready_at, stop_cause, attempts, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $15, $16) RETURNING id",
            )
            .bind(domain_id)
            .bind(queue_id)
            .bind(&m.name)
            .bind(i64::from(m.priority))
            .bind(&m.timezone)
            .bind(m.bucket_id)
            .bind(m.agent_id)
            .bind(serde_json::to_string(&m.variables).unwrap_or_else(|_| "{}".into()))
            .bind(comms_text(&m.communications))
            .bind(first_destination(&m.communications))
            .bind(m.expire_at)
            .bind(m.ready_at)
            .bind(m.stop_cause.as_deref())
            .bind(i64::from(m.attempts))
            .bind(now)
            .bind(actor)
            .fetch_one(&mut *w.tx)
            .await?;
            ids.push(row.try_get("id")?);
        }
        w.commit().await?;
        Ok(ids)
    }

    /// A member of the domain; `queue_id` (when given) must be its queue.
    pub async fn get_member(
        &self,
        domain_id: i64,
        queue_id: Option<i64>,
        id: i64,
    ) -> StoreResult<MemberRow> {
        let row = sqlx::query(&format!(
            "{} WHERE m.domain_id = $1 AND m.id = $2",
            member_select()
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .filter(|r| queue_id.is_none_or(|q| r.try_get::<i64, _>("queue_id").ok() == Some(q)))
        .ok_or(StoreError::NotFound("member"))?;
        member_from(&row)
    }

    /// Members of one queue or of all, highest priority first unless `sort` says otherwise.
    pub async fn search_members(
        &self,
        domain_id: i64,
        f: &MemberFilter,
        page: &Page,
    ) -> StoreResult<Paged<MemberRow>> {
        let order = page.order_by(
            &[
                ("id", "m.id"),
                ("name", "m.name"),
                ("priority", "m.priority"),
                ("attempts", "m.attempts"),
                ("created_at", "m.created_at"),
                ("min_offering_at", "m.ready_at"),
                ("last_activity_at", "m.last_activity_at"),
                ("stop_cause", "m.stop_cause"),
                ("queue", "q.name"),
            ],
            "m.priority DESC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE m.domain_id = {}",
            member_select(),
            a.int(domain_id)
        );
        sql.push_str(&ints_in("m.id", &f.ids, false));
        sql.push_str(&ints_in("m.queue_id", &f.queue_ids, false));
        sql.push_str(&ints_in("m.bucket_id", &f.bucket_ids, false));
        sql.push_str(&ints_in("m.agent_id", &f.agent_ids, false));
        let mut causes: Vec<String> = f.stop_causes.clone();
        if causes.iter().any(|c| c.is_empty() || c == "none") {
            causes.retain(|c| !c.is_empty() && c != "none");
            let inner = a.texts_in("m.stop_cause", &causes);
            let inner = inner.trim_start_matches(" AND ");
            if inner.is_empty() {
                sql.push_str(" AND m.stop_cause IS NULL");
            } else {
                sql.push_str(&format!(" AND (m.stop_cause IS NULL OR {inner})"));
            }
        } else {
            sql.push_str(&a.texts_in("m.stop_cause", &causes));
        }
        if let Some(d) = f.destination.as_deref().filter(|d| !d.is_empty()) {
            // The number is inside the JSON array: match its quoted value.
            let quoted = serde_json::to_string(d).unwrap_or_default();
            let p = a.text(format!(
                "%\"destination\":{}%",
                quoted
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            ));
            let exact = a.text(d.to_string());
            sql.push_str(&format!(
                " AND (m.destination = {exact} OR m.communications LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(n) = f.name.as_deref().filter(|n| !n.is_empty()) {
            let p = a.text(like_pattern(n));
            sql.push_str(&format!(" AND LOWER(m.name) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(m.name) LIKE {p} ESCAPE '\\' OR LOWER(m.destination) LIKE {p} ESCAPE '\\')"
            ));
        }
        for (col, (from, to)) in [
            ("m.priority", f.priority),
            ("m.attempts", f.attempts),
            ("m.created_at", f.created_at),
        ] {
            if let Some(v) = from {
                sql.push_str(&format!(" AND {col} >= {}", a.int(v)));
            }
            if let Some(v) = to {
                sql.push_str(&format!(" AND {col} <= {}", a.int(v)));
            }
        }
        sql.push_str(&format!(
            " ORDER BY {order}, m.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(member_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    /// Replaces a member's fields (REST merged a PATCH already).
    pub async fn update_member(
        &self,
        domain_id: i64,
        queue_id: i64,
        id: i64,
        m: &MemberInput,
        actor: Option<i64>,
    ) -> StoreResult<MemberRow> {
        let mut w = self.begin_write().await?;
        let agents: Vec<i64> = m.agent_id.into_iter().collect();
        self.check_member_refs(&mut w.tx, domain_id, queue_id, &agents)
            .await?;
        let stop_at = m.stop_cause.as_ref().map(|_| now_ms());
        let res = sqlx::query(
            "UPDATE cc_members SET name = $4, priority = $5, timezone = $6, bucket_id = $7, \
             agent_id = $8, variables = $9, communications = $10, destination = $11, \
             expire_at = $12, ready_at = $13, stop_cause = $14, \
             stop_at = CASE WHEN $14 IS NULL THEN NULL ELSE COALESCE(stop_at, $15) END, \
             attempts = $16, updated_at = $17, updated_by = $18 \
             WHERE domain_id = $1 AND queue_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(queue_id)
        .bind(id)
        .bind(&m.name)
        .bind(i64::from(m.priority))
        .bind(&m.timezone)
        .bind(m.bucket_id)
        .bind(m.agent_id)
        .bind(serde_json::to_string(&m.variables).unwrap_or_else(|_| "{}".into()))
        .bind(comms_text(&m.communications))
        .bind(first_destination(&m.communications))
        .bind(m.expire_at)
        .bind(m.ready_at)
        .bind(m.stop_cause.as_deref())
        .bind(stop_at)
        .bind(i64::from(m.attempts))
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("member"));
        }
        w.commit().await?;
        self.get_member(domain_id, Some(queue_id), id).await
    }

    pub async fn delete_member(
        &self,
        domain_id: i64,
        queue_id: i64,
        id: i64,
    ) -> StoreResult<MemberRow> {
        let row = self.get_member(domain_id, Some(queue_id), id).await?;
        sqlx::query("DELETE FROM cc_members WHERE domain_id = $1 AND queue_id = $2 AND id = $3")
            .bind(domain_id)
            .bind(queue_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Stopped members of a queue start over: no stop cause, no attempts, callable now.
    /// Answers how many.
    pub async fn reset_members(
        &self,
        domain_id: i64,
        queue_id: i64,
        r: &MemberReset,
    ) -> StoreResult<i64> {
        let mut w = self.begin_write().await?;
        self.check_member_refs(&mut w.tx, domain_id, queue_id, &[])
            .await?;
        let mut a = Args::default();
        let now = a.int(now_ms());
        let mut sql = format!(
            "UPDATE cc_members SET stop_cause = NULL, stop_at = NULL, attempts = 0, \
             ready_at = 0, updated_at = {now} WHERE domain_id = {} AND queue_id = {} \
             AND stop_cause IS NOT NULL",
            a.int(domain_id),
            a.int(queue_id)
        );
        sql.push_str(&ints_in("id", &r.ids, false));
        sql.push_str(&a.texts_in("stop_cause", &r.stop_causes));
        let res = a.bind(sqlx::query(&sql)).execute(&mut *w.tx).await?;
        w.commit().await?;
        Ok(res.rows_affected() as i64)
    }

    /// Up to `limit` members of a queue that may be called at `now`: not stopped, ready, not
    /// expired, not barred; highest priority, then the longest ready, then the oldest. Members
    /// whose `expire_at` has passed are stopped with `expired` first. A number on the queue's
    /// DNC list comes back stopped (state 1, last cause `block`); a member none of whose
    /// numbers may be called is stopped with `block` and left out.
    pub async fn ready_members(
        &self,
        domain_id: i64,
        queue_id: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<MemberRow>> {
        // Barred members stop, so the next read skips them; a few reads fill the batch.
        let mut out: Vec<MemberRow> = Vec::new();
        for _ in 0..4 {
            let rows = self
                .ready_members_read(domain_id, queue_id, now, limit)
                .await?;
            let read = rows.len() as i64;
            let rows: Vec<MemberRow> = rows
                .into_iter()
                .filter(|r| out.iter().all(|o| o.id != r.id))
                .collect();
            let numbers: Vec<String> = rows
                .iter()
                .flat_map(|m| m.communications.iter().map(|c| c.destination.clone()))
                .collect();
            let barred = self.dnc_blocked(domain_id, queue_id, &numbers, now).await?;
            let mut stopped = 0;
            for mut m in rows {
                let (mut callable, mut blocked) = (0, 0);
                for c in &mut m.communications {
                    if barred.contains(&c.destination) {
                        c.state = 1;
                        c.last_cause = "block".into();
                        blocked += 1;
                    } else if c.state == 0 && c.stop_at.is_none() {
                        callable += 1;
                    }
                }
                if callable == 0 && blocked > 0 {
                    self.stop_member(domain_id, m.id, "block", now).await?;
                    stopped += 1;
                } else {
                    out.push(m);
                }
            }
            if stopped == 0 || read < limit || out.len() as i64 >= limit {
                break;
            }
        }
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    /// Stops a member that is not stopped yet.
    async fn stop_member(&self, domain_id: i64, id: i64, cause: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE cc_members SET stop_cause = $3, stop_at = $4, updated_at = $4 \
             WHERE domain_id = $1 AND id = $2 AND stop_cause IS NULL",
        )
        .bind(domain_id)
        .bind(id)
        .bind(cause)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ready_members_read(
        &self,
        domain_id: i64,
        queue_id: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<MemberRow>> {
        sqlx::query(
            "UPDATE cc_members SET stop_cause = 'expired', stop_at = $3, updated_at = $3 \
             WHERE domain_id = $1 AND queue_id = $2 AND stop_cause IS NULL \
             AND expire_at IS NOT NULL AND expire_at <= $3",
        )
        .bind(domain_id)
        .bind(queue_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query(&format!(
            "{} WHERE m.domain_id = $1 AND m.queue_id = $2 AND m.stop_cause IS NULL \
             AND m.ready_at <= $3 ORDER BY m.priority DESC, m.ready_at, m.id LIMIT $4",
            member_select()
        ))
        .bind(domain_id)
        .bind(queue_id)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member_from).collect()
    }

    /// The dialer's bookkeeping after an attempt. A member deleted meanwhile is no error.
    pub async fn apply_member_update(&self, u: &MemberUpdate) -> StoreResult<()> {
        sqlx::query(
            "UPDATE cc_members SET attempts = $3, ready_at = $4, stop_cause = $5, stop_at = $6, \
             last_activity_at = $7, communications = $8 WHERE domain_id = $1 AND id = $2",
        )
        .bind(u.domain_id)
        .bind(u.id)
        .bind(i64::from(u.attempts))
        .bind(u.ready_at)
        .bind(u.stop_cause.as_deref())
        .bind(u.stop_at)
        .bind(u.last_activity_at)
        .bind(comms_text(&u.communications))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
