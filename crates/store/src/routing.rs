//! Outbound routes: a dialled destination matching a route's `pattern` runs its routing schema.
//! Matching follows Webitel's `destination::varchar(50) ~ pattern AND NOT disabled ORDER BY pos
//! DESC LIMIT 1`, done here in Rust over the domain's routes read in one query: the pattern is
//! an unanchored regular expression, the destination is cut to 50 characters, the highest
//! position wins.

use crate::devices::lookup;
use crate::gateways::id_list_clause;
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use regex::Regex;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Only this many leading characters of a destination are matched (Webitel's `varchar(50)`).
pub const MAX_DESTINATION_CHARS: usize = 50;

/// Longest accepted pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Compiled size limit of one pattern: a route table is no place for megabyte automata.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a route pattern as matching uses it, or says why it cannot be used.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("pattern is required".into());
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern is longer than {MAX_PATTERN_LEN} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("pattern is not a valid regular expression: {e}"))
}

/// Compiled patterns by their text, shared by every domain (the same text compiles the same).
#[derive(Default)]
pub(crate) struct PatternCache {
    map: RwLock<HashMap<String, Arc<Regex>>>,
}

const MAX_CACHED_PATTERNS: usize = 10_000;

impl PatternCache {
    /// The compiled pattern; `None` for a pattern that does not compile (it never matches).
    fn get(&self, pattern: &str) -> Option<Arc<Regex>> {
        if let Some(r) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(pattern)
        {
            return Some(r.clone());
        }
        let compiled = match compile_pattern(pattern) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                tracing::warn!(pattern, error = %e, "an outbound route's pattern does not compile");
                return None;
            }
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_CACHED_PATTERNS {
            map.clear();
        }
        map.insert(pattern.to_string(), compiled.clone());
        Some(compiled)
    }
}

/// The first `MAX_DESTINATION_CHARS` characters of a destination.
pub fn truncate_destination(destination: &str) -> &str {
    match destination.char_indices().nth(MAX_DESTINATION_CHARS) {
        Some((at, _)) => &destination[..at],
        None => destination,
    }
}

#[derive(Debug, Clone)]
pub struct RouteRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    pub pattern: String,
    /// The routing schema: (id, name).
    pub schema: (i64, String),
    pub disabled: bool,
    pub position: i64,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct RouteInput {
    pub name: String,
    pub description: String,
    pub pattern: String,
    pub schema_id: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RouteFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub name: Option<String>,
    pub schema_ids: Vec<i64>,
    pub pattern: Option<String>,
    pub description: Option<String>,
}

const ROUTE_SELECT: &str = "SELECT r.id, r.domain_id, r.name, r.description, r.pattern, \
    r.schema_id, r.disabled, r.pos, r.created_at, r.created_by, r.updated_at, r.updated_by, \
    s.name AS s_name, cb.name AS cb_name, cb.username AS cb_username, \
    ub.name AS ub_name, ub.username AS ub_username \
    FROM outbound_routes r JOIN routing_schemas s ON s.id = r.schema_id \
    LEFT JOIN users cb ON cb.id = r.created_by LEFT JOIN users ub ON ub.id = r.updated_by";

fn route_from(r: &AnyRow) -> StoreResult<RouteRow> {
    Ok(RouteRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        pattern: r.try_get("pattern")?,
        schema: (r.try_get("schema_id")?, r.try_get("s_name")?),
        disabled: crate::db::flag(r, "disabled"),
        position: r.try_get("pos")?,
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        updated_by: lookup(r, "updated_by", "ub_name", "ub_username"),
    })
}

