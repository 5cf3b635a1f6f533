//! Stored files: call recordings, filed under the root call id (`coalesce(parent_id, id)`).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Store, StoreResult};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRow {
    pub id: i64,
    pub domain_id: i64,
    pub call_id: String,
    pub name: String,
    pub mime_type: String,
    pub size: i64,
    pub start_at: i64,
    pub stop_at: i64,
    pub path: String,
    pub created_at: i64,
    pub deleted_at: i64,
    pub deleted_by: Option<i64>,
}

const COLS: &str = "id, domain_id, call_id, name, mime_type, size, start_at, stop_at, path, \
                    created_at, deleted_at, deleted_by";

fn row(r: &AnyRow) -> StoreResult<FileRow> {
    Ok(FileRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        call_id: r.try_get("call_id")?,
        name: r.try_get("name")?,
        mime_type: r.try_get("mime_type")?,
        size: r.try_get("size")?,
        start_at: r.try_get("start_at")?,
        stop_at: r.try_get("stop_at")?,
        path: r.try_get("path")?,
        created_at: r.try_get("created_at")?,
        deleted_at: r.try_get("deleted_at")?,
        deleted_by: r.try_get("deleted_by")?,
    })
}

impl Store {
    /// Registers a file being written; `size` and `stop_at` follow with [`Store::finish_file`].
    pub async fn create_file(&self, f: &FileRow) -> StoreResult<FileRow> {
        let r = sqlx::query(&format!(
            "INSERT INTO files (domain_id, call_id, name, mime_type, size, start_at, stop_at, \
             path, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLS}"
        ))
        .bind(f.domain_id)
        .bind(&f.call_id)
        .bind(&f.name)
        .bind(&f.mime_type)
        .bind(f.size)
        .bind(f.start_at)
        .bind(f.stop_at)
        .bind(&f.path)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        row(&r)
    }

    pub async fn finish_file(&self, id: i64, size: i64, stop_at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE files SET size = $2, stop_at = $3 WHERE id = $1")
            .bind(id)
            .bind(size)
            .bind(stop_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A live file of the domain.
    pub async fn get_file(&self, domain_id: i64, id: i64) -> StoreResult<FileRow> {
        let r = sqlx::query(&format!(
            "SELECT {COLS} FROM files WHERE domain_id = $1 AND id = $2 AND deleted_at = 0"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(crate::StoreError::NotFound("file"))?;
        row(&r)
    }

    /// Live files of the given root call ids, in one query (history pages).
    pub async fn files_of_calls(
        &self,
        domain_id: i64,
        call_ids: &[String],
    ) -> StoreResult<Vec<FileRow>> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..call_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {COLS} FROM files WHERE domain_id = $1 AND deleted_at = 0 \
             AND call_id IN ({}) ORDER BY id",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(domain_id);
        for id in call_ids {
            q = q.bind(id);
        }
        q.fetch_all(&self.pool).await?.iter().map(row).collect()
    }

    /// Marks a call's live files deleted by `by`; returns them (their paths are to be removed).
    pub async fn delete_call_files(
        &self,
        domain_id: i64,
        call_id: &str,
        by: i64,
    ) -> StoreResult<Vec<FileRow>> {
        let rows = sqlx::query(&format!(
            "UPDATE files SET deleted_at = $3, deleted_by = $4 \
             WHERE domain_id = $1 AND call_id = $2 AND deleted_at = 0 RETURNING {COLS}"
        ))
        .bind(domain_id)
        .bind(call_id)
        .bind(now_ms())
        .bind(by)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }
}
