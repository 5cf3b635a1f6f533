//! The contact center inside the runtime: the sans-IO queue engine (`switchboard_cc`) beside
//! the call engine. Queue notes of the call engine become its inputs; its offers become agent
//! legs, its events go to the agents' sockets, its records to the store (in order, on one task).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use switchboard_api::cc::LiveAgent;
use switchboard_api::error::ApiError;
use switchboard_api::ws::hub::{HubEvent, Target as HubTarget, Topic};
use switchboard_calls::flow::{Endpoint, Step};
use switchboard_calls::{
    CallCommand, HangupCause, Input as CallInput, LegId, Party, QueueNote, QueueTag,
};
use switchboard_cc as cc;
use switchboard_store::{CcDirectory, Store};
use tokio::sync::mpsc;

use super::calls::{contact_ref, wall_ms};
use super::{Command, Runtime};
use crate::lookup;

/// What the store keeps of the contact center's moves, written in order.
pub(crate) enum CcWrite {
    Status {
        domain_id: i64,
        agent_id: i64,
        status: String,
        payload: Option<String>,
        at: i64,
    },
    Attempt(Box<switchboard_store::AttemptRow>),
    Member(Box<switchboard_store::MemberUpdate>),
}

/// A dialer's call waiting for its gateway route.
#[derive(Debug)]
pub(crate) struct DialOrder {
    attempt_id: i64,
    domain_id: i64,
    member_leg: String,
    destination: String,
    display: String,
    timeout: Duration,
    /// The number is on the queue's DNC list now: it is not called.
    blocked: bool,
}

/// Live agent states for REST reads, shared with the API side.
pub(crate) type LiveAgents = Arc<RwLock<HashMap<(i64, i64), LiveAgent>>>;

/// An agent as the runtime needs it to ring them.
#[derive(Debug, Clone)]
struct AgentInfo {
    domain_id: i64,
    user_id: i64,
    extension: String,
    name: String,
}

/// A caller in a queue.
struct Member {
    attempt_id: i64,
    /// The schema's steps after `joinQueue`.
    after: Vec<Step>,
}

/// An action from the WebSocket API or REST, checked against the asking user in the runtime.
#[derive(Debug, Clone)]
pub(crate) enum CcAction {
    Session,
    Tasks {
        agent_id: i64,
    },
    Status {
        agent_id: i64,
        change: switchboard_api::cc::AgentStatusChange,
    },
    Waiting {
        agent_id: i64,
        channel: String,
    },
    Reporting {
        attempt_id: i64,
        agent_id: Option<i64>,
        success: bool,
        description: Option<String>,
        next_distribute_at: Option<i64>,
    },
    Renewal {
        attempt_id: i64,
        sec: u32,
    },
    Board {
        queue_id: Option<i64>,
    },
}

pub(super) struct Cc {
    engine: cc::Engine,
    agents: HashMap<i64, AgentInfo>,
    queue_names: HashMap<i64, String>,
    members: HashMap<LegId, Member>,
    /// Queue types by id (the agent leg's `queue_type`).
    queue_kinds: HashMap<i64, i32>,
    /// The stored numbers of members handed to the engine (their fields the engine does not
    /// keep), until their update is written.
    member_comms: HashMap<i64, Vec<switchboard_store::CommunicationRow>>,
    agent_legs: HashMap<LegId, i64>,
    /// The steps after `joinQueue` of the lookup being resolved, for the `Joined` it causes.
    next_join: Option<Vec<Step>>,
    writes: mpsc::UnboundedSender<CcWrite>,
    live: LiveAgents,
    /// Domains whose queue board changed since the last push, and when the next push is due.
    board_dirty: HashSet<i64>,
    board_due: Option<Instant>,
}

/// At most this often a domain's board goes to its watchers: a busy center changes it at every
/// event, a person reads it a few times a second at most.
const BOARD_EVERY: Duration = Duration::from_millis(500);

