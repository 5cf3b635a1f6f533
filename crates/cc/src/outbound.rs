//! Dialer queues (type 4 progressive, 5 predictive): members from the store, dialling rounds
//! paced by the queue's [`Pacer`], the customer-first call, abandonment, and the members'
//! retry bookkeeping (CC-NOTES 1.5, 3.1, 3.3; DIALER-NOTES 1).
//!
//! A round (each tick, and after every input) asks each enabled dialer queue with a gateway
//! how many calls to place, and dials that many of its callable members, best first
//! (priority, then the longest ready). A member whose time zone is known is called only
//! inside its local calling hours; outside them its `ready_at` moves to the next opening.
//! Progressive: the best free agent is reserved first (`distribute`), the customer is dialled,
//! and once it answers the agent is offered the call. Predictive: the answered customer waits
//! for any free agent; none within `max_wait_time` (2 s) is an abandoned call.

use crate::engine::{Engine, Timer};
use crate::pace::{DialKind, PaceEvent, PaceView, Pacer, PacerFactory, Progressive};
use crate::state::{AState, Attempt, ChanState, Joining, Outbound};
use crate::types::{MemberConf, MemberRecord, Output};
use crate::wire;
use serde_json::json;
use std::time::{Duration, Instant};

/// The `DialFailed` cause, attempt result and member stop cause of a number on the queue's
/// do-not-call list (CC-NOTES 3.1): it is not called, and the member stops.
pub const DIAL_BLOCKED: &str = "block";

/// How often dialling rounds run without any other input.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// Members asked for per load.
const LOAD_BATCH: usize = 50;
/// A load that returned less than asked is not repeated before this.
const LOAD_IDLE: Duration = Duration::from_secs(5);
/// A load not answered within this is asked again.
const LOAD_LOST: Duration = Duration::from_secs(30);
/// An abandoned number is not called again before this (Ofcom's 72 h).
pub(crate) const ABANDON_HOLD_MS: i64 = 72 * 3600 * 1000;
/// The law's wait for an agent after a live answer, when the queue says nothing.
const DEFAULT_ABANDON_SEC: u32 = 2;
/// How long an answered progressive customer waits once its reserved agent missed the offer.
const DEFAULT_PROGRESSIVE_WAIT_SEC: u32 = 30;

/// Counters of one dialer queue since the engine started (abandonment per answered call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialStats {
    pub dialed: u64,
    pub answered: u64,
    pub failed: u64,
    pub bridged: u64,
    pub abandoned: u64,
}

pub(crate) struct Dialer {
    pub(crate) kind: DialKind,
    pub(crate) pacer: Box<dyn Pacer>,
    /// Callable members, best first.
    pub(crate) pending: Vec<MemberConf>,
    pub(crate) loading: Option<Instant>,
    pub(crate) next_load: Option<Instant>,
    pub(crate) dialing: u32,
    pub(crate) stats: DialStats,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("kind", &self.kind)
            .field("pending", &self.pending.len())
            .field("dialing", &self.dialing)
            .field("stats", &self.stats)
            .finish()
    }
}

/// The engine's pacer maker (a newtype so the engine stays `Debug`).
pub(crate) struct Pacers(pub(crate) Option<PacerFactory>);

impl std::fmt::Debug for Pacers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Pacers(custom)"
        } else {
            "Pacers(progressive)"
        })
    }
}

pub(crate) fn dial_kind(kind: i32) -> Option<DialKind> {
    match kind {
        4 => Some(DialKind::Progressive),
        5 => Some(DialKind::Predictive),
        _ => None,
    }
}

