//! Skills: what agents can do and queues ask for. Deleting one removes it from every agent
//! and queue (their skill rows cascade).

use super::{actor, actor_sql, int32, ints_in, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct SkillRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    /// Agents holding the skill.
    pub total_agents: i32,
    /// Of those, the ones with it enabled who are not offline.
    pub active_agents: i32,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct SkillInput {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct SkillFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
}

fn skill_select() -> String {
    let (cols, joins) = actor_sql("s");
    format!(
        "SELECT s.id, s.domain_id, s.name, s.description, s.created_at, s.created_by, \
         s.updated_at, s.updated_by, {cols}, \
         (SELECT COUNT(*) FROM cc_agent_skills x WHERE x.skill_id = s.id) AS total_agents, \
         (SELECT COUNT(*) FROM cc_agent_skills x JOIN cc_agents ag ON ag.id = x.agent_id \
          WHERE x.skill_id = s.id AND x.enabled = 1 AND ag.status <> 'offline') AS active_agents \
         FROM cc_skills s{joins}"
    )
}

fn skill_from(r: &AnyRow) -> StoreResult<SkillRow> {
    Ok(SkillRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        total_agents: int32(r, "total_agents")?,
        active_agents: int32(r, "active_agents")?,
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

impl Store {
    pub async fn create_skill(
        &self,
        domain_id: i64,
        s: &SkillInput,
        actor: Option<i64>,
    ) -> StoreResult<SkillRow> {
        let row = sqlx::query(
            "INSERT INTO cc_skills (domain_id, name, description, created_at, created_by, \
             updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $4, $5) RETURNING id",
        )
        .bind(domain_id)
        .bind(&s.name)
        .bind(&s.description)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &s.name))?;
        self.get_skill(domain_id, row.try_get("id")?).await
    }

    pub async fn get_skill(&self, domain_id: i64, id: i64) -> StoreResult<SkillRow> {
        let row = sqlx::query(&format!(
            "{} WHERE s.domain_id = $1 AND s.id = $2",
            skill_select()
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("skill"))?;
        skill_from(&row)
    }

    pub async fn search_skills(
        &self,
        domain_id: i64,
        f: &SkillFilter,
        page: &Page,
    ) -> StoreResult<Paged<SkillRow>> {
        let order = page.order_by(
            &[
                ("id", "s.id"),
                ("name", "s.name"),
                ("description", "s.description"),
                ("created_at", "s.created_at"),
                ("updated_at", "s.updated_at"),
            ],
            "s.name ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE s.domain_id = {}{}",
            skill_select(),
            a.int(domain_id),
            ints_in("s.id", &f.ids, false)
        );
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(s.name) LIKE {p} ESCAPE '\\' OR LOWER(s.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, s.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(skill_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_skill(
        &self,
        domain_id: i64,
        id: i64,
        s: &SkillInput,
        actor: Option<i64>,
    ) -> StoreResult<SkillRow> {
        let res = sqlx::query(
            "UPDATE cc_skills SET name = $3, description = $4, updated_at = $5, updated_by = $6 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&s.name)
        .bind(&s.description)
        .bind(now_ms())
        .bind(actor)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &s.name))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("skill"));
        }
        self.get_skill(domain_id, id).await
    }

    /// Deletes a skill; agents and queues lose it.
    pub async fn delete_skill(&self, domain_id: i64, id: i64) -> StoreResult<SkillRow> {
        let row = self.get_skill(domain_id, id).await?;
        sqlx::query("DELETE FROM cc_skills WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Whether skill `id` exists in the domain.
    pub async fn skill_exists(&self, domain_id: i64, id: i64) -> StoreResult<bool> {
        Ok(
            sqlx::query("SELECT id FROM cc_skills WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}