impl Cc {
    pub(super) fn new(
        app_id: String,
        first_attempt_id: i64,
        writes: mpsc::UnboundedSender<CcWrite>,
        live: LiveAgents,
    ) -> Self {
        let mut engine = cc::Engine::new(cc::Config {
            app_id,
            ids: cc::IdSource::Random,
            first_attempt_id,
        });
        // Predictive queues (type 5) are paced by our controller, progressive ones (type 4)
        // keep the engine's one call per free agent. The defaults are Webitel's predictive
        // knobs (target 2.5 %, guard 3 %); the campaign day of the UK figure is UTC's.
        match switchboard_dialer::pacer_factory(switchboard_dialer::Config::default()) {
            Ok(f) => engine.set_pacer_factory(f),
            Err(e) => tracing::warn!("predictive pacer not installed: {e}"),
        }
        Cc {
            engine,
            agents: HashMap::new(),
            queue_names: HashMap::new(),
            members: HashMap::new(),
            queue_kinds: HashMap::new(),
            member_comms: HashMap::new(),
            agent_legs: HashMap::new(),
            next_join: None,
            writes,
            live,
            board_dirty: HashSet::new(),
            board_due: None,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [self.engine.poll_timeout(), self.board_due]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn expect_join(&mut self, after: Vec<Step>) {
        self.next_join = Some(after);
    }

    /// A queue's name, for a schema that gives only its id.
    pub(super) fn queue_name(&self, queue_id: i64) -> String {
        self.queue_names.get(&queue_id).cloned().unwrap_or_default()
    }

    /// The `task` and `queue` of a live agent leg, for `subscribe_call` items.
    pub(super) fn leg_task(&self, leg: &str) -> Option<(Value, Value)> {
        let task = self.engine.leg_task_json(leg)?;
        let queue_id = task.get("queue_id").and_then(Value::as_i64).unwrap_or(0);
        let queue = json!({
            "id": queue_id.to_string(),
            "name": task.get("queue_name").cloned().unwrap_or(Value::Null),
            "queue_id": queue_id.to_string(),
            "queue_name": task.get("queue_name").cloned().unwrap_or(Value::Null),
            "attempt_id": task.get("attempt_id").cloned().unwrap_or(Value::Null),
            "queue_type": "inbound",
            "member_id": "",
            "reporting": "true",
        });
        Some((task, queue))
    }
}

fn directory(dir: CcDirectory) -> cc::Directory {
    cc::Directory {
        agents: dir
            .agents
            .into_iter()
            .map(|a| cc::AgentConf {
                id: a.id,
                user_id: a.user_id,
                name: a.name,
                extension: a.extension,
                team_id: a.team_id,
                skills: a
                    .skills
                    .into_iter()
                    .map(|s| cc::AgentSkill {
                        skill_id: s.skill_id,
                        capacity: s.capacity,
                        enabled: s.enabled,
                    })
                    .collect(),
                status: a.status,
                status_payload: a.status_payload,
                last_status_change: a.last_status_change,
            })
            .collect(),
        teams: dir
            .teams
            .into_iter()
            .map(|t| cc::TeamConf {
                id: t.id,
                name: t.name,
                strategy: cc::TeamStrategy::parse(&t.strategy),
                max_no_answer: t.max_no_answer.max(0) as u32,
                no_answer_delay_time: t.no_answer_delay_time.max(0) as u32,
                wrap_up_time: t.wrap_up_time.max(0) as u32,
                call_timeout: t.call_timeout.max(0) as u32,
            })
            .collect(),
        queues: dir
            .queues
            .into_iter()
            .map(|q| cc::QueueConf {
                id: q.id,
                max_wait_time: q
                    .payload
                    .get("max_wait_time")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as u32,
                sticky_agent_sec: q
                    .payload
                    .get("sticky_agent_sec")
                    .and_then(Value::as_u64)
                    .unwrap_or(30) as u32,
                name: q.name,
                kind: q.kind,
                enabled: q.enabled,
                priority: q.priority,
                strategy: cc::QueueStrategy::parse(&q.strategy),
                team_id: q.team_id,
                skills: q
                    .skills
                    .into_iter()
                    .map(|s| cc::QueueSkill {
                        skill_id: s.skill_id,
                        lvl: s.lvl,
                        min_capacity: s.min_capacity,
                        max_capacity: s.max_capacity,
                        enabled: s.enabled,
                    })
                    .collect(),
                dialer: dialer_conf(&q.payload),
                processing: q.processing,
                processing_sec: q.processing_sec.max(0) as u32,
                processing_renewal_sec: q.processing_renewal_sec.max(0) as u32,
                sticky_agent: q.sticky_agent,
                variables: q.variables,
            })
            .collect(),
    }
}

/// The dialer's payload keys (CC-NOTES 2.3); numbers may come as JSON numbers or strings.
fn dialer_conf(p: &Value) -> cc::DialerConf {
    let int = |k: &str| -> Option<i64> {
        match p.get(k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let d = cc::DialerConf::default();
    let sec =
        |k: &str, default: u32| int(k).map_or(default, |v| v.clamp(0, i64::from(u32::MAX)) as u32);
    cc::DialerConf {
        max_attempts: sec("max_attempts", d.max_attempts),
        wait_between_retries: sec("wait_between_retries", d.wait_between_retries),
        originate_timeout: sec("originate_timeout", d.originate_timeout),
        max_calls: int("max_calls")
            .filter(|v| *v >= 0)
            .map(|v| v.min(i64::from(u32::MAX)) as u32),
        retry_abandoned: p
            .get("retry_abandoned")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_wait_time: sec("max_wait_time", 0),
        gateway_id: int("gateway_id").filter(|g| *g > 0),
        display: p
            .get("display")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        hours: d.hours,
    }
}

fn member_conf(m: switchboard_store::MemberRow) -> cc::MemberConf {
    cc::MemberConf {
        id: m.id,
        name: m.name,
        priority: m.priority,
        timezone: m.timezone,
        ready_at: m.ready_at,
        attempts: m.attempts.max(0) as u32,
        communications: m
            .communications
            .into_iter()
            .map(|c| cc::CommConf {
                destination: c.destination,
                priority: c.priority,
                display: c.display,
                attempts: c.attempts.max(0) as u32,
                stopped: c.state != 0 || c.stop_at.is_some(),
                last_cause: c.last_cause,
                last_activity_at: c.last_activity_at,
            })
            .collect(),
    }
}

/// The engine's numbers back into the stored ones (fields the engine does not keep stay).
fn member_update(
    r: cc::MemberRecord,
    stored: &[switchboard_store::CommunicationRow],
) -> switchboard_store::MemberUpdate {
    let communications = r
        .communications
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut row = stored.get(i).cloned().unwrap_or_default();
            row.destination = c.destination.clone();
            row.attempts = c.attempts.min(i32::MAX as u32) as i32;
            row.last_cause = c.last_cause.clone();
            row.last_activity_at = c.last_activity_at;
            row
        })
        .collect();
    switchboard_store::MemberUpdate {
        domain_id: r.domain_id,
        id: r.member_id,
        attempts: r.attempts.min(i32::MAX as u32) as i32,
        ready_at: r.ready_at,
        stop_cause: r.stop_cause,
        stop_at: r.stop_at,
        last_activity_at: r.last_activity_at,
        communications,
    }
}

fn attempt_row(a: cc::AttemptRecord) -> switchboard_store::AttemptRow {
    switchboard_store::AttemptRow {
        id: a.id,
        domain_id: a.domain_id,
        queue_id: a.queue_id,
        queue_name: a.queue_name,
        team_id: a.team_id,
        agent_id: a.agent_id,
        agent_name: a.agent_name,
        member_call_id: a.member_leg,
        agent_call_id: a.agent_leg,
        destination: a.number,
        joined_at: a.joined_at.unwrap_or_default(),
        offering_at: a.offering_at,
        bridged_at: a.bridged_at,
        leaving_at: a.leaving_at,
        reporting_at: a.reporting_at,
        result: a.result,
        description: a.description,
        member_name: a.member_id.map(|_| a.member_name.clone()),
        member_id: a.member_id,
    }
}

fn cc_error(e: cc::CcError) -> ApiError {
    ApiError::new(e.status_code(), e.id(), e.to_string())
}

fn forbidden() -> ApiError {
    ApiError::new(
        403,
        "api.context.permissions.app_error",
        "this agent is not yours",
    )
}

/// Writes the contact center's records in the order they happened.
pub(crate) async fn write(store: Arc<Store>, mut rx: mpsc::UnboundedReceiver<CcWrite>) {
    while let Some(w) = rx.recv().await {
        let r = match &w {
            CcWrite::Status {
                domain_id,
                agent_id,
                status,
                payload,
                at,
            } => {
                store
                    .set_agent_status(*domain_id, *agent_id, status, payload.as_deref(), *at)
                    .await
            }
            CcWrite::Attempt(a) => store.upsert_attempt(a).await,
            CcWrite::Member(m) => store.apply_member_update(m).await,
        };
        if let Err(e) = r {
            tracing::error!("contact-center record not stored: {e}");
        }
    }
}

impl Runtime {
    /// A domain's agents, teams and queues as the store has them now.
    pub(super) fn on_cc_directory(&mut self, domain_id: i64, dir: CcDirectory, now: Instant) {
        for a in &dir.agents {
            self.cc.agents.insert(
                a.id,
                AgentInfo {
                    domain_id,
                    user_id: a.user_id,
                    extension: a.extension.clone(),
                    name: a.name.clone(),
                },
            );
        }
        for q in &dir.queues {
            self.cc.queue_names.insert(q.id, q.name.clone());
            self.cc.queue_kinds.insert(q.id, q.kind);
        }
        self.cc
            .engine
            .set_directory(domain_id, directory(dir), now, wall_ms());
        self.drain_cc(now);
    }

    /// A dialer queue's callable members came from the store.
    pub(super) fn on_cc_members(
        &mut self,
        queue_id: i64,
        rows: Vec<switchboard_store::MemberRow>,
        now: Instant,
    ) {
        for r in &rows {
            self.cc.member_comms.insert(r.id, r.communications.clone());
        }
        let members = rows.into_iter().map(member_conf).collect();
        if let Err(e) = self.cc_input(cc::Input::Members { queue_id, members }, now) {
            tracing::debug!("dialer members: {e}");
        }
    }

    /// A dialer's gateway route is known: the customer leg goes out (or the call failed).
    pub(super) fn on_cc_dial_route(
        &mut self,
        dial: DialOrder,
        route: Result<lookup::GatewayDial, String>,
        now: Instant,
    ) {
        let failed = |rt: &mut Self, cause: &str| {
            let input = cc::Input::DialFailed {
                attempt_id: dial.attempt_id,
                cause: cause.to_string(),
            };
            if let Err(e) = rt.cc_input(input, now) {
                tracing::debug!("dial failure: {e}");
            }
        };
        if dial.blocked {
            return failed(self, cc::DIAL_BLOCKED);
        }
        let route = match route {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(attempt = dial.attempt_id, "dialer call has no route: {e}");
                return failed(self, "NO_ROUTE_DESTINATION");
            }
        };
        let contacts = match self.gateway_target(dial.domain_id, vec![route]) {
            switchboard_calls::Target::User { contacts, .. } => contacts,
            _ => Vec::new(),
        };
        if contacts.is_empty() {
            return failed(self, "NETWORK_OUT_OF_ORDER");
        }
        let display = if dial.display.is_empty() {
            Party::number(dial.domain_id, dial.destination.clone())
        } else {
            Party::number(dial.domain_id, dial.display.clone())
        };
        let cmd = CallCommand::DialMember {
            leg: LegId(dial.member_leg.clone()),
            member: Party::number(dial.domain_id, dial.destination.clone()),
            display,
            contacts,
            timeout: dial.timeout,
        };
        if let Err(e) = self.engine.handle(CallInput::Command(cmd), now, wall_ms()) {
            tracing::warn!("dialer call refused: {e}");
            return failed(self, "DESTINATION_OUT_OF_ORDER");
        }
        self.drain_engine(now);
    }

    pub(super) fn on_cc_timeout(&mut self, now: Instant) {
        if self.cc.engine.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.cc_input(cc::Input::Timeout, now);
        }
        if self.cc.board_due.is_some_and(|t| t <= now) {
            self.cc.board_due = None;
            for domain_id in std::mem::take(&mut self.cc.board_dirty) {
                let data = self.cc.engine.board(domain_id, None, wall_ms());
                self.hub.publish(HubEvent {
                    domain_id,
                    topic: Topic::Board,
                    target: HubTarget::Domain,
                    event: "cc_queue_board".into(),
                    data,
                    user_id: None,
                });
            }
        }
    }