/// Minutes after local midnight at `wall_ms` in `tz`, and the epoch ms of the next local
/// `open` minute (today's if still ahead, else tomorrow's).
fn local_clock(tz: &jiff::tz::TimeZone, wall_ms: i64, open: u32) -> Option<(u32, i64)> {
    let ts = jiff::Timestamp::from_millisecond(wall_ms).ok()?;
    let z = ts.to_zoned(tz.clone());
    let minutes = u32::from(z.hour() as u8) * 60 + u32::from(z.minute() as u8);
    let at = |d: jiff::civil::Date| -> Option<i64> {
        let t = d
            .at((open / 60) as i8, (open % 60) as i8, 0, 0)
            .to_zoned(tz.clone())
            .ok()?;
        Some(t.timestamp().as_millisecond())
    };
    let today = at(z.date())?;
    let next = if today > wall_ms {
        today
    } else {
        at(z.date().tomorrow().ok()?)?
    };
    Some((minutes, next))
}

impl Engine {
    /// Sets how dialer queues get their pacing controller (default: [`Progressive`] for
    /// every queue). Queues already known keep theirs until their type changes.
    pub fn set_pacer_factory(&mut self, f: PacerFactory) {
        self.pacers = Pacers(Some(f));
    }

    /// A dialer queue's counters.
    pub fn dial_stats(&self, queue_id: i64) -> Option<DialStats> {
        self.dialers.get(&queue_id).map(|d| d.stats)
    }

    fn new_pacer(&self, queue_id: i64, kind: DialKind) -> Box<dyn Pacer> {
        match &self.pacers.0 {
            Some(f) => f(queue_id, kind),
            None => Box::new(Progressive),
        }
    }

    /// After a directory load: a dialer for every dialer queue, none for the others; the tick
    /// runs while any dialer exists.
    pub(crate) fn sync_dialers(&mut self) {
        let wanted: Vec<(i64, DialKind)> = self
            .queues
            .values()
            .filter_map(|q| dial_kind(q.conf.kind).map(|k| (q.conf.id, k)))
            .collect();
        self.dialers
            .retain(|id, d| wanted.iter().any(|(w, k)| w == id && *k == d.kind));
        for (id, kind) in wanted {
            if !self.dialers.contains_key(&id) {
                let pacer = self.new_pacer(id, kind);
                self.dialers.insert(
                    id,
                    Dialer {
                        kind,
                        pacer,
                        pending: Vec::new(),
                        loading: None,
                        next_load: None,
                        dialing: 0,
                        stats: DialStats::default(),
                    },
                );
            }
        }
        if !self.dialers.is_empty() && self.tick.is_none() {
            let key = self.set_timer(self.now() + TICK, Timer::Tick);
            self.tick = Some(key);
        }
    }

    pub(crate) fn on_tick(&mut self) {
        self.tick = None;
        if self.dialers.is_empty() {
            return;
        }
        let key = self.set_timer(self.now() + TICK, Timer::Tick);
        self.tick = Some(key);
        let domains: Vec<i64> = self
            .dialers
            .keys()
            .filter_map(|q| self.queues.get(q).map(|q| q.domain_id))
            .collect();
        self.dirty.extend(domains);
    }

    /// `Input::Members`: the queue's callable members now (stale rows of members the engine
    /// is calling or has just moved are left out).
    pub(crate) fn members_loaded(&mut self, queue_id: i64, members: Vec<MemberConf>) {
        let now_ms = self.now_ms;
        let now = self.now();
        self.member_hold.retain(|_, until| *until > now_ms - 60_000);
        let hold = &self.member_hold;
        let Some(d) = self.dialers.get_mut(&queue_id) else {
            return;
        };
        let full = members.len() >= LOAD_BATCH;
        d.pending = members
            .into_iter()
            .filter(|m| hold.get(&m.id).is_none_or(|until| *until <= now_ms))
            .collect();
        d.loading = None;
        d.next_load = (!full).then(|| now + LOAD_IDLE);
        if let Some(q) = self.queues.get(&queue_id) {
            self.dirty.insert(q.domain_id);
        }
    }

    /// One dialling round for every dialer queue of the domain.
    pub(crate) fn dial_round(&mut self, domain_id: i64) {
        let Some(d) = self.domains.get(&domain_id) else {
            return;
        };
        let queues: Vec<i64> = d
            .queues
            .iter()
            .copied()
            .filter(|q| self.dialers.contains_key(q))
            .collect();
        for q in queues {
            self.dial_queue(q);
        }
    }

