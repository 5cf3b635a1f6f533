use crate::{like_pattern, now_ms, Page, Paged, Store, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One leg of a call as history keeps it. Times are epoch ms (0 = not yet); durations seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryRecord {
    pub id: String,
    pub domain_id: i64,
    pub parent_id: String,
    pub bridged_id: String,
    pub user_id: Option<i64>,
    pub direction: String,
    pub destination: String,
    pub from_type: String,
    pub from_number: String,
    pub from_name: String,
    pub from_id: String,
    pub to_type: String,
    pub to_number: String,
    pub to_name: String,
    pub to_id: String,
    pub created_at: i64,
    pub answered_at: i64,
    pub bridged_at: i64,
    pub hangup_at: i64,
    pub stored_at: i64,
    pub duration: i64,
    pub bill_sec: i64,
    pub hold_sec: i64,
    pub wait_sec: i64,
    pub cause: String,
    pub sip_code: i64,
    pub hangup_by: String,
    pub transfer_from: String,
    pub transfer_to: String,
    /// JSON object of call variables.
    pub variables: String,
    /// Display name of `user_id` (read side only).
    pub user_name: String,
}

/// History search, as Webitel's `SearchHistoryCall` narrows it.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub answered_from: Option<i64>,
    pub answered_to: Option<i64>,
    pub stored_from: Option<i64>,
    pub stored_to: Option<i64>,
    pub duration_from: Option<i64>,
    pub duration_to: Option<i64>,
    pub user_ids: Vec<i64>,
    pub ids: Vec<String>,
    pub parent_id: Option<String>,
    pub skip_parent: bool,
    /// Matches the caller's, the callee's or the dialled number.
    pub number: Option<String>,
    pub directions: Vec<String>,
    pub causes: Vec<String>,
    pub missed: bool,
    pub q: Option<String>,
    /// Legs of attempts in these queues / answered by these agents.
    pub queue_ids: Vec<i64>,
    pub agent_ids: Vec<i64>,
}

/// The queue attempt a history leg belongs to (as the customer's or the agent's leg).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegAttempt {
    pub attempt_id: i64,
    pub queue: (i64, String),
    /// Webitel's queue type, while the queue exists.
    pub queue_kind: Option<i32>,
    pub team: Option<(i64, String)>,
    pub agent: Option<(i64, String)>,
    /// Whether the leg is the agent's (else the customer's).
    pub agent_leg: bool,
    pub joined_at: i64,
    pub bridged_at: Option<i64>,
    pub leaving_at: Option<i64>,
    pub reporting_at: Option<i64>,
    pub result: Option<String>,
    pub description: Option<String>,
}

/// A history leg with its queue attempt, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryLeg {
    pub record: HistoryRecord,
    pub attempt: Option<LegAttempt>,
}

const COLS: &[&str] = &[
    "id",
    "domain_id",
    "parent_id",
    "bridged_id",
    "user_id",
    "direction",
    "destination",
    "from_type",
    "from_number",
    "from_name",
    "from_id",
    "to_type",
    "to_number",
    "to_name",
    "to_id",
    "created_at",
    "answered_at",
    "bridged_at",
    "hangup_at",
    "stored_at",
    "duration",
    "bill_sec",
    "hold_sec",
    "wait_sec",
    "cause",
    "sip_code",
    "hangup_by",
    "transfer_from",
    "transfer_to",
    "variables",
];

/// Insert-or-replace of one leg, built once: it runs at every state change of every call.
static UPSERT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let params = (1..=COLS.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = COLS
        .iter()
        .filter(|c| !matches!(**c, "id" | "domain_id"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO calls_history ({}) VALUES ({params}) ON CONFLICT (id) DO UPDATE SET {updates}",
        COLS.join(", ")
    )
});