impl Store {
    /// Serialises route writes of one domain on PostgreSQL (positions are read, then written);
    /// SQLite's writer gate already does.
    async fn lock_domain_routes(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
    ) -> StoreResult<()> {
        if self.for_update().is_empty() {
            return Ok(());
        }
        sqlx::query(&format!(
            "SELECT id FROM domains WHERE id = $1{}",
            self.for_update()
        ))
        .bind(domain_id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(())
    }

    /// Adds a route above every other route of the domain (the highest position).
    pub async fn create_route(
        &self,
        domain_id: i64,
        input: &RouteInput,
        actor: Option<i64>,
    ) -> StoreResult<RouteRow> {
        compile_pattern(&input.pattern).map_err(StoreError::Invalid)?;
        let mut w = self.begin_write().await?;
        self.lock_domain_routes(&mut w.tx, domain_id).await?;
        self.check_schema_in(&mut w.tx, domain_id, input.schema_id)
            .await?;
        let top: Option<i64> =
            sqlx::query("SELECT MAX(pos) AS top FROM outbound_routes WHERE domain_id = $1")
                .bind(domain_id)
                .fetch_one(&mut *w.tx)
                .await?
                .try_get("top")?;
        let row = sqlx::query(
            "INSERT INTO outbound_routes (domain_id, name, description, pattern, schema_id, \
             disabled, pos, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $9) RETURNING id",
        )
        .bind(domain_id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(&input.pattern)
        .bind(input.schema_id)
        .bind(input.disabled as i64)
        .bind(top.unwrap_or(0) + 1)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_route(domain_id, id).await
    }

    pub async fn get_route(&self, domain_id: i64, id: i64) -> StoreResult<RouteRow> {
        let row = sqlx::query(&format!(
            "{ROUTE_SELECT} WHERE r.domain_id = $1 AND r.id = $2"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("routing"))?;
        route_from(&row)
    }

    /// Routes of a domain, highest position first unless `sort` says otherwise.
    pub async fn search_routes(
        &self,
        domain_id: i64,
        f: &RouteFilter,
        page: &Page,
    ) -> StoreResult<Paged<RouteRow>> {
        let order = page.order_by(
            &[
                ("id", "r.id"),
                ("name", "r.name"),
                ("pattern", "r.pattern"),
                ("position", "r.pos"),
                ("disabled", "r.disabled"),
                ("created_at", "r.created_at"),
                ("updated_at", "r.updated_at"),
            ],
            "r.pos DESC",
        );
        let q = f.q.as_deref().unwrap_or("");
        let clauses = format!(
            "{}{}",
            id_list_clause("r.id", &f.ids),
            id_list_clause("r.schema_id", &f.schema_ids)
        );
        let rows = sqlx::query(&format!(
            "{ROUTE_SELECT} WHERE r.domain_id = $1{clauses} \
             AND ($2 = '' OR LOWER(r.name) LIKE $3 ESCAPE '\\' \
                  OR LOWER(r.pattern) LIKE $3 ESCAPE '\\' OR LOWER(r.description) LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR r.name = $4) AND ($5 = '' OR r.pattern = $5) \
             AND ($6 = '' OR LOWER(r.description) LIKE $7 ESCAPE '\\') \
             ORDER BY {order}, r.id DESC LIMIT $8 OFFSET $9"
        ))
        .bind(domain_id)
        .bind(q)
        .bind(like_pattern(q))
        .bind(f.name.as_deref().unwrap_or(""))
        .bind(f.pattern.as_deref().unwrap_or(""))
        .bind(f.description.as_deref().unwrap_or(""))
        .bind(like_pattern(f.description.as_deref().unwrap_or("")))
        .bind(page.size + 1)
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(route_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_route(
        &self,
        domain_id: i64,
        id: i64,
        input: &RouteInput,
        actor: Option<i64>,
    ) -> StoreResult<RouteRow> {
        compile_pattern(&input.pattern).map_err(StoreError::Invalid)?;
        let mut w = self.begin_write().await?;
        self.check_schema_in(&mut w.tx, domain_id, input.schema_id)
            .await?;
        let res = sqlx::query(
            "UPDATE outbound_routes SET name = $3, description = $4, pattern = $5, \
             schema_id = $6, disabled = $7, updated_at = $8, updated_by = $9 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(&input.pattern)
        .bind(input.schema_id)
        .bind(input.disabled as i64)
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("routing"));
        }
        w.commit().await?;
        self.get_route(domain_id, id).await
    }

    pub async fn delete_route(&self, domain_id: i64, id: i64) -> StoreResult<RouteRow> {
        let row = self.get_route(domain_id, id).await?;
        sqlx::query("DELETE FROM outbound_routes WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Swaps the positions of two routes of the domain (what Webitel's "move" does when a row
    /// is dragged onto its neighbour). Both must exist.
    pub async fn move_route(&self, domain_id: i64, from_id: i64, to_id: i64) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        self.lock_domain_routes(&mut w.tx, domain_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT id, pos FROM outbound_routes WHERE domain_id = $1 AND id IN ($2, $3){}",
            self.for_update()
        ))
        .bind(domain_id)
        .bind(from_id)
        .bind(to_id)
        .fetch_all(&mut *w.tx)
        .await?;
        let pos_of = |id: i64| -> StoreResult<i64> {
            rows.iter()
                .find(|r| r.try_get::<i64, _>("id").ok() == Some(id))
                .map(|r| r.try_get::<i64, _>("pos"))
                .transpose()?
                .ok_or(StoreError::NotFound("routing"))
        };
        let (from_pos, to_pos) = (pos_of(from_id)?, pos_of(to_id)?);
        if from_id == to_id {
            return Ok(());
        }
        for (id, pos) in [(from_id, to_pos), (to_id, from_pos)] {
            sqlx::query("UPDATE outbound_routes SET pos = $3 WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(id)
                .bind(pos)
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok(())
    }

    /// The route a call to `destination` takes in the domain: among enabled routes whose
    /// pattern matches (unanchored) the destination's first 50 characters, the one with the
    /// highest position. The row carries the schema's id for the runtime to load.
    pub async fn match_outbound_route(
        &self,
        domain_id: i64,
        destination: &str,
    ) -> StoreResult<Option<RouteRow>> {
        let destination = truncate_destination(destination);
        let rows = sqlx::query(&format!(
            "{ROUTE_SELECT} WHERE r.domain_id = $1 AND r.disabled = 0 ORDER BY r.pos DESC, r.id DESC"
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let pattern: String = r.try_get("pattern")?;
            if self
                .route_patterns
                .get(&pattern)
                .is_some_and(|re| re.is_match(destination))
            {
                return route_from(r).map(Some);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_cut_to_fifty_characters_not_bytes() {
        let long = "1".repeat(60);
        assert_eq!(truncate_destination(&long).len(), 50);
        let wide = "я".repeat(60);
        assert_eq!(truncate_destination(&wide).chars().count(), 50);
        assert_eq!(truncate_destination("2021"), "2021");
    }

    #[test]
    fn patterns_compile_or_say_why() {
        assert!(compile_pattern(r"^\+?380\d{9}$").is_ok());
        assert!(compile_pattern("").unwrap_err().contains("required"));
        assert!(compile_pattern("(")
            .unwrap_err()
            .contains("regular expression"));
        assert!(compile_pattern(&"a".repeat(MAX_PATTERN_LEN + 1))
            .unwrap_err()
            .contains("longer"));
    }

    #[test]
    fn the_cache_compiles_once_and_skips_bad_patterns() {
        let c = PatternCache::default();
        let a = c.get("^1").unwrap();
        let b = c.get("^1").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(c.get("(").is_none());
    }
}