    fn dial_queue(&mut self, queue_id: i64) {
        let now = self.now();
        let Some(q) = self.queues.get(&queue_id) else {
            return;
        };
        let conf = q.conf.dialer.clone();
        let (domain_id, enabled) = (q.domain_id, q.conf.enabled);
        if !enabled || conf.gateway_id.is_none() {
            return;
        }
        let waiting = q
            .live
            .iter()
            .filter_map(|id| self.attempts.get(id))
            .filter(|a| a.state == AState::Waiting)
            .count() as u32;
        let (free, online, active) = (q.free.len() as u32, q.online as u32, q.live.len() as u32);
        let Some(d) = self.dialers.get_mut(&queue_id) else {
            return;
        };
        let lost = d.loading.is_some_and(|t| now >= t + LOAD_LOST);
        if (d.loading.is_none() || lost)
            && d.pending.len() < LOAD_BATCH / 2
            && d.next_load.is_none_or(|t| now >= t)
        {
            d.loading = Some(now);
            self.out.push_back(Output::LoadMembers {
                domain_id,
                queue_id,
                limit: LOAD_BATCH,
            });
        }
        let view = PaceView {
            domain_id,
            queue_id,
            kind: d.kind,
            now,
            wall_ms: self.now_ms,
            free_agents: free,
            online_agents: online,
            dialing: d.dialing,
            waiting,
            active,
            max_calls: conf.max_calls,
            callable: d.pending.len() as u32,
        };
        if view.callable == 0 || online == 0 {
            return;
        }
        let mut n = d.pacer.calls_to_place(&view).min(view.callable);
        if let Some(max) = conf.max_calls {
            n = n.min(max.saturating_sub(active));
        }
        if d.kind == DialKind::Progressive {
            n = n.min(free);
        }
        let kind = d.kind;
        let mut placed = 0;
        while placed < n {
            let Some(m) = self.next_member(queue_id, domain_id, &conf) else {
                break;
            };
            let agent = match kind {
                DialKind::Progressive => {
                    let Some(agent) = self
                        .queues
                        .get(&queue_id)
                        .and_then(|q| q.free.first())
                        .map(|k| k.4)
                    else {
                        // Put the member back: nobody to call it for.
                        if let Some(d) = self.dialers.get_mut(&queue_id) {
                            d.pending.insert(0, m);
                        }
                        break;
                    };
                    Some(agent)
                }
                DialKind::Predictive => None,
            };
            self.dial(queue_id, domain_id, m, kind, agent);
            placed += 1;
        }
    }

    /// The best pending member that may be called now; members outside their calling hours
    /// move to the next opening, members with no number left stop.
    fn next_member(
        &mut self,
        queue_id: i64,
        domain_id: i64,
        conf: &crate::types::DialerConf,
    ) -> Option<MemberConf> {
        loop {
            let d = self.dialers.get_mut(&queue_id)?;
            if d.pending.is_empty() {
                return None;
            }
            let m = d.pending.remove(0);
            if self
                .member_hold
                .get(&m.id)
                .is_some_and(|u| *u > self.now_ms)
            {
                continue;
            }
            if !m.timezone.is_empty() {
                let tz = self
                    .tz_cache
                    .entry(m.timezone.clone())
                    .or_insert_with(|| jiff::tz::TimeZone::get(&m.timezone).ok())
                    .clone();
                if let Some((minutes, next_open)) =
                    tz.and_then(|tz| local_clock(&tz, self.now_ms, conf.hours.0))
                {
                    if minutes < conf.hours.0 || minutes >= conf.hours.1 {
                        self.member_hold.insert(m.id, next_open);
                        self.push(Output::MemberUpdate(MemberRecord {
                            domain_id,
                            member_id: m.id,
                            attempts: m.attempts,
                            ready_at: next_open,
                            stop_cause: None,
                            stop_at: None,
                            last_activity_at: m
                                .communications
                                .iter()
                                .map(|c| c.last_activity_at)
                                .max()
                                .unwrap_or(0),
                            communications: m.communications.clone(),
                        }));
                        continue;
                    }
                }
            }
            return Some(m);
        }
    }