    fn cc_input(&mut self, input: cc::Input, now: Instant) -> Result<cc::Reply, cc::CcError> {
        let r = self.cc.engine.handle(input, now, wall_ms());
        self.drain_cc(now);
        r
    }

    /// What the call engine tells about a queue call.
    pub(super) fn on_queue_note(&mut self, note: QueueNote, now: Instant) {
        let input = match note {
            QueueNote::Joined {
                member,
                domain_id,
                queue_id,
                number,
                name,
            } => {
                let after = self.cc.next_join.take().unwrap_or_default();
                let joined = self.cc_input(
                    cc::Input::Join {
                        domain_id,
                        queue_id,
                        member_leg: member.0.clone(),
                        number,
                        name,
                        priority: 0,
                    },
                    now,
                );
                match joined {
                    Ok(cc::Reply::Joined { attempt_id }) => {
                        self.cc.members.insert(member, Member { attempt_id, after });
                    }
                    Ok(_) | Err(_) => {
                        if let Err(e) = &joined {
                            tracing::warn!(queue = queue_id, "caller not queued: {e}");
                        }
                        self.leave_queue(&member, &after, now);
                    }
                }
                return;
            }
            QueueNote::OfferAnswered { agent_leg, .. } => {
                let Some(&attempt_id) = self.cc.agent_legs.get(&agent_leg) else {
                    return;
                };
                if let Err(e) = self.cc_input(cc::Input::OfferAnswered { attempt_id }, now) {
                    // The offer was withdrawn while the agent picked up.
                    tracing::debug!("late answer hung up: {e}");
                    let cmd = CallCommand::Hangup {
                        leg: agent_leg,
                        cause: Some(HangupCause::OriginatorCancel),
                    };
                    let _ = self.engine.handle(CallInput::Command(cmd), now, wall_ms());
                    self.drain_engine(now);
                }
                return;
            }
            QueueNote::OfferFailed { agent_leg, .. } => {
                let Some(attempt_id) = self.cc.agent_legs.remove(&agent_leg) else {
                    return;
                };
                cc::Input::OfferFailed { attempt_id }
            }
            QueueNote::MemberLeft { member } => {
                let Some(m) = self.cc.members.remove(&member) else {
                    return;
                };
                cc::Input::MemberLeft {
                    attempt_id: m.attempt_id,
                }
            }
            QueueNote::MemberAnswered { member } => {
                let Some(attempt_id) = self.cc.engine.attempt_of_leg(&member.0) else {
                    return;
                };
                self.cc.members.insert(
                    member,
                    Member {
                        attempt_id,
                        after: Vec::new(),
                    },
                );
                cc::Input::MemberAnswered { attempt_id }
            }
            QueueNote::DialFailed { member, cause, .. } => {
                let Some(attempt_id) = self.cc.engine.attempt_of_leg(&member.0) else {
                    return;
                };
                cc::Input::DialFailed {
                    attempt_id,
                    cause: cause.as_str().to_string(),
                }
            }
            QueueNote::Ended { member, agent_leg } => {
                self.cc.agent_legs.remove(&agent_leg);
                let Some(m) = self.cc.members.remove(&member) else {
                    return;
                };
                cc::Input::AgentLeft {
                    attempt_id: m.attempt_id,
                }
            }
        };
        if let Err(e) = self.cc_input(input, now) {
            tracing::debug!("contact center: {e}");
        }
    }

