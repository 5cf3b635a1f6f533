//! The seam between the HTTP/WebSocket face and the contact center (agents, queues,
//! distribution). The telephony runtime implements it; the API only validates and forwards.

use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use std::sync::Arc;

/// `PATCH /call_center/agents/{id}/status` (and the WebSocket online/pause/offline actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStatusChange {
    Online {
        on_demand: bool,
    },
    Pause {
        payload: Option<String>,
        comment: Option<String>,
    },
    Offline,
}

/// What the contact center knows live of an agent (REST shows it over the stored status).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAgent {
    pub status: String,
    pub status_payload: Option<String>,
    /// Epoch ms of the last status change.
    pub last_status_change: i64,
    /// Webitel's `channel[]` items: `{channel, state, joined_at, timeout}`.
    pub channels: Vec<Value>,
}

pub trait ContactCenter: Send + Sync + 'static {
    /// One `cc_*` WebSocket action of the session's user; `Ok(None)` is a reply without data.
    fn ws_action(
        &self,
        session: Arc<Session>,
        action: String,
        data: Map<String, Value>,
    ) -> BoxFuture<'_, ApiResult<Option<Map<String, Value>>>>;
    /// A status change asked over REST for an agent of the domain.
    fn set_status(
        &self,
        domain_id: i64,
        agent_id: i64,
        change: AgentStatusChange,
    ) -> BoxFuture<'_, ApiResult<()>>;
    /// Agents, teams, skills or queues of the domain changed in the store.
    fn changed(&self, domain_id: i64);
    /// The live state of an agent, when the contact center runs here.
    fn live_agent(&self, domain_id: i64, agent_id: i64) -> Option<LiveAgent>;
}

/// No contact center in this process: actions fail clearly, nothing is live.
#[derive(Debug, Default)]
pub struct NoContactCenter;

fn unavailable() -> ApiError {
    ApiError::new(
        501,
        "app.cc.not_available",
        "the contact center is not available on this server",
    )
}

impl ContactCenter for NoContactCenter {
    fn ws_action(
        &self,
        _: Arc<Session>,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, ApiResult<Option<Map<String, Value>>>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn set_status(&self, _: i64, _: i64, _: AgentStatusChange) -> BoxFuture<'_, ApiResult<()>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn changed(&self, _: i64) {}

    fn live_agent(&self, _: i64, _: i64) -> Option<LiveAgent> {
        None
    }
}
