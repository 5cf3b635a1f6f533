//! Routing schemas: Webitel's flow JSON (an array of application objects), kept as text, with
//! the editor's payload beside it. Outbound routes and gateways point at them.

use crate::devices::lookup;
use crate::gateways::id_list_clause;
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct SchemaRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    /// `default`, `voice`, `chat`, `processing` or `service`.
    pub kind: String,
    /// The flow, JSON text of an array.
    pub flow: String,
    /// The editor's data, JSON text.
    pub payload: String,
    pub debug: bool,
    pub editor: bool,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

/// Writable schema fields; `flow` and `payload` are JSON text checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct SchemaInput {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub flow: String,
    pub payload: String,
    pub debug: bool,
    pub editor: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub name: Option<String>,
    pub kinds: Vec<String>,
    pub editor: Option<bool>,
    /// Schemas holding every one of these tags.
    pub tags: Vec<String>,
}

const SCHEMA_SELECT: &str = "SELECT s.id, s.domain_id, s.name, s.description, s.kind, s.flow, \
    s.payload, s.debug, s.editor, s.tags, s.created_at, s.created_by, s.updated_at, s.updated_by, \
    cb.name AS cb_name, cb.username AS cb_username, ub.name AS ub_name, ub.username AS ub_username \
    FROM routing_schemas s \
    LEFT JOIN users cb ON cb.id = s.created_by LEFT JOIN users ub ON ub.id = s.updated_by";

fn schema_from(r: &AnyRow) -> StoreResult<SchemaRow> {
    let tags: String = r.try_get("tags")?;
    Ok(SchemaRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        kind: r.try_get("kind")?,
        flow: r.try_get("flow")?,
        payload: r.try_get("payload")?,
        debug: crate::db::flag(r, "debug"),
        editor: crate::db::flag(r, "editor"),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        updated_by: lookup(r, "updated_by", "ub_name", "ub_username"),
    })
}