    /// The caller leaves its queue: the schema's next step, or a hangup.
    fn leave_queue(&mut self, member: &LegId, after: &[Step], now: Instant) {
        let mut destination = None;
        let mut cause = None;
        for step in after {
            match step {
                Step::Hangup(c) => {
                    cause = c.as_deref().map(HangupCause::parse);
                    break;
                }
                Step::Bridge(b) => {
                    destination = b.endpoints.iter().find_map(|e| match e {
                        Endpoint::User {
                            extension: Some(x), ..
                        } => Some(x.clone()),
                        Endpoint::Gateway { dial_string, .. } => Some(dial_string.clone()),
                        _ => None,
                    });
                    break;
                }
                _ => {}
            }
        }
        let cmd = CallCommand::QueueLeave {
            member: member.clone(),
            destination,
            cause,
        };
        if let Err(e) = self.engine.handle(CallInput::Command(cmd), now, wall_ms()) {
            tracing::debug!("queue leave: {e}");
        }
        self.drain_engine(now);
    }

    fn drain_cc(&mut self, now: Instant) {
        let mut touched = Vec::new();
        while let Some(out) = self.cc.engine.poll_output() {
            match out {
                cc::Output::Offer {
                    attempt_id,
                    domain_id,
                    queue_id,
                    queue_name,
                    agent_id,
                    member_leg,
                    agent_leg,
                    timeout,
                    has_reporting,
                    ..
                } => {
                    let agent_leg = LegId(agent_leg);
                    let Some(info) = self.cc.agents.get(&agent_id).cloned() else {
                        continue;
                    };
                    let contacts = match self.calls.domains.get(&domain_id) {
                        Some(domain) => {
                            let aor = format!("sip:{}@{}", info.extension, domain);
                            self.registrar
                                .lookup(&aor, now)
                                .map(|b| contact_ref(b.flow, &b.source, &b.contact.uri))
                                .collect()
                        }
                        None => Vec::new(),
                    };
                    self.cc.agent_legs.insert(agent_leg.clone(), attempt_id);
                    let cmd = CallCommand::QueueOffer {
                        member: LegId(member_leg),
                        agent_leg: agent_leg.clone(),
                        agent: Party::user(info.user_id, domain_id, info.extension, info.name),
                        contacts,
                        timeout,
                        tag: QueueTag {
                            attempt_id,
                            queue_id,
                            queue_name,
                            queue_type: self
                                .cc
                                .queue_kinds
                                .get(&queue_id)
                                .and_then(|k| usize::try_from(*k).ok())
                                .and_then(|k| switchboard_model::cc::QUEUE_TYPES.get(k))
                                .copied()
                                .unwrap_or("inbound")
                                .into(),
                            has_reporting,
                        },
                    };
                    if let Err(e) = self.engine.handle(CallInput::Command(cmd), now, wall_ms()) {
                        tracing::debug!("queue offer refused: {e}");
                        self.cc.agent_legs.remove(&agent_leg);
                        let _ = self.cc.engine.handle(
                            cc::Input::OfferFailed { attempt_id },
                            now,
                            wall_ms(),
                        );
                    }
                    self.drain_engine(now);
                }
                cc::Output::CancelOffer { agent_leg, .. } => {
                    let leg = LegId(agent_leg);
                    self.cc.agent_legs.remove(&leg);
                    let cmd = CallCommand::Hangup {
                        leg,
                        cause: Some(HangupCause::OriginatorCancel),
                    };
                    let _ = self.engine.handle(CallInput::Command(cmd), now, wall_ms());
                    self.drain_engine(now);
                }
                cc::Output::Leave { member_leg, .. } => {
                    let leg = LegId(member_leg);
                    let after = self.cc.members.remove(&leg).map(|m| m.after);
                    if self.engine.queued(&leg) {
                        self.leave_queue(&leg, &after.unwrap_or_default(), now);
                    } else {
                        // A dialer's customer still ringing (its queue went away).
                        let cmd = CallCommand::Hangup {
                            leg,
                            cause: Some(HangupCause::OriginatorCancel),
                        };
                        let _ = self.engine.handle(CallInput::Command(cmd), now, wall_ms());
                        self.drain_engine(now);
                    }
                }
                cc::Output::LoadMembers {
                    domain_id,
                    queue_id,
                    limit,
                } => {
                    let (store, tx) = (self.store.clone(), self.commands.clone());
                    tokio::spawn(async move {
                        let limit = i64::try_from(limit).unwrap_or(50);
                        let now = switchboard_store::now_ms();
                        match store.ready_members(domain_id, queue_id, now, limit).await {
                            Ok(members) => {
                                let _ = tx.send(Command::CcMembers { queue_id, members }).await;
                            }
                            Err(e) => tracing::error!(queue_id, "dialer members not read: {e}"),
                        }
                    });
                }
                cc::Output::Dial {
                    attempt_id,
                    domain_id,
                    queue_id,
                    destination,
                    display,
                    gateway_id,
                    member_leg,
                    timeout,
                    ..
                } => {
                    let mut dial = DialOrder {
                        attempt_id,
                        domain_id,
                        member_leg,
                        destination: destination.clone(),
                        display,
                        timeout,
                        blocked: false,
                    };
                    let (store, tx) = (self.store.clone(), self.commands.clone());
                    tokio::spawn(async move {
                        // Checked again now: the number may have joined the list since the
                        // member was read.
                        // A list that cannot be read is a failed call, never a call.
                        let now = switchboard_store::now_ms();
                        let numbers = [destination.clone()];
                        let route =
                            match store.dnc_blocked(domain_id, queue_id, &numbers, now).await {
                                Err(e) => Err(format!("DNC list not read: {e}")),
                                Ok(barred) if !barred.is_empty() => {
                                    dial.blocked = true;
                                    Err("the number is on the queue's DNC list".into())
                                }
                                Ok(_) => {
                                    match lookup::gateway_dial(
                                        &store,
                                        domain_id,
                                        gateway_id,
                                        destination,
                                    )
                                    .await
                                    {
                                        Ok(Some(d)) => Ok(d),
                                        Ok(None) => Err(format!(
                                            "gateway {gateway_id} is disabled or unreachable"
                                        )),
                                        Err(e) => Err(e.to_string()),
                                    }
                                }
                            };
                        let dial = Box::new(dial);
                        let _ = tx.send(Command::CcDialRoute { dial, route }).await;
                    });
                }
                cc::Output::MemberUpdate(r) => {
                    let stored = self
                        .cc
                        .member_comms
                        .remove(&r.member_id)
                        .unwrap_or_default();
                    if r.stop_cause.is_none() {
                        self.cc.member_comms.insert(r.member_id, stored.clone());
                    }
                    let _ = self
                        .cc
                        .writes
                        .send(CcWrite::Member(Box::new(member_update(r, &stored))));
                }
                cc::Output::Event {
                    domain_id,
                    user_id,
                    kind,
                    data,
                } => {
                    let event = match kind {
                        cc::EventKind::AgentStatus => "agent_status",
                        cc::EventKind::Channel => "channel",
                    };
                    // Channel events name no agent at the top: the user does.
                    if let Some(a) = self.cc.engine.agent_of_user(domain_id, user_id) {
                        touched.push(a);
                    }
                    self.hub.publish(HubEvent {
                        domain_id,
                        topic: Topic::Agent,
                        target: HubTarget::Users(vec![user_id]),
                        event: event.into(),
                        data,
                        user_id: Some(user_id),
                    });
                }
                cc::Output::AgentStatus {
                    domain_id,
                    agent_id,
                    status,
                    payload,
                    at,
                } => {
                    touched.push(agent_id);
                    let _ = self.cc.writes.send(CcWrite::Status {
                        domain_id,
                        agent_id,
                        status,
                        payload,
                        at,
                    });
                }
                cc::Output::Attempt(a) => {
                    let _ = self
                        .cc
                        .writes
                        .send(CcWrite::Attempt(Box::new(attempt_row(a))));
                }
                cc::Output::BoardChanged { domain_id } => {
                    self.cc.board_dirty.insert(domain_id);
                    self.cc.board_due.get_or_insert(now + BOARD_EVERY);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        if !touched.is_empty() {
            let mut live = self.cc.live.write().unwrap_or_else(|e| e.into_inner());
            for id in touched {
                if let Some(v) = self.cc.engine.agent(id) {
                    live.insert(
                        (v.domain_id, id),
                        LiveAgent {
                            status: v.status,
                            status_payload: v.status_payload,
                            last_status_change: v.last_status_change,
                            channels: v.channels,
                        },
                    );
                }
            }
        }
    }

    /// Whether the user behind an agent has a live registration (web or SIP).
    fn agent_registered(&self, info: &AgentInfo, now: Instant) -> bool {
        let Some(domain) = self.calls.domains.get(&info.domain_id) else {
            return false;
        };
        let aor = format!("sip:{}@{}", info.extension, domain);
        self.registrar.lookup(&aor, now).next().is_some()
    }

    /// One contact-center action for `user_id` (`None`: an administrator over REST).
    pub(super) fn on_cc_action(
        &mut self,
        domain_id: i64,
        user_id: Option<i64>,
        action: CcAction,
        now: Instant,
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let own = |cc: &Cc, agent_id: i64| -> Result<AgentInfo, ApiError> {
            let info = cc
                .agents
                .get(&agent_id)
                .filter(|a| a.domain_id == domain_id)
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "app.agent.get.not_found",
                        format!("no agent {agent_id}"),
                    )
                })?;
            if user_id.is_some_and(|u| u != info.user_id) {
                return Err(forbidden());
            }
            Ok(info.clone())
        };
        let obj = |v: Value| match v {
            Value::Object(m) => Some(m),
            _ => None,
        };
        let attempt_owner = |cc: &Cc, attempt_id: i64| -> Result<(), ApiError> {
            let Some(u) = user_id else { return Ok(()) };
            let agent = cc.engine.agent_of_user(domain_id, u);
            match cc.engine.attempt_agent(attempt_id) {
                Some(a) if a.is_some() && a == agent => Ok(()),
                Some(_) => Err(forbidden()),
                None => Err(ApiError::new(
                    404,
                    "app.attempt.get.not_found",
                    format!("no active attempt {attempt_id}"),
                )),
            }
        };
        let wall = wall_ms();
        match action {
            CcAction::Session => {
                let Some(agent_id) =
                    user_id.and_then(|u| self.cc.engine.agent_of_user(domain_id, u))
                else {
                    return Err(ApiError::new(
                        404,
                        "User.valid.agent_id",
                        "this user is not an agent",
                    ));
                };
                Ok(self.cc.engine.session_json(agent_id, wall).and_then(obj))
            }
            CcAction::Tasks { agent_id } => {
                own(&self.cc, agent_id)?;
                let mut m = Map::new();
                m.insert(
                    "items".into(),
                    Value::Array(self.cc.engine.tasks_json(agent_id, wall)),
                );
                Ok(Some(m))
            }
            CcAction::Status { agent_id, change } => {
                let info = own(&self.cc, agent_id)?;
                let input = match change {
                    switchboard_api::cc::AgentStatusChange::Online { on_demand } => {
                        if !self.agent_registered(&info, now) {
                            return Err(ApiError::new(
                                400,
                                "store.sql_agent.set_online.app_error",
                                "not found: sip, web or pn",
                            ));
                        }
                        cc::Input::Online {
                            agent_id,
                            on_demand,
                        }
                    }
                    switchboard_api::cc::AgentStatusChange::Pause { payload, comment } => {
                        cc::Input::Pause {
                            agent_id,
                            payload,
                            comment,
                        }
                    }
                    switchboard_api::cc::AgentStatusChange::Offline => {
                        cc::Input::Offline { agent_id }
                    }
                };
                self.cc_input(input, now).map_err(cc_error)?;
                Ok(Some(Map::new()))
            }
            CcAction::Waiting { agent_id, channel } => {
                own(&self.cc, agent_id)?;
                self.cc_input(cc::Input::Waiting { agent_id, channel }, now)
                    .map_err(cc_error)?;
                let mut m = Map::new();
                m.insert("timestamp".into(), 0.into());
                Ok(Some(m))
            }
            CcAction::Reporting {
                attempt_id,
                agent_id,
                success,
                description,
                next_distribute_at,
            } => {
                attempt_owner(&self.cc, attempt_id)?;
                let input = cc::Input::Reporting {
                    attempt_id,
                    agent_id,
                    success,
                    description,
                    next_distribute_at,
                };
                self.cc_input(input, now).map_err(cc_error)?;
                Ok(Some(Map::new()))
            }
            CcAction::Renewal { attempt_id, sec } => {
                attempt_owner(&self.cc, attempt_id)?;
                self.cc_input(cc::Input::Renewal { attempt_id, sec }, now)
                    .map_err(cc_error)?;
                Ok(Some(Map::new()))
            }
            CcAction::Board { queue_id } => {
                Ok(obj(self.cc.engine.board(domain_id, queue_id, wall)))
            }
        }
    }
}
