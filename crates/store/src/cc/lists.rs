//! Do-not-call lists and their numbers. A queue names at most one list; the dialer asks
//! [`Store::dnc_blocked`] which of the numbers it is about to call are barred now (a number
//! whose `expire_at` has passed is no longer barred). A number appears once per list.

use super::{actor, actor_sql, ints_in, Args};
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    /// Numbers on the list, barred or expired.
    pub count: i64,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct ListInput {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Name or description.
    pub q: Option<String>,
    pub ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommunicationRow {
    pub id: i64,
    pub list_id: i64,
    pub number: String,
    pub description: String,
    /// Epoch ms after which the number may be called again; `None`: never.
    pub expire_at: Option<i64>,
}

/// A number as created or replaced (REST trimmed and checked it).
#[derive(Debug, Clone, Default)]
pub struct ListCommunicationInput {
    pub number: String,
    pub description: String,
    pub expire_at: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ListCommunicationFilter {
    /// Number or description.
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub expire_at: (Option<i64>, Option<i64>),
}

fn list_select() -> String {
    let (cols, joins) = actor_sql("l");
    format!(
        "SELECT l.id, l.domain_id, l.name, l.description, l.created_at, l.created_by, \
         l.updated_at, l.updated_by, {cols}, \
         (SELECT COUNT(*) FROM cc_list_communications c WHERE c.list_id = l.id) AS n \
         FROM cc_lists l{joins}"
    )
}

fn list_from(r: &AnyRow) -> StoreResult<ListRow> {
    Ok(ListRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        count: r.try_get("n")?,
        created_at: r.try_get("created_at")?,
        created_by: actor(r, "created_by", "cb"),
        updated_at: r.try_get("updated_at")?,
        updated_by: actor(r, "updated_by", "ub"),
    })
}

const COMM_SELECT: &str =
    "SELECT c.id, c.list_id, c.number, c.description, c.expire_at FROM cc_list_communications c";

fn comm_from(r: &AnyRow) -> StoreResult<ListCommunicationRow> {
    Ok(ListCommunicationRow {
        id: r.try_get("id")?,
        list_id: r.try_get("list_id")?,
        number: r.try_get("number")?,
        description: r.try_get("description")?,
        expire_at: r.try_get("expire_at")?,
    })
}

impl Store {
    pub async fn create_list(
        &self,
        domain_id: i64,
        l: &ListInput,
        actor: Option<i64>,
    ) -> StoreResult<ListRow> {
        let row = sqlx::query(
            "INSERT INTO cc_lists (domain_id, name, description, created_at, created_by, \
             updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $4, $5) RETURNING id",
        )
        .bind(domain_id)
        .bind(&l.name)
        .bind(&l.description)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &l.name))?;
        self.get_list(domain_id, row.try_get("id")?).await
    }

    pub async fn get_list(&self, domain_id: i64, id: i64) -> StoreResult<ListRow> {
        let row = sqlx::query(&format!(
            "{} WHERE l.domain_id = $1 AND l.id = $2",
            list_select()
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("list"))?;
        list_from(&row)
    }

    pub async fn search_lists(
        &self,
        domain_id: i64,
        f: &ListFilter,
        page: &Page,
    ) -> StoreResult<Paged<ListRow>> {
        let order = page.order_by(
            &[
                ("id", "l.id"),
                ("name", "l.name"),
                ("description", "l.description"),
                ("created_at", "l.created_at"),
                ("updated_at", "l.updated_at"),
            ],
            "l.id ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{} WHERE l.domain_id = {}{}",
            list_select(),
            a.int(domain_id),
            ints_in("l.id", &f.ids, false)
        );
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(l.name) LIKE {p} ESCAPE '\\' OR LOWER(l.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, l.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(list_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_list(
        &self,
        domain_id: i64,
        id: i64,
        l: &ListInput,
        actor: Option<i64>,
    ) -> StoreResult<ListRow> {
        let res = sqlx::query(
            "UPDATE cc_lists SET name = $3, description = $4, updated_at = $5, updated_by = $6 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&l.name)
        .bind(&l.description)
        .bind(now_ms())
        .bind(actor)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "name", &l.name))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("list"));
        }
        self.get_list(domain_id, id).await
    }

    /// Deletes a list and its numbers unless a queue uses it ([`StoreError::InUse`] names one).
    pub async fn delete_list(&self, domain_id: i64, id: i64) -> StoreResult<ListRow> {
        let row = self.get_list(domain_id, id).await?;
        let mut w = self.begin_write().await?;
        if let Some(q) = sqlx::query(
            "SELECT id, name FROM cc_queues WHERE domain_id = $1 AND dnc_list_id = $2 LIMIT 1",
        )
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?
        {
            let (qid, name): (i64, String) = (q.try_get("id")?, q.try_get("name")?);
            return Err(StoreError::InUse {
                what: "list",
                detail: format!(
                    "list {id} is the DNC list of queue {qid} ({name:?}); clear the queue's \
                     dnc_list first"
                ),
            });
        }
        sqlx::query("DELETE FROM cc_list_communications WHERE list_id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("DELETE FROM cc_lists WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(row)
    }

    /// `NotFound("list")` unless the list is the domain's.
    async fn check_list(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        list_id: i64,
    ) -> StoreResult<()> {
        sqlx::query("SELECT id FROM cc_lists WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(list_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|_| ())
            .ok_or(StoreError::NotFound("list"))
    }

    /// Adds numbers to a list in one transaction; each item answers its row, or
    /// [`StoreError::Conflict`] when the number is on the list already (earlier in `items`
    /// included). The good items are written either way.
    pub async fn create_list_communications(
        &self,
        domain_id: i64,
        list_id: i64,
        items: &[ListCommunicationInput],
    ) -> StoreResult<Vec<StoreResult<ListCommunicationRow>>> {
        let mut w = self.begin_write().await?;
        self.check_list(&mut w.tx, domain_id, list_id).await?;
        let mut out = Vec::with_capacity(items.len());
        for c in items {
            // A duplicate inserts nothing and answers no row; the transaction goes on.
            let row = sqlx::query(
                "INSERT INTO cc_list_communications (domain_id, list_id, number, description, \
                 expire_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (list_id, number) DO NOTHING RETURNING id",
            )
            .bind(domain_id)
            .bind(list_id)
            .bind(&c.number)
            .bind(&c.description)
            .bind(c.expire_at)
            .fetch_optional(&mut *w.tx)
            .await?;
            out.push(match row {
                Some(r) => Ok(ListCommunicationRow {
                    id: r.try_get("id")?,
                    list_id,
                    number: c.number.clone(),
                    description: c.description.clone(),
                    expire_at: c.expire_at,
                }),
                None => Err(StoreError::Conflict {
                    field: "number",
                    value: c.number.clone(),
                }),
            });
        }
        if out.iter().any(Result::is_ok) {
            sqlx::query("UPDATE cc_lists SET updated_at = $3 WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(list_id)
                .bind(now_ms())
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok(out)
    }

    /// One number of a list of the domain.
    pub async fn get_list_communication(
        &self,
        domain_id: i64,
        list_id: i64,
        id: i64,
    ) -> StoreResult<ListCommunicationRow> {
        let row = sqlx::query(&format!(
            "{COMM_SELECT} WHERE c.domain_id = $1 AND c.list_id = $2 AND c.id = $3"
        ))
        .bind(domain_id)
        .bind(list_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("list_communication"))?;
        comm_from(&row)
    }

    /// A list's numbers, in the order they were added unless `sort` says otherwise.
    pub async fn search_list_communications(
        &self,
        domain_id: i64,
        list_id: i64,
        f: &ListCommunicationFilter,
        page: &Page,
    ) -> StoreResult<Paged<ListCommunicationRow>> {
        self.get_list(domain_id, list_id).await?;
        let order = page.order_by(
            &[
                ("id", "c.id"),
                ("number", "c.number"),
                ("description", "c.description"),
                ("expire_at", "c.expire_at"),
            ],
            "c.id ASC",
        );
        let mut a = Args::default();
        let mut sql = format!(
            "{COMM_SELECT} WHERE c.domain_id = {} AND c.list_id = {}{}",
            a.int(domain_id),
            a.int(list_id),
            ints_in("c.id", &f.ids, false)
        );
        if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
            let p = a.text(like_pattern(q));
            sql.push_str(&format!(
                " AND (LOWER(c.number) LIKE {p} ESCAPE '\\' OR LOWER(c.description) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(v) = f.expire_at.0 {
            sql.push_str(&format!(" AND c.expire_at >= {}", a.int(v)));
        }
        if let Some(v) = f.expire_at.1 {
            sql.push_str(&format!(" AND c.expire_at <= {}", a.int(v)));
        }
        sql.push_str(&format!(
            " ORDER BY {order}, c.id LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(comm_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_list_communication(
        &self,
        domain_id: i64,
        list_id: i64,
        id: i64,
        c: &ListCommunicationInput,
    ) -> StoreResult<ListCommunicationRow> {
        let res = sqlx::query(
            "UPDATE cc_list_communications SET number = $4, description = $5, expire_at = $6 \
             WHERE domain_id = $1 AND list_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(list_id)
        .bind(id)
        .bind(&c.number)
        .bind(&c.description)
        .bind(c.expire_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "number", &c.number))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("list_communication"));
        }
        self.get_list_communication(domain_id, list_id, id).await
    }

    pub async fn delete_list_communication(
        &self,
        domain_id: i64,
        list_id: i64,
        id: i64,
    ) -> StoreResult<ListCommunicationRow> {
        let row = self.get_list_communication(domain_id, list_id, id).await?;
        sqlx::query(
            "DELETE FROM cc_list_communications WHERE domain_id = $1 AND list_id = $2 AND id = $3",
        )
        .bind(domain_id)
        .bind(list_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(row)
    }

    /// Which of `numbers` are barred at `now` for the queue: on its DNC list and not expired.
    /// Empty when the queue has no list.
    pub async fn dnc_blocked(
        &self,
        domain_id: i64,
        queue_id: i64,
        numbers: &[String],
        now: i64,
    ) -> StoreResult<HashSet<String>> {
        let mut out = HashSet::new();
        let mut numbers: Vec<&String> = numbers.iter().filter(|n| !n.is_empty()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        // Bounded statements: a member batch has a few hundred numbers at most.
        for chunk in numbers.chunks(200) {
            let mut a = Args::default();
            let mut sql = format!(
                "SELECT c.number FROM cc_queues q \
                 JOIN cc_list_communications c ON c.list_id = q.dnc_list_id \
                 WHERE q.domain_id = {} AND q.id = {} \
                 AND (c.expire_at IS NULL OR c.expire_at > {})",
                a.int(domain_id),
                a.int(queue_id),
                a.int(now)
            );
            let list: Vec<String> = chunk.iter().map(|n| n.to_string()).collect();
            sql.push_str(&a.texts_in("c.number", &list));
            for r in a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
                out.insert(r.try_get("number")?);
            }
        }
        Ok(out)
    }
}
