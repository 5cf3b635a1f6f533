use crate::{now_ms, Store, StoreError, StoreResult};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct DomainRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

impl Store {
    pub async fn create_domain(&self, name: &str) -> StoreResult<DomainRow> {
        let now = now_ms();
        let row =
            sqlx::query("INSERT INTO domains (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| StoreError::unique(e, "domain", name))?;
        Ok(DomainRow {
            id: row.try_get("id")?,
            name: name.to_string(),
            created_at: now,
        })
    }

    pub async fn domain_by_name(&self, name: &str) -> StoreResult<Option<DomainRow>> {
        let row = sqlx::query("SELECT id, name, created_at FROM domains WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(DomainRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn domain_by_id(&self, id: i64) -> StoreResult<DomainRow> {
        let r = sqlx::query("SELECT id, name, created_at FROM domains WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("domain"))?;
        Ok(DomainRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
        })
    }
}
