//! The engine: inputs move agents and attempts; timers; the outputs queue.

use crate::error::CcError;
use crate::state::{
    AState, Agent, Attempt, CallChannel, ChanState, Joining, Queue, Status, TeamRules, TimerKey,
    CHANNELS,
};
use crate::types::{AgentView, AttemptRecord, Config, EventKind, IdSource, Input, Output, Reply};
use crate::wire;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// The engine's own offer deadline is this much after the ring time it gave the runtime, so
/// the runtime's `OfferFailed` normally comes first and a lost one cannot wedge an agent.
const OFFER_GRACE: Duration = Duration::from_secs(2);
/// Finished attempt ids remembered so late leg reports are ignored instead of refused.
const TOMBSTONES: usize = 65_536;
/// The store's default `processing_sec`, used when a queue says 0.
const DEFAULT_PROCESSING_SEC: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The call channel's missed / wrap_time / processing deadline.
    Channel(i64),
    /// An attempt's `max_wait_time`.
    Wait(i64),
    /// An offer's ring deadline.
    Offer(i64),
    /// The dialers' next round.
    Tick,
}

#[derive(Debug, Default)]
pub(crate) struct Domain {
    pub(crate) teams: BTreeMap<i64, crate::types::TeamConf>,
    /// Distribution order: priority desc, then id.
    pub(crate) queues: Vec<i64>,
    pub(crate) agents: BTreeSet<i64>,
}

/// A live attempt, or one that finished recently (late reports about it are harmless).
enum Found<'a> {
    Live(&'a Attempt),
    Finished,
}

