//! Persistence. One `Store` serves SQLite (embedded, the default) and PostgreSQL through sqlx's
//! `Any` driver: the SQL is written once in the common dialect (`$n` placeholders, `RETURNING`),
//! and only the schema migrations differ per backend. Nothing else in the workspace touches SQL.

mod cache;
mod cc;
mod db;
mod devices;
mod domains;
mod error;
mod files;
mod gateways;
mod history;
mod licenses;
mod roles;
mod routing;
mod schemas;
mod secret;
mod tokens;
mod users;

pub use cc::{
    AgentFilter, AgentInput, AgentRow, AgentSkillFilter, AgentSkillInput, AgentSkillRef,
    AgentSkillRow, AgentSkillsChange, AttemptFilter, AttemptRow, CcAgentRow, CcAgentSkillRow,
    CcDirectory, CcQueueRow, CcQueueSkillRow, CcTeamRow, CommunicationRow, ListCommunicationFilter,
    ListCommunicationInput, ListCommunicationRow, ListFilter, ListInput, ListRow, MemberFilter,
    MemberInput, MemberReset, MemberRow, MemberUpdate, QueueFilter, QueueInput, QueueRow,
    QueueSkillFilter, QueueSkillInput, QueueSkillRow, SkillFilter, SkillInput, SkillRow,
    TeamFilter, TeamInput, TeamRow,
};
pub use db::{create_postgres_database, Backend, Store};
pub use devices::{DeviceFilter, DeviceInput, DeviceRow, SipCredentials, SipOwner};
pub use domains::DomainRow;
pub use error::{StoreError, StoreResult};
pub use files::FileRow;
pub use gateways::{
    parse_block as parse_ipv4_block, AclEntry, GatewayCredentials, GatewayFilter, GatewayInput,
    GatewayRow, TrunkMatch,
};
pub use history::{HistoryFilter, HistoryLeg, HistoryRecord, LegAttempt};
pub use licenses::{LicenseGrant, LicenseRow};
pub use roles::{Grant, RoleRow};
pub use routing::{
    compile_pattern as compile_route_pattern, truncate_destination, RouteFilter, RouteInput,
    RouteRow, MAX_DESTINATION_CHARS,
};
pub use schemas::{SchemaFilter, SchemaInput, SchemaRow};
pub use secret::SecretKey;
pub use tokens::{SessionRow, TokenRow};
pub use users::{UserFilter, UserInput, UserRow};

/// Paging request shared by every search: 1-based page, rows per page, a sort key.
#[derive(Debug, Clone)]
pub struct Page {
    pub page: i64,
    pub size: i64,
    /// `(column, descending)`; the column is validated by the aggregate against its own list.
    pub sort: Option<(String, bool)>,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            size: 16,
            sort: None,
        }
    }
}

impl Page {
    pub(crate) fn offset(&self) -> i64 {
        (self.page.max(1) - 1) * self.size
    }

    /// `ORDER BY` for a whitelisted column; unknown columns fall back to `fallback`.
    pub(crate) fn order_by(&self, allowed: &[(&str, &str)], fallback: &str) -> String {
        match &self.sort {
            Some((field, desc)) => match allowed.iter().find(|(k, _)| k == field) {
                Some((_, col)) => format!("{col} {}", if *desc { "DESC" } else { "ASC" }),
                None => fallback.to_string(),
            },
            None => fallback.to_string(),
        }
    }
}

/// One page of results plus whether another follows.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: bool,
}

impl<T> Paged<T> {
    /// Builds a page from `size + 1` fetched rows: the extra row only says that `next` exists.
    fn from_rows(mut rows: Vec<T>, size: i64) -> Self {
        let next = rows.len() as i64 > size;
        rows.truncate(size as usize);
        Self { items: rows, next }
    }
}

/// Milliseconds since the Unix epoch: the unit of every `*_at` column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Escapes a user's search text for `LIKE`; Webitel's `*` wildcard becomes `%`.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = escaped.replace('*', "%");
    if pattern.contains('%') {
        pattern.to_lowercase()
    } else {
        format!("%{}%", pattern.to_lowercase())
    }
}
