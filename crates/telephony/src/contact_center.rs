//! The contact center's API seam (`ContactCenter`): actions are parsed here and carried to the
//! runtime, which owns the queue engine.

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use switchboard_api::auth::{Access, Session};
use switchboard_api::cc::{AgentStatusChange, ContactCenter, LiveAgent};
use switchboard_api::error::{ApiError, ApiResult};
use tokio::sync::{oneshot, watch, Notify};

use crate::runtime::cc::CcAction;
use crate::runtime::Command;
use crate::Telephony;

fn unavailable() -> ApiError {
    ApiError::new(
        503,
        "app.cc.not_available",
        "the contact center is not running",
    )
}

fn invalid(action: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "api.websocket_handler.invalid_param.app_error",
        format!("{action}: {detail}"),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(action: &str, data: Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(data)).map_err(|e| invalid(action, e))
}

#[derive(Deserialize)]
struct AgentRef {
    agent_id: i64,
}

#[derive(Deserialize)]
struct Online {
    agent_id: i64,
    #[serde(default)]
    on_demand: bool,
}

#[derive(Deserialize)]
struct Pause {
    agent_id: i64,
    payload: Option<String>,
    status_comment: Option<String>,
}

#[derive(Deserialize)]
struct Waiting {
    agent_id: i64,
    channel: String,
}

#[derive(Deserialize)]
struct Reporting {
    attempt_id: i64,
    agent_id: Option<i64>,
    #[serde(default)]
    success: bool,
    description: Option<String>,
    // webitel-sdk sends snake_case, the workspace app camelCase (CC-NOTES 1.1).
    #[serde(alias = "nextDistributeAt")]
    next_distribute_at: Option<i64>,
}

#[derive(Deserialize)]
struct Renewal {
    attempt_id: i64,
    renewal_sec: u32,
}

#[derive(Deserialize)]
struct Board {
    queue_id: Option<i64>,
}

/// Directory reloads after REST writes: one reader task, so the engine gets the snapshots in
/// the order they were read, and a burst of writes (provisioning hundreds of agents) costs a
/// few reads, not one each. Generations let a request wait until every write before it is in
/// the engine.
#[derive(Default)]
pub(crate) struct Reload {
    dirty: Mutex<BTreeSet<i64>>,
    requested: AtomicU64,
    wake: Notify,
    done: watch::Sender<u64>,
}

impl Telephony {
    /// The reader of [`Reload`]: runs for the life of the process.
    pub(crate) async fn reload_cc(self) {
        let r = &self.inner.cc_reload;
        // At start, every domain that has a contact center.
        match self.store().cc_domains().await {
            Ok(domains) => {
                r.dirty
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(domains);
                r.wake.notify_one();
            }
            Err(e) => tracing::error!("contact-center domains not read: {e}"),
        }
        loop {
            r.wake.notified().await;
            loop {
                let generation = r.requested.load(Ordering::SeqCst);
                let domains =
                    std::mem::take(&mut *r.dirty.lock().unwrap_or_else(|e| e.into_inner()));
                if domains.is_empty() {
                    break;
                }
                for domain_id in domains {
                    match self.store().cc_directory(domain_id).await {
                        Ok(dir) => {
                            self.send(Command::CcDirectory { domain_id, dir }).await;
                        }
                        Err(e) => tracing::error!(domain_id, "contact center not read: {e}"),
                    }
                }
                r.done.send_replace(generation);
            }
        }
    }

    /// Waits until every directory change requested so far has reached the engine.
    async fn cc_settled(&self) {
        let r = &self.inner.cc_reload;
        let want = r.requested.load(Ordering::SeqCst);
        let mut done = r.done.subscribe();
        let _ = done.wait_for(|g| *g >= want).await;
    }

    async fn cc(
        &self,
        domain_id: i64,
        user_id: Option<i64>,
        action: CcAction,
    ) -> ApiResult<Option<Map<String, Value>>> {
        match self.cc_once(domain_id, user_id, action.clone()).await {
            // An agent created a moment ago may not have reached the engine yet.
            Err(e) if e.0.id == "app.agent.get.not_found" => {
                self.cc_settled().await;
                self.cc_once(domain_id, user_id, action).await
            }
            r => r,
        }
    }

