//! The HTTP face of Switchboard: Webitel-compatible REST under `/api` and, beside it, the
//! WebSocket API. Authentication, domain scoping and error mapping are layers and extractors,
//! not code repeated in handlers.

pub mod auth;
pub mod bootstrap;
pub mod cc;
pub mod error;
pub mod extract;
mod openapi;
pub mod presence;
pub mod rest;
pub mod ws;

use auth::{AuthEvent, SessionCache};
use axum::Router;
use std::sync::Arc;
use switchboard_store::Store;
use tokio::sync::broadcast;

pub use error::{ApiError, ApiResult};

/// Settings the API needs at run time.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Lifetime of a session token made by `POST /api/login`, in seconds.
    pub session_ttl_secs: i64,
    /// The platform's version as reported to clients.
    pub server_version: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            session_ttl_secs: 12 * 3600,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Shared state of every handler. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<ApiConfig>,
    pub sessions: Arc<SessionCache>,
    pub auth_events: broadcast::Sender<AuthEvent>,
    /// Routes events to WebSockets (in-process by default).
    pub hub: Arc<dyn ws::hub::EventHub>,
    /// The call engine behind the WebSocket call actions.
    pub calls: Arc<dyn ws::calls::CallControl>,
    /// Live SIP registrations.
    pub presence: Arc<dyn presence::Presence>,
    /// Agents, queues and distribution.
    pub cc: Arc<dyn cc::ContactCenter>,
    pub ws: Arc<ws::WsConfig>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: ApiConfig) -> Self {
        let (auth_events, _) = broadcast::channel(1024);
        Self {
            store,
            config: Arc::new(config),
            sessions: Arc::new(SessionCache::default()),
            auth_events,
            hub: Arc::new(ws::hub::LocalHub::new()),
            calls: Arc::new(ws::calls::NoCallEngine),
            presence: Arc::new(presence::NoPresence),
            cc: Arc::new(cc::NoContactCenter),
            ws: Arc::new(ws::WsConfig::default()),
        }
    }

    pub fn with_ws_config(mut self, config: ws::WsConfig) -> Self {
        self.ws = Arc::new(config);
        self
    }

    pub fn with_call_control(mut self, calls: Arc<dyn ws::calls::CallControl>) -> Self {
        self.calls = calls;
        self
    }

    pub fn with_presence(mut self, presence: Arc<dyn presence::Presence>) -> Self {
        self.presence = presence;
        self
    }

    pub fn with_contact_center(mut self, cc: Arc<dyn cc::ContactCenter>) -> Self {
        self.cc = cc;
        self
    }

    pub fn with_hub(mut self, hub: Arc<dyn ws::hub::EventHub>) -> Self {
        self.hub = hub;
        self
    }

    /// Drops cached sessions that `ev` makes stale and tells live connections about it.
    pub fn invalidate(&self, ev: AuthEvent) {
        self.sessions.forget(&ev);
        let _ = self.auth_events.send(ev);
    }
}

/// All HTTP routes: `/api/...`, `/api/openapi.json`, `/healthz` and the WebSocket API at
/// `/ws/websocket` (webitel-sdk's endpoint `<base>/ws`) and `/websocket`.
pub fn router(state: AppState) -> Router {
    let (router, doc) = rest::routes(state.clone()).split_for_parts();
    let doc = Arc::new(doc);
    router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/ws/websocket", axum::routing::get(ws::upgrade))
        .route("/websocket", axum::routing::get(ws::upgrade))
        .with_state(state)
}
