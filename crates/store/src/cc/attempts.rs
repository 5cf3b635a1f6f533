//! Queue attempts: one row per time a call waited in a queue, written by the contact center
//! as the attempt progresses (joined → offering → bridged → leaving → reporting). History legs
//! find their attempt by the customer's or the agent's leg id.

use super::{ints_in, Args};
use crate::{Page, Paged, Store, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An attempt as the contact center writes it. Times are epoch ms; `None` = not yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptRow {
    pub id: i64,
    pub domain_id: i64,
    pub queue_id: i64,
    pub queue_name: String,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    /// The customer's leg.
    pub member_call_id: String,
    /// The agent's leg, once one was offered.
    pub agent_call_id: Option<String>,
    /// The customer's number.
    pub destination: String,
    pub joined_at: i64,
    pub offering_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub leaving_at: Option<i64>,
    pub reporting_at: Option<i64>,
    /// `success`, `abandoned`, `timeout`, … (CC-NOTES 1.4).
    pub result: Option<String>,
    /// The agent's reporting description.
    pub description: Option<String>,
    /// The dialer member called (outbound queues).
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub joined_from: Option<i64>,
    pub joined_to: Option<i64>,
    pub leaving_from: Option<i64>,
    pub leaving_to: Option<i64>,
    pub ids: Vec<i64>,
    pub queue_ids: Vec<i64>,
    pub agent_ids: Vec<i64>,
    pub results: Vec<String>,
    pub member_ids: Vec<i64>,
}

pub(crate) const ATTEMPT_COLS: &[&str] = &[
    "id",
    "domain_id",
    "queue_id",
    "queue_name",
    "team_id",
    "agent_id",
    "agent_name",
    "member_call_id",
    "agent_call_id",
    "destination",
    "joined_at",
    "offering_at",
    "bridged_at",
    "leaving_at",
    "reporting_at",
    "result",
    "description",
    "member_id",
    "member_name",
];

static UPSERT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let params: Vec<String> = (1..=ATTEMPT_COLS.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = ATTEMPT_COLS
        .iter()
        .filter(|c| !matches!(**c, "id" | "domain_id"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO cc_attempts ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} \
         WHERE cc_attempts.domain_id = excluded.domain_id",
        ATTEMPT_COLS.join(", "),
        params.join(", "),
        updates.join(", ")
    )
});

pub(crate) fn attempt_from(r: &AnyRow) -> StoreResult<AttemptRow> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        queue_id: r.try_get("queue_id")?,
        queue_name: r.try_get("queue_name")?,
        team_id: r.try_get("team_id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        member_call_id: r.try_get("member_call_id")?,
        agent_call_id: r.try_get("agent_call_id")?,
        destination: r.try_get("destination")?,
        joined_at: r.try_get("joined_at")?,
        offering_at: r.try_get("offering_at")?,
        bridged_at: r.try_get("bridged_at")?,
        leaving_at: r.try_get("leaving_at")?,
        reporting_at: r.try_get("reporting_at")?,
        result: r.try_get("result")?,
        description: r.try_get("description")?,
        member_id: r.try_get("member_id")?,
        member_name: r.try_get("member_name")?,
    })
}

impl Store {
    /// The highest attempt id ever written, 0 when none: the contact center numbers its
    /// attempts on from there after a restart.
    pub async fn max_attempt_id(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT MAX(id) AS top FROM cc_attempts")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("top")?.unwrap_or(0))
    }

    /// Writes an attempt's current state: inserted the first time, replaced afterwards (never
    /// over another domain's attempt of the same id).
    pub async fn upsert_attempt(&self, a: &AttemptRow) -> StoreResult<()> {
        sqlx::query(&UPSERT_SQL)
            .bind(a.id)
            .bind(a.domain_id)
            .bind(a.queue_id)
            .bind(&a.queue_name)
            .bind(a.team_id)
            .bind(a.agent_id)
            .bind(a.agent_name.as_deref())
            .bind(&a.member_call_id)
            .bind(a.agent_call_id.as_deref())
            .bind(&a.destination)
            .bind(a.joined_at)
            .bind(a.offering_at)
            .bind(a.bridged_at)
            .bind(a.leaving_at)
            .bind(a.reporting_at)
            .bind(a.result.as_deref())
            .bind(a.description.as_deref())
            .bind(a.member_id)
            .bind(a.member_name.as_deref())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Attempts of a domain, newest first unless `sort` says otherwise.
    pub async fn search_attempts(
        &self,
        domain_id: i64,
        f: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Paged<AttemptRow>> {
        let sortable: Vec<(&str, String)> = ATTEMPT_COLS
            .iter()
            .map(|c| (*c, format!("x.{c}")))
            .collect();
        let sortable: Vec<(&str, &str)> = sortable.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let order = page.order_by(&sortable, "x.joined_at DESC");
        let mut a = Args::default();
        let cols: Vec<String> = ATTEMPT_COLS.iter().map(|c| format!("x.{c}")).collect();
        let mut sql = format!(
            "SELECT {} FROM cc_attempts x WHERE x.domain_id = {}",
            cols.join(", "),
            a.int(domain_id)
        );
        let ranges = [
            ("x.joined_at", f.joined_from, f.joined_to),
            ("x.leaving_at", f.leaving_from, f.leaving_to),
        ];
        for (col, from, to) in ranges {
            if let Some(v) = from {
                sql.push_str(&format!(" AND {col} >= {}", a.int(v)));
            }
            if let Some(v) = to {
                sql.push_str(&format!(" AND {col} <= {}", a.int(v)));
            }
        }
        sql.push_str(&ints_in("x.id", &f.ids, false));
        sql.push_str(&ints_in("x.queue_id", &f.queue_ids, false));
        sql.push_str(&ints_in("x.agent_id", &f.agent_ids, false));
        sql.push_str(&ints_in("x.member_id", &f.member_ids, false));
        sql.push_str(&a.texts_in("x.result", &f.results));
        sql.push_str(&format!(
            " ORDER BY {order}, x.id DESC LIMIT {} OFFSET {}",
            a.int(page.size + 1),
            a.int(page.offset())
        ));
        let rows = a.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(attempt_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }
}