/// The sans-IO contact center. See the crate docs for the driving loop.
#[derive(Debug)]
pub struct Engine {
    pub(crate) cfg: Config,
    id_state: u64,
    rand_state: u64,
    pub(crate) next_attempt: i64,
    pub(crate) next_seq: i64,
    next_offer: i64,
    next_timer: u64,
    epoch: Option<Instant>,
    now: Option<Instant>,
    pub(crate) now_ms: i64,
    pub(crate) domains: HashMap<i64, Domain>,
    pub(crate) agents: HashMap<i64, Agent>,
    pub(crate) queues: HashMap<i64, Queue>,
    pub(crate) attempts: HashMap<i64, Attempt>,
    /// Member and agent legs of live attempts.
    pub(crate) legs: HashMap<String, i64>,
    pub(crate) users: HashMap<(i64, i64), i64>,
    timers: BTreeMap<TimerKey, Timer>,
    /// queue → caller number → (agent, until).
    pub(crate) sticky: HashMap<i64, HashMap<String, (i64, Instant)>>,
    sticky_expiry: BTreeMap<TimerKey, (i64, String)>,
    finished: VecDeque<i64>,
    finished_set: HashSet<i64>,
    pub(crate) out: VecDeque<Output>,
    pub(crate) dirty: BTreeSet<i64>,
    /// Dialer queues' members, pacers and counters.
    pub(crate) dialers: HashMap<i64, crate::outbound::Dialer>,
    pub(crate) pacers: crate::outbound::Pacers,
    pub(crate) tz_cache: HashMap<String, Option<jiff::tz::TimeZone>>,
    /// Members the engine called or moved: epoch ms before which a load's copy is stale
    /// (`i64::MAX` while calling, or once stopped).
    pub(crate) member_hold: HashMap<i64, i64>,
    pub(crate) tick: Option<TimerKey>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

impl Engine {
    pub fn new(cfg: Config) -> Self {
        let seed = match cfg.ids {
            IdSource::Random => 0,
            IdSource::Seeded(s) => s,
        };
        Engine {
            next_attempt: cfg.first_attempt_id,
            cfg,
            id_state: seed,
            rand_state: seed ^ 0x5DEE_CE66_D1CE_5EED,
            next_seq: 1,
            next_offer: 1,
            next_timer: 0,
            epoch: None,
            now: None,
            now_ms: 0,
            domains: HashMap::new(),
            agents: HashMap::new(),
            queues: HashMap::new(),
            attempts: HashMap::new(),
            legs: HashMap::new(),
            users: HashMap::new(),
            timers: BTreeMap::new(),
            sticky: HashMap::new(),
            sticky_expiry: BTreeMap::new(),
            finished: VecDeque::new(),
            finished_set: HashSet::new(),
            out: VecDeque::new(),
            dirty: BTreeSet::new(),
            dialers: HashMap::new(),
            pacers: crate::outbound::Pacers(None),
            tz_cache: HashMap::new(),
            member_hold: HashMap::new(),
            tick: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Applies one input. `now` drives timers; `wall_ms` (epoch ms at `now`) stamps events and
    /// records. Outputs queue up for [`Engine::poll_output`]; on `Err` nothing changed.
    ///
    /// Late reports are harmless: `OfferFailed`/`MemberLeft`/`AgentLeft` for an attempt that
    /// already moved on (or finished) are `Ok` and change nothing. A late `OfferAnswered`
    /// (after `CancelOffer`) is an error: the runtime must hang that agent leg up.
    pub fn handle(&mut self, input: Input, now: Instant, wall_ms: i64) -> Result<Reply, CcError> {
        self.clock(now, wall_ms);
        let r = self.apply(input);
        if r.is_ok() {
            self.settle();
        }
        r
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to feed `Input::Timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    pub fn agent_of_user(&self, domain_id: i64, user_id: i64) -> Option<i64> {
        self.users.get(&(domain_id, user_id)).copied()
    }

    pub fn agent(&self, agent_id: i64) -> Option<AgentView> {
        let a = self.agents.get(&agent_id)?;
        Some(AgentView {
            agent_id,
            domain_id: a.domain_id,
            user_id: a.conf.user_id,
            status: a.status.as_str().into(),
            status_payload: a.payload.clone(),
            status_comment: a.comment.clone(),
            on_demand: a.on_demand,
            last_status_change: a.last_status_change,
            channels: wire::rest_channels(a),
        })
    }

    /// The `cc_agent_session` reply (CC-NOTES 1.2).
    pub fn session_json(&self, agent_id: i64, wall_ms: i64) -> Option<Value> {
        let a = self.agents.get(&agent_id)?;
        let team = a.conf.team_id.and_then(|t| {
            self.domains
                .get(&a.domain_id)?
                .teams
                .get(&t)
                .map(|t| (t.id, t.name.as_str()))
        });
        Some(wire::session(a, team, wall_ms))
    }

    /// The `items` of the `cc_agent_tasks` reply: the agent's offering, bridged or processing
    /// attempt (at most one: one call at a time).
    pub fn tasks_json(&self, agent_id: i64, _wall_ms: i64) -> Vec<Value> {
        self.agents
            .get(&agent_id)
            .and_then(|a| a.call.attempt)
            .and_then(|id| self.attempts.get(&id))
            .filter(|t| t.agent_id == Some(agent_id) && t.state != AState::Waiting)
            .map(|t| vec![wire::task(t, &self.cfg.app_id)])
            .unwrap_or_default()
    }

    /// The `task` of a `subscribe_call` item for an agent leg (CC-NOTES 1.6).
    pub fn leg_task_json(&self, leg: &str) -> Option<Value> {
        let a = self.attempts.get(self.legs.get(leg)?)?;
        (a.agent_leg.as_deref() == Some(leg)).then(|| wire::leg_task(a, &self.cfg.app_id))
    }

    /// The live attempt a member or agent leg belongs to.
    pub fn attempt_of_leg(&self, leg: &str) -> Option<i64> {
        self.legs.get(leg).copied()
    }

    /// The agent a live attempt is with (who may report it), if any.
    pub fn attempt_agent(&self, attempt_id: i64) -> Option<Option<i64>> {
        self.attempts.get(&attempt_id).map(|a| a.agent_id)
    }

    // ---- plumbing -------------------------------------------------------------------------

    pub(crate) fn clock(&mut self, now: Instant, wall_ms: i64) {
        self.epoch.get_or_insert(now);
        self.now = Some(now);
        self.now_ms = wall_ms;
        while let Some((&key, _)) = self.sticky_expiry.first_key_value() {
            if key.0 > now {
                break;
            }
            if let Some((q, number)) = self.sticky_expiry.remove(&key) {
                if let Some(m) = self.sticky.get_mut(&q) {
                    if m.get(&number).is_some_and(|&(_, until)| until <= now) {
                        m.remove(&number);
                    }
                }
            }
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.now.expect("handle/set_directory set the clock first")
    }

    /// Engine-monotonic microseconds (the idle-time key).
    pub(crate) fn mono(&self) -> i64 {
        let since = match (self.now, self.epoch) {
            (Some(n), Some(e)) => n.saturating_duration_since(e),
            _ => Duration::ZERO,
        };
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }

    pub(crate) fn draw(&mut self) -> i64 {
        let v = match self.cfg.ids {
            IdSource::Random => uuid::Uuid::new_v4().as_u64_pair().0,
            IdSource::Seeded(_) => splitmix64(&mut self.rand_state),
        };
        (v >> 1) as i64
    }

    pub(crate) fn new_leg_id(&mut self) -> String {
        let id = match self.cfg.ids {
            IdSource::Random => uuid::Uuid::new_v4(),
            IdSource::Seeded(_) => {
                let hi = splitmix64(&mut self.id_state);
                let lo = splitmix64(&mut self.id_state);
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&hi.to_be_bytes());
                bytes[8..].copy_from_slice(&lo.to_be_bytes());
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
        };
        id.to_string()
    }

    pub(crate) fn set_timer(&mut self, at: Instant, t: Timer) -> TimerKey {
        self.next_timer += 1;
        let key = (at, self.next_timer);
        self.timers.insert(key, t);
        key
    }

    fn cancel_timer(&mut self, key: Option<TimerKey>) {
        if let Some(k) = key {
            self.timers.remove(&k);
        }
    }

    pub(crate) fn push(&mut self, o: Output) {
        self.out.push_back(o);
    }

    /// Distribute in every domain that changed, then say which boards changed.
    pub(crate) fn settle(&mut self) {
        let mut domains = std::mem::take(&mut self.dirty);
        for &d in &domains {
            self.distribute(d);
            self.dial_round(d);
        }
        domains.append(&mut self.dirty);
        for domain_id in domains {
            self.push(Output::BoardChanged { domain_id });
        }
    }

    fn bury(&mut self, id: i64) {
        if self.finished_set.insert(id) {
            self.finished.push_back(id);
            if self.finished.len() > TOMBSTONES {
                if let Some(old) = self.finished.pop_front() {
                    self.finished_set.remove(&old);
                }
            }
        }
    }

    fn find(&self, id: i64) -> Result<Found<'_>, CcError> {
        match self.attempts.get(&id) {
            Some(a) => Ok(Found::Live(a)),
            None if self.finished_set.contains(&id) => Ok(Found::Finished),
            None => Err(CcError::UnknownAttempt(id)),
        }
    }

    fn live_agent(&self, agent_id: i64) -> Result<&Agent, CcError> {
        self.agents
            .get(&agent_id)
            .filter(|a| a.present)
            .ok_or(CcError::UnknownAgent(agent_id))
    }

    pub(crate) fn emit_channel(&mut self, agent_id: i64, data: Value) {
        if let Some(a) = self.agents.get(&agent_id) {
            let o = Output::Event {
                domain_id: a.domain_id,
                user_id: a.conf.user_id,
                kind: EventKind::Channel,
                data,
            };
            self.dirty.insert(a.domain_id);
            self.push(o);
        }
    }

    fn emit_status(&mut self, agent_id: i64) {
        let Some(a) = self.agents.get(&agent_id) else {
            return;
        };
        let event = Output::Event {
            domain_id: a.domain_id,
            user_id: a.conf.user_id,
            kind: EventKind::AgentStatus,
            data: wire::status_event(a, self.now_ms),
        };
        let persist = Output::AgentStatus {
            domain_id: a.domain_id,
            agent_id,
            status: a.status.as_str().into(),
            payload: a.payload.clone(),
            at: a.last_status_change,
        };
        self.dirty.insert(a.domain_id);
        self.push(event);
        self.push(persist);
    }

    fn record_of(a: &Attempt, state: &str) -> AttemptRecord {
        AttemptRecord {
            id: a.id,
            domain_id: a.domain_id,
            queue_id: a.queue_id,
            queue_name: a.queue_name.clone(),
            team_id: a.team.id,
            agent_id: a.agent_id,
            agent_name: a.agent_name.clone(),
            member_leg: a.member_leg.clone(),
            agent_leg: a.agent_leg.clone(),
            number: a.number.clone(),
            member_name: a.name.clone(),
            joined_at: Some(a.joined_at),
            offering_at: a.offering_at,
            bridged_at: a.bridged_at,
            leaving_at: a.leaving_at,
            reporting_at: a.reporting_at,
            result: a.result.clone(),
            description: a.description.clone(),
            state: state.into(),
            member_id: a.outbound.as_ref().map(|o| o.member.id),
        }
    }

    pub(crate) fn record(&mut self, id: i64) {
        if let Some(a) = self.attempts.get(&id) {
            let r = Self::record_of(a, a.state.as_str());
            self.dirty.insert(a.domain_id);
            self.push(Output::Attempt(r));
        }
    }

    // ---- inputs ---------------------------------------------------------------------------

    fn apply(&mut self, input: Input) -> Result<Reply, CcError> {
        match input {
            Input::Online {
                agent_id,
                on_demand,
            } => {
                let a = self.live_agent(agent_id)?;
                if a.status == Status::Online && a.on_demand == on_demand {
                    return Err(CcError::AlreadyOnline(agent_id));
                }
                let (mono, now_ms) = (self.mono(), self.now_ms);
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    a.on_demand = on_demand;
                    if a.status != Status::Online {
                        a.call.no_answers = 0;
                        if a.call.state == ChanState::Waiting {
                            a.call.joined_at = now_ms;
                            a.idle_since = mono;
                        }
                    }
                }
                self.set_status(agent_id, Status::Online, None, None);
            }
            Input::Pause {
                agent_id,
                payload,
                comment,
            } => {
                let a = self.live_agent(agent_id)?;
                if a.status == Status::Pause && a.payload == payload {
                    return Err(CcError::AlreadyPaused(agent_id));
                }
                self.set_status(agent_id, Status::Pause, payload, comment);
            }
            Input::Offline { agent_id } => {
                if self.live_agent(agent_id)?.status == Status::Offline {
                    return Err(CcError::AlreadyOffline(agent_id));
                }
                self.set_status(agent_id, Status::Offline, None, None);
            }
            Input::Waiting { agent_id, channel } => {
                let a = self.live_agent(agent_id)?;
                if !CHANNELS.contains(&channel.as_str()) {
                    return Err(CcError::InvalidParam("channel"));
                }
                let wrapping = matches!(a.call.state, ChanState::WrapTime | ChanState::Missed);
                if channel != "call" || !wrapping {
                    return Err(CcError::NotWrapping { agent_id, channel });
                }
                self.back_to_waiting(agent_id, None);
            }
            Input::Join {
                domain_id,
                queue_id,
                member_leg,
                number,
                name,
                priority,
            } => {
                let id = self.join(domain_id, queue_id, member_leg, number, name, priority)?;
                return Ok(Reply::Joined { attempt_id: id });
            }
            Input::OfferRinging { attempt_id } => {
                self.find(attempt_id)?;
            }
            Input::OfferAnswered { attempt_id } => {
                let state = match self.find(attempt_id)? {
                    Found::Live(a) => a.state.as_str(),
                    Found::Finished => "leaving",
                };
                if state != AState::Offering.as_str() {
                    return Err(CcError::InvalidState {
                        attempt_id,
                        action: "answer",
                        state,
                    });
                }
                self.bridged(attempt_id);
            }
            Input::OfferFailed { attempt_id } => {
                if let Found::Live(a) = self.find(attempt_id)? {
                    if a.state == AState::Offering {
                        self.offer_missed(attempt_id, false);
                    }
                }
            }
            Input::MemberLeft { attempt_id } => {
                if let Found::Live(a) = self.find(attempt_id)? {
                    match a.state {
                        AState::Dialing => self.dial_failed(attempt_id, "ORIGINATOR_CANCEL".into()),
                        AState::Waiting | AState::Offering => {
                            self.abandon(attempt_id, "abandoned", false)
                        }
                        AState::Bridged => self.conversation_over(attempt_id),
                        AState::Processing => {}
                    }
                }
            }
            Input::AgentLeft { attempt_id } => {
                if let Found::Live(a) = self.find(attempt_id)? {
                    match a.state {
                        AState::Offering => self.offer_missed(attempt_id, false),
                        AState::Bridged => self.conversation_over(attempt_id),
                        AState::Dialing | AState::Waiting | AState::Processing => {}
                    }
                }
            }
            Input::Reporting {
                attempt_id,
                agent_id: _,
                success,
                description,
                next_distribute_at,
            } => {
                let open = self.attempts.get(&attempt_id).is_some_and(|a| {
                    !a.reported && matches!(a.state, AState::Bridged | AState::Processing)
                });
                if !open {
                    return Err(CcError::ReportingNotFound(attempt_id));
                }
                if let Some(o) = self
                    .attempts
                    .get_mut(&attempt_id)
                    .and_then(|a| a.outbound.as_mut())
                {
                    o.next_at = next_distribute_at;
                }
                self.reporting(attempt_id, success, description);
            }
            Input::Renewal { attempt_id, sec } => {
                let Found::Live(a) = self.find(attempt_id)? else {
                    return Err(CcError::NotProcessing(attempt_id));
                };
                if a.state != AState::Processing {
                    return Err(CcError::NotProcessing(attempt_id));
                }
                if sec == 0 {
                    return Err(CcError::InvalidParam("renewal_sec"));
                }
                self.renewal(attempt_id, sec);
            }
            Input::Members { queue_id, members } => self.members_loaded(queue_id, members),
            Input::MemberAnswered { attempt_id } => {
                let state = match self.find(attempt_id)? {
                    Found::Live(a) => a.state.as_str(),
                    Found::Finished => "leaving",
                };
                let dialing = self
                    .attempts
                    .get(&attempt_id)
                    .is_some_and(|a| a.state == AState::Dialing);
                if !dialing {
                    return Err(CcError::InvalidState {
                        attempt_id,
                        action: "answer a dialled customer",
                        state,
                    });
                }
                self.member_answered(attempt_id);
            }
            Input::DialFailed { attempt_id, cause } => {
                if let Found::Live(a) = self.find(attempt_id)? {
                    if a.state == AState::Dialing {
                        self.dial_failed(attempt_id, cause);
                    }
                }
            }
            Input::Timeout => self.fire_timers(),
        }
        Ok(Reply::Done)
    }

    fn join(
        &mut self,
        domain_id: i64,
        queue_id: i64,
        member_leg: String,
        number: String,
        name: String,
        priority: i32,
    ) -> Result<i64, CcError> {
        let q = self
            .queues
            .get(&queue_id)
            .filter(|q| q.domain_id == domain_id)
            .ok_or(CcError::UnknownQueue(queue_id))?;
        if q.conf.kind != 1 {
            return Err(CcError::NotInbound(queue_id));
        }
        if !q.conf.enabled {
            return Err(CcError::QueueDisabled(queue_id));
        }
        if member_leg.is_empty() {
            return Err(CcError::InvalidParam("member_leg"));
        }
        if self.legs.contains_key(&member_leg) {
            return Err(CcError::LegInQueue(member_leg));
        }
        let c = &q.conf;
        let processing = c.processing.then(|| {
            let sec = if c.processing_sec == 0 {
                DEFAULT_PROCESSING_SEC
            } else {
                c.processing_sec
            };
            (sec, c.processing_renewal_sec)
        });
        let sticky_sec = c.sticky_agent.then_some(if c.sticky_agent_sec == 0 {
            30
        } else {
            c.sticky_agent_sec
        });
        let max_wait = if c.max_wait_time == 0 {
            60
        } else {
            c.max_wait_time
        };
        let id = self.next_attempt;
        self.next_attempt += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let attempt = Attempt {
            processing,
            auto_answer: c.variables.get("wbt_auto_answer").cloned(),
            sticky_sec,
            ..Attempt::start(Joining {
                id,
                domain_id,
                queue_id,
                queue_name: c.name.clone(),
                member_leg: member_leg.clone(),
                number,
                name,
                priority,
                seq,
                state: AState::Waiting,
                joined_at: self.now_ms,
            })
        };
        let wait = self.set_timer(self.now() + secs(max_wait), Timer::Wait(id));
        let mut attempt = attempt;
        attempt.wait_timer = Some(wait);
        self.attempts.insert(id, attempt);
        self.legs.insert(member_leg, id);
        if let Some(q) = self.queues.get_mut(&queue_id) {
            q.live.insert(id);
        }
        self.requeue(id);
        self.record(id);
        Ok(id)
    }

    // ---- agents ---------------------------------------------------------------------------

    /// Changes the agent's status (event + persistence) and keeps the queues' online counts
    /// and free sets right. An offer ringing to an agent that stops being online is withdrawn.
    pub(crate) fn set_status(
        &mut self,
        agent_id: i64,
        status: Status,
        payload: Option<String>,
        comment: Option<String>,
    ) {
        let now_ms = self.now_ms;
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        let was_online = a.is_online();
        a.status = status;
        a.payload = payload;
        a.comment = comment;
        a.last_status_change = now_ms;
        let is_online = a.is_online();
        let offering = a.call.state == ChanState::Offering;
        if was_online != is_online {
            self.count_online(agent_id, is_online);
        }
        self.emit_status(agent_id);
        if status != Status::Online && offering {
            self.withdraw_offer(agent_id);
        }
        self.refresh_free(agent_id);
    }

    pub(crate) fn count_online(&mut self, agent_id: i64, up: bool) {
        let Some(a) = self.agents.get(&agent_id) else {
            return;
        };
        for fit in &a.fits {
            if let Some(q) = self.queues.get_mut(&fit.queue_id) {
                if up {
                    q.online += 1;
                } else {
                    q.online = q.online.saturating_sub(1);
                }
            }
        }
    }

    /// The call channel goes back to `waiting`; `attempt` names a task the SDK should close.
    pub(crate) fn back_to_waiting(&mut self, agent_id: i64, attempt: Option<i64>) {
        let (mono, now_ms, rand) = (self.mono(), self.now_ms, self.draw());
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        let timer = a.call.timer.take();
        a.call.state = ChanState::Waiting;
        a.call.joined_at = now_ms;
        a.call.timeout = 0;
        a.call.attempt = None;
        a.idle_since = mono;
        a.rand_key = rand;
        let present = a.present;
        self.cancel_timer(timer);
        self.emit_channel(
            agent_id,
            wire::channel_event(ChanState::Waiting, attempt, now_ms, None),
        );
        if present {
            self.refresh_free(agent_id);
        } else {
            self.drop_agent(agent_id);
        }
    }

    /// Forgets a removed agent whose channel is idle.
    pub(crate) fn drop_agent(&mut self, agent_id: i64) {
        self.refresh_free(agent_id);
        if let Some(a) = self.agents.remove(&agent_id) {
            if let Some(d) = self.domains.get_mut(&a.domain_id) {
                d.agents.remove(&agent_id);
            }
            if self.users.get(&(a.domain_id, a.conf.user_id)) == Some(&agent_id) {
                self.users.remove(&(a.domain_id, a.conf.user_id));
            }
            self.dirty.insert(a.domain_id);
        }
    }

    /// Sets the call channel to a timed state and emits its event.
    pub(crate) fn channel_state(
        &mut self,
        agent_id: i64,
        state: ChanState,
        attempt: Option<i64>,
        timeout_ms: i64,
        timer_at: Option<Instant>,
    ) {
        let now_ms = self.now_ms;
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        let old = a.call.timer.take();
        a.call.state = state;
        a.call.joined_at = now_ms;
        a.call.timeout = timeout_ms;
        a.call.attempt = attempt;
        self.cancel_timer(old);
        if let Some(at) = timer_at {
            let key = self.set_timer(at, Timer::Channel(agent_id));
            if let Some(a) = self.agents.get_mut(&agent_id) {
                a.call.timer = Some(key);
            }
        }
        self.refresh_free(agent_id);
    }

    // ---- attempts -------------------------------------------------------------------------

    /// Puts a waiting attempt into its queue's waiting set (or lets it go when the queue is
    /// gone).
    pub(crate) fn requeue(&mut self, id: i64) {
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        a.state = AState::Waiting;
        let wait = a
            .wait_timer
            .is_none()
            .then(|| self.outbound_wait(&self.attempts[&id]))
            .flatten();
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        match self.queues.get_mut(&a.queue_id) {
            Some(q) => {
                q.waiting.insert(crate::distribute::wait_key(q, a));
                self.dirty.insert(a.domain_id);
                if let Some(w) = wait {
                    let key = self.set_timer(self.now() + w, Timer::Wait(id));
                    if let Some(a) = self.attempts.get_mut(&id) {
                        a.wait_timer = Some(key);
                    }
                }
            }
            None => self.abandon(id, "cancel", true),
        }
    }

    fn unqueue(&mut self, id: i64) {
        if let Some(a) = self.attempts.get(&id) {
            if a.state == AState::Waiting {
                if let Some(q) = self.queues.get_mut(&a.queue_id) {
                    q.waiting.remove(&crate::distribute::wait_key(q, a));
                }
            }
        }
    }

    /// Offers a waiting attempt to a free agent: `distribute` event, `Offer`, `offering` event.
    pub(crate) fn offer(&mut self, id: i64, agent_id: i64) {
        self.offer_with(id, agent_id, true);
    }

    /// A progressive call's reserved agent is offered the answered customer: its
    /// `distribute` went out when it was reserved.
    pub(crate) fn offer_quietly(&mut self, id: i64, agent_id: i64) {
        self.offer_with(id, agent_id, false);
    }

    /// The team settings an attempt's offer to an agent runs under.
    pub(crate) fn team_rules(&self, id: i64, agent_id: i64) -> TeamRules {
        let (Some(agent), Some(a)) = (self.agents.get(&agent_id), self.attempts.get(&id)) else {
            return TeamRules::default();
        };
        let team_id = self
            .queues
            .get(&a.queue_id)
            .and_then(|q| q.conf.team_id)
            .or(agent.conf.team_id);
        team_id
            .and_then(|t| self.domains.get(&a.domain_id)?.teams.get(&t))
            .map(TeamRules::of)
            .unwrap_or_default()
    }

    fn offer_with(&mut self, id: i64, agent_id: i64, announce: bool) {
        let leg = self.new_leg_id();
        let Some(agent) = self.agents.get(&agent_id) else {
            return;
        };
        let Some(a) = self.attempts.get(&id) else {
            return;
        };
        let team_id = self
            .queues
            .get(&a.queue_id)
            .and_then(|q| q.conf.team_id)
            .or(agent.conf.team_id);
        let team = team_id
            .and_then(|t| self.domains.get(&a.domain_id)?.teams.get(&t))
            .map(TeamRules::of)
            .unwrap_or_default();
        let (user_id, agent_name) = (agent.conf.user_id, agent.conf.name.clone());
        self.unqueue(id);
        let ring = secs(team.ring_sec());
        let timer = self.set_timer(self.now() + ring + OFFER_GRACE, Timer::Offer(id));
        let now_ms = self.now_ms;
        let offer_seq = self.next_offer;
        self.next_offer += 1;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        a.state = AState::Offering;
        a.agent_id = Some(agent_id);
        a.agent_name = Some(agent_name);
        a.agent_leg = Some(leg.clone());
        a.offering_at = Some(now_ms);
        a.team = team;
        a.offer_timer = Some(timer);
        let distribute = wire::distribute(a, &self.cfg.app_id, agent_id);
        let offering = wire::offering(a);
        let offer = Output::Offer {
            attempt_id: id,
            domain_id: a.domain_id,
            queue_id: a.queue_id,
            queue_name: a.queue_name.clone(),
            agent_id,
            user_id,
            member_leg: a.member_leg.clone(),
            agent_leg: leg.clone(),
            timeout: ring,
            has_reporting: a.has_reporting(),
            number: a.number.clone(),
            member_name: a.name.clone(),
        };
        self.legs.insert(leg, id);
        if let Some(ag) = self.agents.get_mut(&agent_id) {
            ag.last_offer = offer_seq;
        }
        self.channel_state(agent_id, ChanState::Offering, Some(id), 0, None);
        if announce {
            self.emit_channel(
                agent_id,
                wire::channel_event_named(
                    "distribute",
                    Some(id),
                    now_ms,
                    Some(("distribute", distribute)),
                ),
            );
        }
        self.push(offer);
        self.emit_channel(
            agent_id,
            wire::channel_event(
                ChanState::Offering,
                Some(id),
                now_ms,
                Some(("offering", offering)),
            ),
        );
        self.record(id);
    }

    /// Stops the ringing offer of an attempt: forgets its agent leg and returns the agent.
    /// `tell` emits `CancelOffer` (not needed when the runtime reported the leg's end).
    fn drop_offer(&mut self, id: i64, tell: bool) -> Option<i64> {
        let a = self.attempts.get_mut(&id)?;
        let timer = a.offer_timer.take();
        let leg = a.agent_leg.take();
        let agent = a.agent_id.take();
        a.agent_name = None;
        self.cancel_timer(timer);
        if let Some(leg) = leg {
            self.legs.remove(&leg);
            if tell {
                self.push(Output::CancelOffer {
                    attempt_id: id,
                    agent_leg: leg,
                });
            }
        }
        agent
    }

    /// An agent stops being online while an offer rings: the call goes back to waiting
    /// (without counting a miss) and the agent's task is closed.
    fn withdraw_offer(&mut self, agent_id: i64) {
        let Some(id) = self.agents.get(&agent_id).and_then(|a| a.call.attempt) else {
            return;
        };
        if let Some(a) = self
            .attempts
            .get_mut(&id)
            .filter(|a| a.state == AState::Dialing)
        {
            // A progressive reservation: the customer call goes on without this agent.
            a.agent_id = None;
            a.agent_name = None;
            self.back_to_waiting(agent_id, Some(id));
            self.record(id);
            return;
        }
        self.drop_offer(id, true);
        self.requeue(id);
        self.back_to_waiting(agent_id, Some(id));
        self.record(id);
    }

    /// The attempt leaves before a bridge: caller hung up (`abandoned`), waited too long
    /// (`timeout`) or its queue went away (`cancel`). `leave` tells the runtime to continue
    /// the caller's schema.
    fn abandon(&mut self, id: i64, result: &str, leave: bool) {
        let Some(a) = self.attempts.get(&id) else {
            return;
        };
        let offering = a.state == AState::Offering;
        let reserved = (a.state == AState::Dialing).then_some(a.agent_id).flatten();
        let member_leg = a.member_leg.clone();
        if let Some(o) = self.attempts.get_mut(&id).and_then(|a| a.outbound.as_mut()) {
            if o.answered_at.is_some() && result != "cancel" {
                o.abandoned = true;
            }
        }
        if let Some(agent) = reserved {
            if let Some(a) = self.attempts.get_mut(&id) {
                a.agent_id = None;
            }
            self.back_to_waiting(agent, Some(id));
        }
        self.unqueue(id);
        if offering {
            if let Some(agent) = self.drop_offer(id, true) {
                self.back_to_waiting(agent, Some(id));
            }
        }
        if let Some(a) = self.attempts.get_mut(&id) {
            a.result = Some(result.into());
        }
        if leave {
            self.push(Output::Leave {
                attempt_id: id,
                member_leg,
                result: result.into(),
            });
        }
        self.finish(id);
    }

    /// The attempt is over for good: last record (`leaving`), legs and timers forgotten.
    pub(crate) fn finish(&mut self, id: i64) {
        self.unqueue(id);
        let Some(mut a) = self.attempts.remove(&id) else {
            return;
        };
        self.cancel_timer(a.wait_timer.take());
        self.cancel_timer(a.offer_timer.take());
        self.legs.remove(&a.member_leg);
        if let Some(leg) = &a.agent_leg {
            self.legs.remove(leg);
        }
        if let Some(q) = self.queues.get_mut(&a.queue_id) {
            q.live.remove(&id);
        }
        a.leaving_at.get_or_insert(self.now_ms);
        self.dirty.insert(a.domain_id);
        if a.state == AState::Dialing {
            if let Some(d) = self.dialers.get_mut(&a.queue_id) {
                d.dialing = d.dialing.saturating_sub(1);
            }
        }
        self.push(Output::Attempt(Self::record_of(&a, "leaving")));
        self.outbound_finished(&a);
        self.bury(id);
    }

    /// The offer went unanswered: the agent is `missed` (maybe `break_out`), the call waits
    /// for someone else.
    fn offer_missed(&mut self, id: i64, tell: bool) {
        let Some(team) = self.attempts.get(&id).map(|a| a.team) else {
            return;
        };
        let Some(agent_id) = self.drop_offer(id, tell) else {
            return;
        };
        if let Some(a) = self.attempts.get_mut(&id) {
            if !a.missed_by.contains(&agent_id) {
                a.missed_by.push(agent_id);
            }
        }
        self.requeue(id);
        let delay = team.no_answer_delay_time;
        let timeout = self.now_ms + i64::from(delay) * 1000;
        let no_answers = match self.agents.get_mut(&agent_id) {
            Some(a) => {
                a.call.no_answers += 1;
                a.call.no_answers
            }
            None => return,
        };
        let at = (delay > 0).then(|| self.now() + secs(delay));
        self.channel_state(agent_id, ChanState::Missed, None, timeout, at);
        self.emit_channel(
            agent_id,
            wire::channel_event(
                ChanState::Missed,
                Some(id),
                self.now_ms,
                Some(("missed", json!({"timeout": timeout}))),
            ),
        );
        if delay == 0 {
            self.back_to_waiting(agent_id, None);
        }
        let online = self
            .agents
            .get(&agent_id)
            .is_some_and(|a| a.status == Status::Online);
        if team.max_no_answer > 0 && no_answers >= team.max_no_answer && online {
            self.set_status(agent_id, Status::BreakOut, None, None);
        }
        self.record(id);
    }

    fn bridged(&mut self, id: i64) {
        let now = self.now();
        let now_ms = self.now_ms;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let Some(agent_id) = a.agent_id else {
            return;
        };
        a.state = AState::Bridged;
        a.bridged_at = Some(now_ms);
        a.talk_from = Some(now);
        let timers = [a.offer_timer.take(), a.wait_timer.take()];
        for t in timers {
            self.cancel_timer(t);
        }
        if let Some(ag) = self.agents.get_mut(&agent_id) {
            ag.call.no_answers = 0;
            ag.calls += 1;
        }
        self.channel_state(agent_id, ChanState::Bridged, Some(id), 0, None);
        self.emit_channel(
            agent_id,
            wire::channel_event(ChanState::Bridged, Some(id), now_ms, None),
        );
        self.outbound_bridged(id);
        self.record(id);
    }

    /// Member or agent hung up after the bridge: processing if the queue has it (and nothing
    /// was reported yet), else the attempt ends `success` and the agent wraps up.
    fn conversation_over(&mut self, id: i64) {
        let now = self.now();
        let now_ms = self.now_ms;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let Some(agent_id) = a.agent_id else {
            return;
        };
        a.leaving_at = Some(now_ms);
        let talk = a
            .talk_from
            .take()
            .map(|t| now.saturating_duration_since(t).as_millis() as i64)
            .unwrap_or(0);
        let sticky = a.sticky_sec.map(|s| (a.queue_id, a.number.clone(), s));
        let processing = a.processing.filter(|_| !a.reported);
        if let Some(ag) = self.agents.get_mut(&agent_id) {
            ag.talk_ms += talk;
        }
        if let Some((queue_id, number, sec)) = sticky {
            let until = now + secs(sec);
            self.sticky
                .entry(queue_id)
                .or_default()
                .insert(number.clone(), (agent_id, until));
            self.next_timer += 1;
            self.sticky_expiry
                .insert((until, self.next_timer), (queue_id, number));
        }
        match processing {
            Some((sec, renewal)) => {
                let deadline = now_ms + i64::from(sec) * 1000;
                if let Some(a) = self.attempts.get_mut(&id) {
                    a.state = AState::Processing;
                    a.processing_deadline = deadline;
                }
                self.channel_state(
                    agent_id,
                    ChanState::Processing,
                    Some(id),
                    deadline,
                    Some(now + secs(sec)),
                );
                self.emit_channel(
                    agent_id,
                    wire::channel_event(
                        ChanState::Processing,
                        Some(id),
                        now_ms,
                        Some(("processing", wire::processing(deadline, now_ms, renewal))),
                    ),
                );
                self.record(id);
            }
            None => {
                if let Some(a) = self.attempts.get_mut(&id) {
                    a.result.get_or_insert_with(|| "success".into());
                }
                self.wrap_up(id, agent_id);
            }
        }
    }

    /// The attempt is done; the agent wraps up (`wrap_time`, or `waiting` at once when the
    /// team has no wrap-up time; on-demand agents wrap until they say `waiting`).
    fn wrap_up(&mut self, id: i64, agent_id: i64) {
        let wrap = self
            .attempts
            .get(&id)
            .map(|a| a.team.wrap_up_time)
            .unwrap_or(0);
        self.finish(id);
        let Some((on_demand, present)) =
            self.agents.get(&agent_id).map(|a| (a.on_demand, a.present))
        else {
            return;
        };
        let now_ms = self.now_ms;
        let (timeout, at) = if on_demand && present {
            (0, None)
        } else if wrap == 0 || !present {
            // A removed agent has nobody to wrap up for; it is forgotten now.
            self.back_to_waiting(agent_id, Some(id));
            return;
        } else {
            (
                now_ms + i64::from(wrap) * 1000,
                Some(self.now() + secs(wrap)),
            )
        };
        self.channel_state(agent_id, ChanState::WrapTime, Some(id), timeout, at);
        self.emit_channel(
            agent_id,
            wire::channel_event(
                ChanState::WrapTime,
                Some(id),
                now_ms,
                Some(("wrap_time", json!({"timeout": timeout}))),
            ),
        );
    }

    fn reporting(&mut self, id: i64, success: bool, description: Option<String>) {
        let now_ms = self.now_ms;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        a.reported = true;
        a.result = Some(if success { "success" } else { "abandoned" }.into());
        a.description = description;
        a.reporting_at = Some(now_ms);
        let (state, agent) = (a.state, a.agent_id);
        match (state, agent) {
            (AState::Processing, Some(agent_id)) => self.wrap_up(id, agent_id),
            _ => self.record(id),
        }
    }

    fn renewal(&mut self, id: i64, sec: u32) {
        let now_ms = self.now_ms;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let deadline = a.processing_deadline.max(now_ms + i64::from(sec) * 1000);
        a.processing_deadline = deadline;
        let renewal = a.processing.map(|p| p.1).unwrap_or(0);
        let Some(agent_id) = a.agent_id else {
            return;
        };
        let at = self.now() + Duration::from_millis((deadline - now_ms).max(0) as u64);
        self.channel_state(
            agent_id,
            ChanState::Processing,
            Some(id),
            deadline,
            Some(at),
        );
        self.emit_channel(
            agent_id,
            wire::channel_event(
                ChanState::Processing,
                Some(id),
                now_ms,
                Some(("processing", wire::processing(deadline, now_ms, renewal))),
            ),
        );
        self.record(id);
    }

    // ---- timers ---------------------------------------------------------------------------

    fn fire_timers(&mut self) {
        let now = self.now();
        while let Some((&key, &t)) = self.timers.first_key_value() {
            if key.0 > now {
                break;
            }
            self.timers.remove(&key);
            match t {
                Timer::Channel(agent_id) => self.channel_deadline(agent_id, key),
                Timer::Tick => self.on_tick(),
                Timer::Wait(id) => {
                    let due = self.attempts.get_mut(&id).is_some_and(|a| {
                        let mine = a.wait_timer == Some(key);
                        if mine {
                            a.wait_timer = None;
                        }
                        mine && matches!(a.state, AState::Waiting | AState::Offering)
                    });
                    if due {
                        let outbound = self.attempts.get(&id).is_some_and(|a| a.outbound.is_some());
                        let result = if outbound { "abandoned" } else { "timeout" };
                        self.abandon(id, result, true);
                    }
                }
                Timer::Offer(id) => {
                    let due = self.attempts.get_mut(&id).is_some_and(|a| {
                        let mine = a.offer_timer == Some(key);
                        if mine {
                            a.offer_timer = None;
                        }
                        mine && a.state == AState::Offering
                    });
                    if due {
                        self.offer_missed(id, true);
                    }
                }
            }
        }
    }

    fn channel_deadline(&mut self, agent_id: i64, key: TimerKey) {
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        if a.call.timer != Some(key) {
            return;
        }
        a.call.timer = None;
        let (state, attempt) = (a.call.state, a.call.attempt);
        match (state, attempt) {
            (ChanState::Missed | ChanState::WrapTime, _) | (ChanState::Processing, None) => {
                self.back_to_waiting(agent_id, None)
            }
            (ChanState::Processing, Some(id)) => {
                if let Some(att) = self.attempts.get_mut(&id) {
                    att.result.get_or_insert_with(|| "timeout".into());
                }
                self.finish(id);
                self.back_to_waiting(agent_id, Some(id));
            }
            _ => {}
        }
    }

    /// A new agent from the directory, in its stored status.
    pub(crate) fn new_agent(&self, domain_id: i64, conf: crate::types::AgentConf) -> Agent {
        let status = Status::parse(&conf.status);
        Agent {
            domain_id,
            present: true,
            status,
            payload: conf.status_payload.clone(),
            comment: None,
            last_status_change: conf.last_status_change,
            on_demand: false,
            call: CallChannel {
                state: ChanState::Waiting,
                joined_at: self.now_ms,
                timeout: 0,
                attempt: None,
                no_answers: 0,
                timer: None,
            },
            others_joined_at: self.now_ms,
            fits: Vec::new(),
            free_keys: Vec::new(),
            idle_since: self.mono(),
            last_offer: 0,
            calls: 0,
            talk_ms: 0,
            rand_key: 0,
            conf,
        }
    }

    /// A queue's live attempts in their queue, for the board and queue removal.
    pub(crate) fn queue_attempts(&self, queue_id: i64) -> Vec<i64> {
        self.queues
            .get(&queue_id)
            .map(|q| q.live.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Lets every waiting or ringing call of a removed queue go (`cancel`); bridged and
    /// processing calls finish on the settings they joined with.
    pub(crate) fn remove_queue(&mut self, queue_id: i64) {
        for id in self.queue_attempts(queue_id) {
            let waiting = self.attempts.get(&id).is_some_and(|a| {
                matches!(
                    a.state,
                    AState::Dialing | AState::Waiting | AState::Offering
                )
            });
            if waiting {
                self.abandon(id, "cancel", true);
            }
        }
        self.queues.remove(&queue_id);
        self.sticky.remove(&queue_id);
    }
}
