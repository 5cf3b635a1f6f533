//! Teams: how calls are offered to a group of agents (strategy, ring and wrap-up times).

use super::{actor, actor_sql, int32, ints_in, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    pub strategy: String,
    pub max_no_answer: i32,
    pub no_answer_delay_time: i32,
    pub wrap_up_time: i32,
    pub call_timeout: i32,
    pub invite_chat_timeout: i32,
    pub task_accept_timeout: i32,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    pub name: String,
    pub description: String,
    pub strategy: String,
    pub max_no_answer: i32,
    pub no_answer_delay_time: i32,
    pub wrap_up_time: i32,
    pub call_timeout: i32,
    pub invite_chat_timeout: i32,
    pub task_accept_timeout: i32,
}

#[derive(Debug, Clone, Default)]
pub struct TeamFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub strategies: Vec<String>,
}

pub(crate) const TEAM_COLS: &str = "t.id, t.domain_id, t.name, t.description, t.strategy, \
    t.max_no_answer, t.no_answer_delay_time, t.wrap_up_time, t.call_timeout, \
    t.invite_chat_timeout, t.task_accept_timeout, t.created_at, t.created_by, t.updated_at, \
    t.updated_by";

fn team_select() -> String {
    let (cols, joins) = actor_sql("t");
    format!("SELECT {TEAM_COLS}, {cols} FROM cc_teams t{joins}")
}

pub(crate) fn team_from(r: &AnyRow) -> StoreResult<TeamRow> {
    Ok(TeamRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        strategy: r.try_get("strategy")?,
        max_no_answer: int32(r, "max_no_answer")?,
        no_answer_delay_time: int32(r, "no_answer_delay_time")?,
        wrap_up_time: int32(r, "wrap_up_time")?,
        call_timeout: int32(r, "call_timeout")?,
        invite_chat_timeout: int32(r, "invite_chat_timeout")?,
        task_accept_timeout: int32(r, "task_accept_timeout")?,
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

impl Store {
    pub async fn create_team(
        &self,
        domain_id: i64,
        t: &TeamInput,
        actor: Option<i64>,
    ) -> StoreResult<TeamRow> {
        let row = sqlx::query(
            "INSERT INTO cc_teams (domain_id, name, description, strategy, max_no_answer, \
             no_answer_delay_time, wrap_up_time, call_timeout, invite_chat_timeout, \
             task_accept_timeout, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $12) RETURNING id",
        )
        .bind(domain_id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.strategy)
        .bind(i64::from(t.max_no_answer))
        .bind(i64::from(t.no_answer_delay_time))
        .bind(i64::from(t.wrap_up_time))
        .bind(i64::from(t.call_timeout))
        .bind(i64::from(t.invite_chat_timeout))
        .bind(i64::from(t.task_accept_timeout))
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &t.name))?;
        self.get_team(domain_id, row.try_get("id")?).await
    }

    pub async fn get_team(&self, domain_id: i64, id: i64) -> StoreResult<TeamRow> {
        let row = sqlx::query(&format!(
            "{} WHERE t.domain_id = $1 AND t.id = $2",
            team_select()
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("team"))?;
        team_from(&row)
    }

    pub async fn search_teams(
        &self,
        domain_id: i64,
        f: &TeamFilter,
        page: &Page,
    ) -> StoreResult<Paged<TeamRow>> {
        let order = page.order_by(
            &[
                ("id", "t.id"),
                ("name", "t.name"),
                ("strategy", "t.strategy"),
                ("description", "t.description"),
                ("updated_at", "t.updated_at"),
            ],
            "t.id ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE t.domain_id = {}{}",
            team_select(),
            a.int(domain_id),
            ints_in("t.id", &f.ids, false)
        );
        sql.push_str(&a.texts_in("t.strategy", &f.strategies));
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(t.name) LIKE {p} ESCAPE '\\' OR LOWER(t.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, t.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(team_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_team(
        &self,
        domain_id: i64,
        id: i64,
        t: &TeamInput,
        actor: Option<i64>,
    ) -> StoreResult<TeamRow> {
        let res = sqlx::query(
            "UPDATE cc_teams SET name = $3, description = $4, strategy = $5, max_no_answer = $6, \
             no_answer_delay_time = $7, wrap_up_time = $8, call_timeout = $9, \
             invite_chat_timeout = $10, task_accept_timeout = $11, updated_at = $12, \
             updated_by = $13 WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.strategy)
        .bind(i64::from(t.max_no_answer))
        .bind(i64::from(t.no_answer_delay_time))
        .bind(i64::from(t.wrap_up_time))
        .bind(i64::from(t.call_timeout))
        .bind(i64::from(t.invite_chat_timeout))
        .bind(i64::from(t.task_accept_timeout))
        .bind(now_ms())
        .bind(actor)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &t.name))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("team"));
        }
        self.get_team(domain_id, id).await
    }

    /// Deletes a team no agent or queue belongs to; otherwise [`StoreError::InUse`] names one.
    pub async fn delete_team(&self, domain_id: i64, id: i64) -> StoreResult<TeamRow> {
        let row = self.get_team(domain_id, id).await?;
        let mut w = self.begin_write().await?;
        let users = [
            (
                "agent",
                "SELECT a.id, COALESCE(NULLIF(u.name, ''), u.username) AS name FROM cc_agents a \
                 JOIN users u ON u.id = a.user_id WHERE a.domain_id = $1 AND a.team_id = $2 LIMIT 1",
            ),
            (
                "queue",
                "SELECT id, name FROM cc_queues WHERE domain_id = $1 AND team_id = $2 LIMIT 1",
            ),
        ];
        for (what, sql) in users {
            if let Some(u) = sqlx::query(sql)
                .bind(domain_id)
                .bind(id)
                .fetch_optional(&mut *w.tx)
                .await?
            {
                let (uid, name): (i64, String) = (u.try_get("id")?, u.try_get("name")?);
                return Err(StoreError::InUse {
                    what: "team",
                    detail: format!(
                        "team {id} has {what} {uid} ({name:?}); move it to another team first"
                    ),
                });
            }
        }
        sqlx::query("DELETE FROM cc_teams WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(row)
    }

    /// Whether team `id` exists in the domain.
    pub async fn team_exists(&self, domain_id: i64, id: i64) -> StoreResult<bool> {
        Ok(
            sqlx::query("SELECT id FROM cc_teams WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}