fn record_from(r: &AnyRow) -> StoreResult<HistoryRecord> {
    let name: Option<String> = r.try_get("u_name").ok().flatten();
    let username: Option<String> = r.try_get("u_username").ok().flatten();
    Ok(HistoryRecord {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        parent_id: r.try_get("parent_id")?,
        bridged_id: r.try_get("bridged_id")?,
        user_id: r.try_get("user_id")?,
        direction: r.try_get("direction")?,
        destination: r.try_get("destination")?,
        from_type: r.try_get("from_type")?,
        from_number: r.try_get("from_number")?,
        from_name: r.try_get("from_name")?,
        from_id: r.try_get("from_id")?,
        to_type: r.try_get("to_type")?,
        to_number: r.try_get("to_number")?,
        to_name: r.try_get("to_name")?,
        to_id: r.try_get("to_id")?,
        created_at: r.try_get("created_at")?,
        answered_at: r.try_get("answered_at")?,
        bridged_at: r.try_get("bridged_at")?,
        hangup_at: r.try_get("hangup_at")?,
        stored_at: r.try_get("stored_at")?,
        duration: r.try_get("duration")?,
        bill_sec: r.try_get("bill_sec")?,
        hold_sec: r.try_get("hold_sec")?,
        wait_sec: r.try_get("wait_sec")?,
        cause: r.try_get("cause")?,
        sip_code: r.try_get("sip_code")?,
        hangup_by: r.try_get("hangup_by")?,
        transfer_from: r.try_get("transfer_from")?,
        transfer_to: r.try_get("transfer_to")?,
        variables: r.try_get("variables")?,
        user_name: crate::devices::display(name, username),
    })
}

/// The columns of a leg's attempt, joined by [`ATTEMPT_JOIN`].
const ATTEMPT_COLS: &str = "a.id AS a_id, a.queue_id AS a_queue_id, a.queue_name AS a_queue_name, \
    a.team_id AS a_team_id, att.name AS a_team_name, a.agent_id AS a_agent_id, \
    a.agent_name AS a_agent_name, a.agent_call_id AS a_agent_call_id, a.joined_at AS a_joined_at, \
    a.bridged_at AS a_bridged_at, a.leaving_at AS a_leaving_at, a.reporting_at AS a_reporting_at, \
    a.result AS a_result, a.description AS a_description, aq.kind AS a_queue_kind";

/// A leg's attempt: the latest one that has it as the agent's leg, else as the customer's
/// (a customer may wait in several queues in turn). Index lookups per row, one statement.
const ATTEMPT_JOIN: &str = " LEFT JOIN cc_attempts a ON a.id = COALESCE(\
    (SELECT MAX(x.id) FROM cc_attempts x WHERE x.agent_call_id = h.id AND x.domain_id = h.domain_id), \
    (SELECT MAX(x.id) FROM cc_attempts x WHERE x.member_call_id = h.id AND x.domain_id = h.domain_id)) \
    LEFT JOIN cc_teams att ON att.id = a.team_id LEFT JOIN cc_queues aq ON aq.id = a.queue_id";

fn leg_attempt_from(r: &AnyRow, leg_id: &str) -> StoreResult<Option<LegAttempt>> {
    let Some(attempt_id) = r.try_get::<Option<i64>, _>("a_id")? else {
        return Ok(None);
    };
    let pair = |id: &str, name: &str| -> StoreResult<Option<(i64, String)>> {
        let id: Option<i64> = r.try_get(id)?;
        let name: Option<String> = r.try_get(name)?;
        Ok(id.map(|i| (i, name.unwrap_or_default())))
    };
    let agent_call: Option<String> = r.try_get("a_agent_call_id")?;
    let kind: Option<i64> = r.try_get("a_queue_kind")?;
    Ok(Some(LegAttempt {
        attempt_id,
        queue: (r.try_get("a_queue_id")?, r.try_get("a_queue_name")?),
        queue_kind: kind.and_then(|k| i32::try_from(k).ok()),
        team: pair("a_team_id", "a_team_name")?,
        agent: pair("a_agent_id", "a_agent_name")?,
        agent_leg: agent_call.as_deref() == Some(leg_id),
        joined_at: r.try_get("a_joined_at")?,
        bridged_at: r.try_get("a_bridged_at")?,
        leaving_at: r.try_get("a_leaving_at")?,
        reporting_at: r.try_get("a_reporting_at")?,
        result: r.try_get("a_result")?,
        description: r.try_get("a_description")?,
    }))
}

