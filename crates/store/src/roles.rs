use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An object-class grant: `access` is a set of letters x (create), r, w, d.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    pub class: String,
    pub access: String,
}

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    pub scopes: Vec<Grant>,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const ROLE_COLS: &str =
    "id, domain_id, name, description, scopes, permissions, builtin, created_at, updated_at";

fn role_from(r: &AnyRow) -> StoreResult<RoleRow> {
    let scopes: String = r.try_get("scopes")?;
    let permissions: String = r.try_get("permissions")?;
    Ok(RoleRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        permissions: serde_json::from_str(&permissions).unwrap_or_default(),
        builtin: crate::db::flag(r, "builtin"),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn create_role(
        &self,
        domain_id: i64,
        name: &str,
        description: &str,
        scopes: &[Grant],
        permissions: &[String],
        builtin: bool,
    ) -> StoreResult<RoleRow> {
        let now = now_ms();
        let scopes_json = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
        let perms_json = serde_json::to_string(permissions).unwrap_or_else(|_| "[]".into());
        let row = sqlx::query(&format!(
            "INSERT INTO roles (domain_id, name, description, scopes, permissions, builtin, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {ROLE_COLS}"
        ))
        .bind(domain_id)
        .bind(name)
        .bind(description)
        .bind(scopes_json)
        .bind(perms_json)
        .bind(builtin as i64)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", name))?;
        role_from(&row)
    }

    pub async fn get_role(&self, domain_id: i64, id: i64) -> StoreResult<RoleRow> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE domain_id = $1 AND id = $2"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("role"))?;
        role_from(&row)
    }

    pub async fn role_by_name(&self, domain_id: i64, name: &str) -> StoreResult<Option<RoleRow>> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE domain_id = $1 AND name = $2"
        ))
        .bind(domain_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(role_from).transpose()
    }

    pub async fn search_roles(
        &self,
        domain_id: i64,
        q: Option<&str>,
        page: &Page,
    ) -> StoreResult<Paged<RoleRow>> {
        let order = page.order_by(&[("id", "id"), ("name", "name")], "id ASC");
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE domain_id = $1 \
             AND ($2 = '' OR LOWER(name) LIKE $3 ESCAPE '\\') ORDER BY {order} LIMIT $4 OFFSET $5"
        ))
        .bind(domain_id)
        .bind(q.unwrap_or(""))
        .bind(like_pattern(q.unwrap_or("")))
        .bind(page.size + 1)
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(role_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn delete_role(&self, domain_id: i64, id: i64) -> StoreResult<RoleRow> {
        let role = self.get_role(domain_id, id).await?;
        if role.builtin {
            return Err(StoreError::Invalid(format!(
                "role {:?} is built in and cannot be deleted",
                role.name
            )));
        }
        sqlx::query("DELETE FROM roles WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.directory_changed();
        Ok(role)
    }

    /// Every role of a domain (a domain has a handful), for rights checks.
    pub async fn domain_roles(&self, domain_id: i64) -> StoreResult<Vec<RoleRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE domain_id = $1 ORDER BY id"
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(role_from).collect()
    }

    /// The roles a user holds, in one query.
    pub async fn user_roles(&self, user_id: i64) -> StoreResult<Vec<RoleRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM roles r JOIN user_roles ur ON ur.role_id = r.id \
             WHERE ur.user_id = $1 ORDER BY r.id",
            ROLE_COLS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(role_from).collect()
    }
}