    /// The number to call: not stopped, fewest attempts, then highest priority, then first.
    fn pick_number(m: &MemberConf) -> Option<usize> {
        m.communications
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stopped && !c.destination.is_empty())
            .min_by_key(|(i, c)| (c.attempts, -i64::from(c.priority), *i))
            .map(|(i, _)| i)
    }

    fn dial(
        &mut self,
        queue_id: i64,
        domain_id: i64,
        m: MemberConf,
        kind: DialKind,
        agent: Option<i64>,
    ) {
        let Some(q) = self.queues.get(&queue_id) else {
            return;
        };
        let conf = q.conf.dialer.clone();
        let queue_name = q.conf.name.clone();
        let Some(comm) = Self::pick_number(&m) else {
            // Nothing left to dial: the member is done.
            self.member_hold.insert(m.id, i64::MAX);
            let now_ms = self.now_ms;
            self.push(Output::MemberUpdate(MemberRecord {
                domain_id,
                member_id: m.id,
                attempts: m.attempts,
                ready_at: m.ready_at,
                stop_cause: Some("failed".into()),
                stop_at: Some(now_ms),
                last_activity_at: now_ms,
                communications: m.communications,
            }));
            return;
        };
        let leg = self.new_leg_id();
        let id = self.next_attempt;
        self.next_attempt += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let c = &m.communications[comm];
        let display = if c.display.is_empty() {
            conf.display.clone()
        } else {
            c.display.clone()
        };
        let destination = c.destination.clone();
        let ring = if conf.originate_timeout == 0 {
            60
        } else {
            conf.originate_timeout
        };
        let now = self.now();
        let attempt = Attempt {
            outbound: Some(Box::new(Outbound {
                member: m.clone(),
                comm,
                kind,
                conf: conf.clone(),
                dialed_at: now,
                answered_at: None,
                bridged_at: None,
                cause: None,
                abandoned: false,
                next_at: None,
            })),
            ..Attempt::start(Joining {
                id,
                domain_id,
                queue_id,
                queue_name,
                member_leg: leg.clone(),
                number: destination.clone(),
                name: m.name.clone(),
                priority: m.priority,
                seq,
                state: AState::Dialing,
                joined_at: self.now_ms,
            })
        };
        let q = &self.queues[&queue_id];
        let processing = q.conf.processing.then(|| {
            let sec = if q.conf.processing_sec == 0 {
                30
            } else {
                q.conf.processing_sec
            };
            (sec, q.conf.processing_renewal_sec)
        });
        let mut attempt = attempt;
        attempt.processing = processing;
        attempt.auto_answer = q.conf.variables.get("wbt_auto_answer").cloned();
        self.attempts.insert(id, attempt);
        self.legs.insert(leg.clone(), id);
        self.member_hold.insert(m.id, i64::MAX);
        if let Some(q) = self.queues.get_mut(&queue_id) {
            q.live.insert(id);
        }
        if let Some(d) = self.dialers.get_mut(&queue_id) {
            d.dialing += 1;
            d.stats.dialed += 1;
            d.pacer.observe(PaceEvent::Dialed { attempt_id: id }, now);
        }
        if let Some(agent_id) = agent {
            self.reserve(id, agent_id);
        }
        self.push(Output::Dial {
            attempt_id: id,
            domain_id,
            queue_id,
            member_id: m.id,
            member_name: m.name,
            destination,
            display,
            gateway_id: conf.gateway_id.unwrap_or_default(),
            member_leg: leg,
            timeout: Duration::from_secs(u64::from(ring)),
        });
        self.record(id);
    }

    /// Progressive: the agent is taken for the call before the customer is dialled; the SDK
    /// gets `distribute` now (its `agent_channel_id` is the customer leg, as Webitel sends it).
    fn reserve(&mut self, id: i64, agent_id: i64) {
        let Some(agent) = self.agents.get(&agent_id) else {
            return;
        };
        let name = agent.conf.name.clone();
        let team = self.team_rules(id, agent_id);
        let now_ms = self.now_ms;
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        a.agent_id = Some(agent_id);
        a.agent_name = Some(name);
        a.team = team;
        a.agent_leg = None;
        let mut distribute = wire::distribute(a, &self.cfg.app_id, agent_id);
        distribute["agent_channel_id"] = json!(a.member_leg);
        self.channel_state(agent_id, ChanState::Offering, Some(id), 0, None);
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

    /// `Input::MemberAnswered`.
    pub(crate) fn member_answered(&mut self, id: i64) {
        let now = self.now();
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let Some(o) = a.outbound.as_mut() else {
            return;
        };
        o.answered_at = Some(now);
        let ring = now.saturating_duration_since(o.dialed_at);
        let (queue_id, reserved) = (a.queue_id, a.agent_id);
        if let Some(d) = self.dialers.get_mut(&queue_id) {
            d.dialing = d.dialing.saturating_sub(1);
            d.stats.answered += 1;
            d.pacer.observe(
                PaceEvent::Answered {
                    attempt_id: id,
                    ring,
                },
                now,
            );
        }
        match reserved {
            Some(agent_id) => {
                if let Some(a) = self.attempts.get_mut(&id) {
                    a.state = AState::Waiting;
                }
                self.offer_quietly(id, agent_id);
            }
            None => self.requeue(id),
        }
        self.record(id);
    }

    /// `Input::DialFailed`: the customer was not reached; a reserved agent is free again.
    /// Cause [`DIAL_BLOCKED`] (the number is on the queue's DNC list) ends the attempt with
    /// result `block` and stops the member.
    pub(crate) fn dial_failed(&mut self, id: i64, cause: String) {
        let now = self.now();
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let Some(o) = a.outbound.as_mut() else {
            return;
        };
        let ring = now.saturating_duration_since(o.dialed_at);
        a.result = Some(
            if cause == DIAL_BLOCKED {
                "block"
            } else {
                "failed"
            }
            .into(),
        );
        o.cause = Some(cause);
        let (queue_id, agent) = (a.queue_id, a.agent_id.take());
        a.agent_name = None;
        if let Some(d) = self.dialers.get_mut(&queue_id) {
            d.dialing = d.dialing.saturating_sub(1);
            d.stats.failed += 1;
            d.pacer.observe(
                PaceEvent::Failed {
                    attempt_id: id,
                    ring,
                },
                now,
            );
        }
        if let Some(agent_id) = agent {
            self.back_to_waiting(agent_id, Some(id));
        }
        self.finish(id);
    }

    /// The wait for an agent of an answered customer: the law's 2 s (predictive), longer once
    /// a progressive agent missed the offer.
    pub(crate) fn outbound_wait(&self, a: &Attempt) -> Option<Duration> {
        let o = a.outbound.as_ref()?;
        o.answered_at?;
        let sec = match (o.conf.max_wait_time, o.kind) {
            (0, DialKind::Predictive) => DEFAULT_ABANDON_SEC,
            (0, DialKind::Progressive) => DEFAULT_PROGRESSIVE_WAIT_SEC,
            (s, _) => s,
        };
        Some(Duration::from_secs(u64::from(sec)))
    }

    /// Bookkeeping of a dialer attempt that ends now (called by `finish`): attempts, next
    /// call or stop, the counters and the pacer.
    pub(crate) fn outbound_finished(&mut self, a: &Attempt) {
        let Some(o) = a.outbound.as_ref() else {
            return;
        };
        let now = self.now();
        let now_ms = self.now_ms;
        let result = a.result.clone().unwrap_or_else(|| "failed".into());
        let abandoned = o.abandoned
            || (o.answered_at.is_some() && o.bridged_at.is_none() && result != "cancel");
        let mut m = o.member.clone();
        let conf = &o.conf;
        // A barred number was never called: no attempt counts.
        let counts = result != "cancel" && result != DIAL_BLOCKED;
        if counts {
            m.attempts += 1;
        }
        if let Some(c) = m.communications.get_mut(o.comm) {
            if counts {
                c.attempts += 1;
            }
            c.last_activity_at = now_ms;
            c.last_cause = o.cause.clone().unwrap_or_else(|| result.clone());
        }
        let max = conf.max_attempts.max(1);
        let (ready_at, stop) = if result == "success" {
            (m.ready_at, Some("success".to_string()))
        } else if result == DIAL_BLOCKED {
            (m.ready_at, Some(DIAL_BLOCKED.to_string()))
        } else if result == "cancel" {
            (now_ms, None)
        } else if abandoned {
            if conf.retry_abandoned && m.attempts < max {
                let wait = i64::from(conf.wait_between_retries) * 1000;
                (now_ms + wait.max(ABANDON_HOLD_MS), None)
            } else {
                (now_ms + ABANDON_HOLD_MS, Some("abandoned".to_string()))
            }
        } else if m.attempts >= max {
            (m.ready_at, Some(result.clone()))
        } else {
            let next = o
                .next_at
                .filter(|t| *t > now_ms)
                .unwrap_or(now_ms + i64::from(conf.wait_between_retries) * 1000);
            (next, None)
        };
        self.member_hold
            .insert(m.id, if stop.is_some() { i64::MAX } else { ready_at });
        if let Some(d) = self.dialers.get_mut(&a.queue_id) {
            if abandoned {
                d.stats.abandoned += 1;
                let wait = o
                    .answered_at
                    .map(|t| now.saturating_duration_since(t))
                    .unwrap_or_default();
                d.pacer.observe(
                    PaceEvent::Abandoned {
                        attempt_id: a.id,
                        wait,
                    },
                    now,
                );
            } else if let Some(b) = o.bridged_at {
                d.pacer.observe(
                    PaceEvent::Ended {
                        attempt_id: a.id,
                        handle: now.saturating_duration_since(b),
                    },
                    now,
                );
            }
        }
        self.push(Output::MemberUpdate(MemberRecord {
            domain_id: a.domain_id,
            member_id: m.id,
            attempts: m.attempts,
            ready_at,
            stop_at: stop.as_ref().map(|_| now_ms),
            stop_cause: stop,
            last_activity_at: now_ms,
            communications: m.communications,
        }));
    }

    /// A dialer attempt was bridged to its agent.
    pub(crate) fn outbound_bridged(&mut self, id: i64) {
        let now = self.now();
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        let Some(o) = a.outbound.as_mut() else {
            return;
        };
        o.bridged_at = Some(now);
        let wait = o
            .answered_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        let queue_id = a.queue_id;
        if let Some(d) = self.dialers.get_mut(&queue_id) {
            d.stats.bridged += 1;
            d.pacer.observe(
                PaceEvent::Bridged {
                    attempt_id: id,
                    wait,
                },
                now,
            );
        }
    }

    /// The dialer's part of the board: counters per dialer queue.
    pub(crate) fn dial_board(&self, queue_id: i64) -> Option<serde_json::Value> {
        let d = self.dialers.get(&queue_id)?;
        let s = d.stats;
        let rate = if s.answered == 0 {
            0.0
        } else {
            s.abandoned as f64 * 100.0 / s.answered as f64
        };
        Some(
            json!({"dialing": d.dialing, "callable": d.pending.len(), "dialed": s.dialed,
                    "answered": s.answered, "failed": s.failed, "bridged": s.bridged,
                    "abandoned": s.abandoned, "abandoned_rate": rate}),
        )
    }
}