impl Store {
    /// Writes a leg's current state: inserted the first time, replaced afterwards. Called at
    /// every state change, so a crash loses nothing that was already written.
    pub async fn upsert_history(&self, rec: &HistoryRecord) -> StoreResult<()> {
        sqlx::query(&UPSERT_SQL)
            .bind(&rec.id)
            .bind(rec.domain_id)
            .bind(&rec.parent_id)
            .bind(&rec.bridged_id)
            .bind(rec.user_id)
            .bind(&rec.direction)
            .bind(&rec.destination)
            .bind(&rec.from_type)
            .bind(&rec.from_number)
            .bind(&rec.from_name)
            .bind(&rec.from_id)
            .bind(&rec.to_type)
            .bind(&rec.to_number)
            .bind(&rec.to_name)
            .bind(&rec.to_id)
            .bind(rec.created_at)
            .bind(rec.answered_at)
            .bind(rec.bridged_at)
            .bind(rec.hangup_at)
            .bind(if rec.stored_at == 0 {
                now_ms()
            } else {
                rec.stored_at
            })
            .bind(rec.duration)
            .bind(rec.bill_sec)
            .bind(rec.hold_sec)
            .bind(rec.wait_sec)
            .bind(&rec.cause)
            .bind(rec.sip_code)
            .bind(&rec.hangup_by)
            .bind(&rec.transfer_from)
            .bind(&rec.transfer_to)
            .bind(if rec.variables.is_empty() {
                "{}"
            } else {
                &rec.variables
            })
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes every leg still open (left by a crash or `kill -9`): hung up at its last write,
    /// with `cause`. Returns how many were closed.
    pub async fn close_live_calls(&self, cause: &str) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE calls_history SET hangup_at = stored_at, cause = $1, \
             duration = (stored_at - created_at) / 1000, \
             bill_sec = CASE WHEN answered_at > 0 THEN (stored_at - answered_at) / 1000 ELSE 0 END \
             WHERE hangup_at = 0",
        )
        .bind(cause)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }

    pub async fn get_history(&self, domain_id: i64, id: &str) -> StoreResult<HistoryRecord> {
        let mut page = self
            .search_history(
                domain_id,
                &HistoryFilter {
                    ids: vec![id.to_string()],
                    ..Default::default()
                },
                &Page {
                    page: 1,
                    size: 1,
                    sort: None,
                },
            )
            .await?;
        page.items.pop().ok_or(crate::StoreError::NotFound("call"))
    }

    pub async fn search_history(
        &self,
        domain_id: i64,
        f: &HistoryFilter,
        page: &Page,
    ) -> StoreResult<Paged<HistoryRecord>> {
        let legs = self.search_history_legs(domain_id, f, page).await?;
        Ok(Paged {
            items: legs.items.into_iter().map(|l| l.record).collect(),
            next: legs.next,
        })
    }

    /// History legs with the queue attempt each belongs to, in one statement.
    pub async fn search_history_legs(
        &self,
        domain_id: i64,
        f: &HistoryFilter,
        page: &Page,
    ) -> StoreResult<Paged<HistoryLeg>> {
        let sortable: Vec<(&str, String)> = COLS.iter().map(|c| (*c, format!("h.{c}"))).collect();
        let sortable: Vec<(&str, &str)> = sortable.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let order = page.order_by(&sortable, "h.created_at DESC");
        let mut sql = format!(
            "SELECT {}, u.name AS u_name, u.username AS u_username, {ATTEMPT_COLS} \
             FROM calls_history h LEFT JOIN users u ON u.id = h.user_id{ATTEMPT_JOIN} \
             WHERE h.domain_id = $1",
            COLS.iter()
                .map(|c| format!("h.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Bound values in order; `n` is the next placeholder number.
        let mut ints: Vec<(usize, i64)> = Vec::new();
        let mut texts: Vec<(usize, String)> = Vec::new();
        let mut n = 2;
        let mut range = |sql: &mut String, col: &str, from: Option<i64>, to: Option<i64>| {
            if let Some(v) = from {
                sql.push_str(&format!(" AND h.{col} >= ${n}"));
                ints.push((n, v));
                n += 1;
            }
            if let Some(v) = to {
                sql.push_str(&format!(" AND h.{col} <= ${n}"));
                ints.push((n, v));
                n += 1;
            }
        };
        range(&mut sql, "created_at", f.created_from, f.created_to);
        range(&mut sql, "answered_at", f.answered_from, f.answered_to);
        range(&mut sql, "stored_at", f.stored_from, f.stored_to);
        range(&mut sql, "duration", f.duration_from, f.duration_to);
        let mut text_in = |sql: &mut String, col: &str, values: &[String]| {
            if values.is_empty() {
                return;
            }
            let ph: Vec<String> = values
                .iter()
                .map(|v| {
                    texts.push((n, v.clone()));
                    n += 1;
                    format!("${}", n - 1)
                })
                .collect();
            sql.push_str(&format!(" AND {col} IN ({})", ph.join(", ")));
        };
        text_in(&mut sql, "h.id", &f.ids);
        text_in(&mut sql, "h.direction", &f.directions);
        text_in(&mut sql, "h.cause", &f.causes);
        if let Some(p) = &f.parent_id {
            text_in(&mut sql, "h.parent_id", std::slice::from_ref(p));
        }
        if let Some(num) = &f.number {
            let pat = like_pattern(num);
            sql.push_str(&format!(
                " AND (LOWER(h.from_number) LIKE ${n} ESCAPE '\\' OR LOWER(h.to_number) LIKE ${n} ESCAPE '\\' \
                 OR LOWER(h.destination) LIKE ${n} ESCAPE '\\')"
            ));
            texts.push((n, pat));
            n += 1;
        }
        if let Some(q) = &f.q {
            let pat = like_pattern(q);
            sql.push_str(&format!(
                " AND (LOWER(h.from_number) LIKE ${n} ESCAPE '\\' OR LOWER(h.to_number) LIKE ${n} ESCAPE '\\' \
                 OR LOWER(h.destination) LIKE ${n} ESCAPE '\\' OR LOWER(h.from_name) LIKE ${n} ESCAPE '\\' \
                 OR LOWER(h.to_name) LIKE ${n} ESCAPE '\\')"
            ));
            texts.push((n, pat));
            n += 1;
        }
        if !f.user_ids.is_empty() {
            let ids: Vec<String> = f.user_ids.iter().map(|i| i.to_string()).collect();
            sql.push_str(&format!(" AND h.user_id IN ({})", ids.join(",")));
        }
        if !f.queue_ids.is_empty() {
            let ids: Vec<String> = f.queue_ids.iter().map(|i| i.to_string()).collect();
            sql.push_str(&format!(" AND a.queue_id IN ({})", ids.join(",")));
        }
        if !f.agent_ids.is_empty() {
            let ids: Vec<String> = f.agent_ids.iter().map(|i| i.to_string()).collect();
            sql.push_str(&format!(" AND a.agent_id IN ({})", ids.join(",")));
        }
        if f.skip_parent {
            sql.push_str(" AND h.parent_id <> ''");
        }
        if f.missed {
            sql.push_str(" AND h.answered_at = 0 AND h.hangup_at > 0 AND h.direction = 'inbound'");
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT ${n} OFFSET ${}", n + 1));
        ints.push((n, page.size + 1));
        ints.push((n + 1, page.offset()));

        // Bind in placeholder order.
        enum V {
            I(i64),
            T(String),
        }
        let mut binds: Vec<(usize, V)> = ints.into_iter().map(|(i, v)| (i, V::I(v))).collect();
        binds.extend(texts.into_iter().map(|(i, v)| (i, V::T(v))));
        binds.sort_by_key(|(i, _)| *i);
        let mut query = sqlx::query(&sql).bind(domain_id);
        for (_, v) in binds {
            query = match v {
                V::I(i) => query.bind(i),
                V::T(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(|r| {
                let record = record_from(r)?;
                let attempt = leg_attempt_from(r, &record.id)?;
                Ok(HistoryLeg { record, attempt })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }
}