    async fn cc_once(
        &self,
        domain_id: i64,
        user_id: Option<i64>,
        action: CcAction,
    ) -> ApiResult<Option<Map<String, Value>>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::CcAction {
            domain_id,
            user_id,
            action,
            reply,
        };
        if !self.send(cmd).await {
            return Err(unavailable());
        }
        rx.await.map_err(|_| unavailable())?
    }

    async fn ws_cc(
        &self,
        s: Arc<Session>,
        action: String,
        data: Map<String, Value>,
    ) -> ApiResult<Option<Map<String, Value>>> {
        let a = action.as_str();
        // The agent role grants `cc_agent` (read: the session; update: status and tasks).
        let (class, need) = match a {
            "cc_queue_board" => ("cc_queue", Access::Read),
            "cc_agent_session" | "cc_agent_tasks" | "cc_fetch_offline_members" => {
                ("cc_agent", Access::Read)
            }
            _ => ("cc_agent", Access::Update),
        };
        s.require(class, need)?;
        let act = match a {
            "cc_agent_session" => CcAction::Session,
            "cc_agent_tasks" => CcAction::Tasks {
                agent_id: parse::<AgentRef>(a, data)?.agent_id,
            },
            "cc_agent_online" => {
                let r: Online = parse(a, data)?;
                CcAction::Status {
                    agent_id: r.agent_id,
                    change: AgentStatusChange::Online {
                        on_demand: r.on_demand,
                    },
                }
            }
            "cc_agent_pause" => {
                let r: Pause = parse(a, data)?;
                CcAction::Status {
                    agent_id: r.agent_id,
                    change: AgentStatusChange::Pause {
                        payload: r.payload.filter(|p| !p.is_empty()),
                        comment: r.status_comment.filter(|c| !c.is_empty()),
                    },
                }
            }
            "cc_agent_offline" => CcAction::Status {
                agent_id: parse::<AgentRef>(a, data)?.agent_id,
                change: AgentStatusChange::Offline,
            },
            "cc_agent_waiting" => {
                let r: Waiting = parse(a, data)?;
                CcAction::Waiting {
                    agent_id: r.agent_id,
                    channel: r.channel,
                }
            }
            "cc_reporting" => {
                let r: Reporting = parse(a, data)?;
                CcAction::Reporting {
                    attempt_id: r.attempt_id,
                    agent_id: r.agent_id,
                    success: r.success,
                    description: r.description,
                    next_distribute_at: r.next_distribute_at,
                }
            }
            "cc_renewal" => {
                let r: Renewal = parse(a, data)?;
                CcAction::Renewal {
                    attempt_id: r.attempt_id,
                    sec: r.renewal_sec,
                }
            }
            "cc_queue_board" => CcAction::Board {
                queue_id: parse::<Board>(a, data)?.queue_id,
            },
            // The workspace polls it; there are no offline queues here.
            "cc_fetch_offline_members" => {
                let mut m = Map::new();
                m.insert("items".into(), Value::Array(Vec::new()));
                m.insert("next".into(), false.into());
                return Ok(Some(m));
            }
            other => {
                return Err(ApiError::new(
                    501,
                    "app.cc.not_implemented",
                    format!("{other} is not supported by this server"),
                ))
            }
        };
        self.cc(s.domain_id, Some(s.user_id), act).await
    }
}

impl ContactCenter for Telephony {
    fn ws_action(
        &self,
        session: Arc<Session>,
        action: String,
        data: Map<String, Value>,
    ) -> BoxFuture<'_, ApiResult<Option<Map<String, Value>>>> {
        Box::pin(self.ws_cc(session, action, data))
    }

    fn set_status(
        &self,
        domain_id: i64,
        agent_id: i64,
        change: AgentStatusChange,
    ) -> BoxFuture<'_, ApiResult<()>> {
        Box::pin(async move {
            let action = CcAction::Status { agent_id, change };
            self.cc(domain_id, None, action).await.map(|_| ())
        })
    }

    fn changed(&self, domain_id: i64) {
        let r = &self.inner.cc_reload;
        r.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain_id);
        r.requested.fetch_add(1, Ordering::SeqCst);
        r.wake.notify_one();
    }

    fn live_agent(&self, domain_id: i64, agent_id: i64) -> Option<LiveAgent> {
        let live = self
            .inner
            .live_agents
            .read()
            .unwrap_or_else(|e| e.into_inner());
        live.get(&(domain_id, agent_id)).cloned()
    }
}