/// A `LIKE` pattern finding `"tag"` inside the JSON text of a tag array.
fn tag_like(tag: &str) -> String {
    let json = serde_json::to_string(tag).unwrap_or_default();
    let escaped = json
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    pub async fn create_schema(
        &self,
        domain_id: i64,
        input: &SchemaInput,
        actor: Option<i64>,
    ) -> StoreResult<SchemaRow> {
        let row = sqlx::query(
            "INSERT INTO routing_schemas (domain_id, name, description, kind, flow, payload, \
             debug, editor, tags, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $11) RETURNING id",
        )
        .bind(domain_id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(&input.kind)
        .bind(&input.flow)
        .bind(&input.payload)
        .bind(input.debug as i64)
        .bind(input.editor as i64)
        .bind(serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&self.pool)
        .await?;
        self.get_schema(domain_id, row.try_get("id")?).await
    }

    /// One schema of the domain; the telephony runtime loads a route's flow with it.
    pub async fn get_schema(&self, domain_id: i64, id: i64) -> StoreResult<SchemaRow> {
        let row = sqlx::query(&format!(
            "{SCHEMA_SELECT} WHERE s.domain_id = $1 AND s.id = $2"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("schema"))?;
        schema_from(&row)
    }

    pub async fn search_schemas(
        &self,
        domain_id: i64,
        f: &SchemaFilter,
        page: &Page,
    ) -> StoreResult<Paged<SchemaRow>> {
        let order = page.order_by(
            &[
                ("id", "s.id"),
                ("name", "s.name"),
                ("type", "s.kind"),
                ("created_at", "s.created_at"),
                ("updated_at", "s.updated_at"),
            ],
            "s.id ASC",
        );
        let q = f.q.as_deref().unwrap_or("");
        let mut clauses = id_list_clause("s.id", &f.ids);
        // Kinds and tags are bound after the fixed parameters, numbered from $7.
        let mut binds: Vec<String> = Vec::new();
        if !f.kinds.is_empty() {
            let marks = (0..f.kinds.len())
                .map(|i| format!("${}", 7 + binds.len() + i))
                .collect::<Vec<_>>()
                .join(", ");
            clauses.push_str(&format!(" AND s.kind IN ({marks})"));
            binds.extend(f.kinds.iter().cloned());
        }
        for t in &f.tags {
            clauses.push_str(&format!(
                " AND s.tags LIKE ${} ESCAPE '\\'",
                7 + binds.len()
            ));
            binds.push(tag_like(t));
        }
        let editor = match f.editor {
            None => -1,
            Some(e) => e as i64,
        };
        let sql = format!(
            "{SCHEMA_SELECT} WHERE s.domain_id = $1{clauses} \
             AND ($2 = '' OR LOWER(s.name) LIKE $3 ESCAPE '\\' OR LOWER(s.description) LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR s.name = $4) AND ($5 < 0 OR s.editor = $5) \
             ORDER BY {order} LIMIT $6 OFFSET ${}",
            7 + binds.len()
        );
        let mut query = sqlx::query(&sql)
            .bind(domain_id)
            .bind(q)
            .bind(like_pattern(q))
            .bind(f.name.as_deref().unwrap_or(""))
            .bind(editor)
            .bind(page.size + 1);
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.bind(page.offset()).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(schema_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_schema(
        &self,
        domain_id: i64,
        id: i64,
        input: &SchemaInput,
        actor: Option<i64>,
    ) -> StoreResult<SchemaRow> {
        let res = sqlx::query(
            "UPDATE routing_schemas SET name = $3, description = $4, kind = $5, flow = $6, \
             payload = $7, debug = $8, editor = $9, tags = $10, updated_at = $11, updated_by = $12 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(&input.kind)
        .bind(&input.flow)
        .bind(&input.payload)
        .bind(input.debug as i64)
        .bind(input.editor as i64)
        .bind(serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .bind(actor)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("schema"));
        }
        self.get_schema(domain_id, id).await
    }

    /// The tags used by the domain's schemas (of the given kinds, all when empty) with how many
    /// schemas carry each, by name; `q` keeps tags containing it (case-insensitive).
    pub async fn schema_tags(
        &self,
        domain_id: i64,
        kinds: &[String],
        q: Option<&str>,
        page: &Page,
    ) -> StoreResult<Paged<(String, i64)>> {
        let marks = (0..kinds.len())
            .map(|i| format!("${}", 2 + i))
            .collect::<Vec<_>>()
            .join(", ");
        let kind_clause = if kinds.is_empty() {
            String::new()
        } else {
            format!(" AND kind IN ({marks})")
        };
        let sql = format!(
            "SELECT tags FROM routing_schemas WHERE domain_id = $1 AND tags <> '[]'{kind_clause}"
        );
        let mut query = sqlx::query(&sql).bind(domain_id);
        for k in kinds {
            query = query.bind(k.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let needle = q.map(|q| q.trim_matches('*').to_lowercase());
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for r in &rows {
            let text: String = r.try_get("tags")?;
            let tags: Vec<String> = serde_json::from_str(&text).unwrap_or_default();
            for t in tags {
                if needle
                    .as_deref()
                    .is_none_or(|n| t.to_lowercase().contains(n))
                {
                    *counts.entry(t).or_default() += 1;
                }
            }
        }
        let all: Vec<(String, i64)> = counts.into_iter().collect();
        let desc = matches!(&page.sort, Some((f, true)) if f == "name");
        let rows: Vec<(String, i64)> = if desc {
            all.into_iter().rev().collect()
        } else {
            all
        };
        let start = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(page.size + 1).unwrap_or(usize::MAX);
        let window = rows.into_iter().skip(start).take(take).collect();
        Ok(Paged::from_rows(window, page.size))
    }

    /// Deletes a schema no route or gateway uses; otherwise [`StoreError::InUse`] names a user.
    pub async fn delete_schema(&self, domain_id: i64, id: i64) -> StoreResult<SchemaRow> {
        let row = self.get_schema(domain_id, id).await?;
        let mut w = self.begin_write().await?;
        let users = [
            ("outbound route", "outbound_routes"),
            ("gateway", "sip_gateways"),
        ];
        for (what, table) in users {
            let user = sqlx::query(&format!(
                "SELECT name FROM {table} WHERE domain_id = $1 AND schema_id = $2 LIMIT 1"
            ))
            .bind(domain_id)
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await?;
            if let Some(u) = user {
                let name: String = u.try_get("name")?;
                return Err(StoreError::InUse {
                    what: "schema",
                    detail: format!(
                        "routing schema {id} is used by {what} {name:?}; point it elsewhere first"
                    ),
                });
            }
        }
        sqlx::query("DELETE FROM routing_schemas WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_patterns_match_whole_json_strings() {
        assert_eq!(tag_like("sales"), "%\"sales\"%");
        assert_eq!(tag_like("50%_off"), "%\"50\\%\\_off\"%");
    }
}
