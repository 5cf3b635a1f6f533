//! The campaign's live state as the events told it: agents, calls in progress, statistics and
//! the abandonment ledger. Pacers read it; only [`crate::Dialer`] writes it.

use crate::config::Config;
use crate::ledger::{Abandonment, Ledger};
use crate::stats::{Resolution, Stats};
use crate::types::{AgentId, AnsweredBy, CallId, Event, Millis};
use std::collections::{BTreeMap, VecDeque};

/// What an agent is doing, as far as pacing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentActivity {
    Free,
    Talk,
    Wrap,
    Away,
}

#[derive(Debug, Clone, Copy)]
struct Agent {
    activity: AgentActivity,
    since: Millis,
    /// When the current (or last) call started, for the handle time.
    talk_from: Option<Millis>,
    /// Goes away after this call.
    leaving: bool,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    started: Millis,
    /// A human answer waiting for an agent, since.
    answered: Option<Millis>,
}

const MINUTE_MS: Millis = 60_000;

/// Read-only view of a campaign for pacers.
#[derive(Debug, Clone)]
pub struct State {
    cfg: Config,
    agents: BTreeMap<AgentId, Agent>,
    calls: BTreeMap<CallId, Call>,
    free: u32,
    talking: u32,
    wrapping: u32,
    ringing: u32,
    waiting: u32,
    stats: Stats,
    ledger: Ledger,
    /// The last minute: (time, kind) with kind 0 = dialled, 1 = human answer, 2 = drop.
    minute: VecDeque<(Millis, u8)>,
    minute_counts: [u32; 3],
    day: i64,
    dialled_today: u32,
}

impl State {
    pub(crate) fn new(cfg: Config) -> Self {
        State {
            stats: Stats::new(cfg.statistic_time),
            ledger: Ledger::new(cfg.utc_offset_minutes, cfg.amd_false_positive_rate),
            cfg,
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            free: 0,
            talking: 0,
            wrapping: 0,
            ringing: 0,
            waiting: 0,
            minute: VecDeque::new(),
            minute_counts: [0; 3],
            day: i64::MIN,
            dialled_today: 0,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Agents ready for a call now.
    pub fn free_agents(&self) -> u32 {
        self.free
    }

    /// Agents talking on a call.
    pub fn talking_agents(&self) -> u32 {
        self.talking
    }

    /// Agents in wrap-up.
    pub fn wrapping_agents(&self) -> u32 {
        self.wrapping
    }

    /// Agents logged in and not paused: free, talking or in wrap-up.
    pub fn active_agents(&self) -> u32 {
        self.free + self.talking + self.wrapping
    }

    /// Dialled calls not yet answered.
    pub fn ringing_calls(&self) -> u32 {
        self.ringing
    }

    /// Human answers waiting for an agent.
    pub fn waiting_calls(&self) -> u32 {
        self.waiting
    }

    /// Seconds into the call of every talking agent, and into wrap-up of every wrapping one,
    /// except agents who leave after this call.
    pub fn busy_elapsed(&self, now: Millis) -> impl Iterator<Item = (AgentActivity, f64)> + '_ {
        self.agents.values().filter_map(move |a| match a.activity {
            AgentActivity::Talk | AgentActivity::Wrap if !a.leaving => {
                Some((a.activity, (now - a.since).max(0) as f64 / 1000.0))
            }
            _ => None,
        })
    }

    /// Seconds since dialing of every call not yet answered.
    pub fn ringing_elapsed(&self, now: Millis) -> impl Iterator<Item = f64> + '_ {
        self.calls
            .values()
            .filter(|c| c.answered.is_none())
            .map(move |c| (now - c.started).max(0) as f64 / 1000.0)
    }

    /// How many more calls `max_calls` allows (None = unlimited).
    pub fn room(&self) -> Option<u32> {
        match self.cfg.max_calls {
            m if m < 0 => None,
            m => {
                let busy = i64::from(self.ringing + self.waiting + self.talking);
                Some((m - busy).max(0) as u32)
            }
        }
    }

    /// The campaign's abandonment figures as of `now`.
    pub fn abandonment(&self, now: Millis) -> Abandonment {
        self.ledger.abandonment(now)
    }

    /// Today's counts: (human answers, drops, bridged, machines found by agents).
    pub fn today_counts(&self, now: Millis) -> (u32, u32, u32, u32) {
        self.ledger.today_counts(now)
    }

    /// The US window's counts: (human answers, drops).
    pub fn window_counts(&self, now: Millis) -> (u64, u64) {
        self.ledger.window_counts(now)
    }

    /// Calls dialled, human answers and drops in the last minute (as of the last input).
    pub fn last_minute(&self) -> (u32, u32, u32) {
        let [d, a, x] = self.minute_counts;
        (d, a, x)
    }

    /// Calls dialled today.
    pub fn dialled_today(&self) -> u32 {
        self.dialled_today
    }

    /// Minutes past local midnight in the campaign's time zone.
    pub fn local_minute_of_day(&self, now: Millis) -> u32 {
        let local = now + Millis::from(self.cfg.utc_offset_minutes) * MINUTE_MS;
        (local.rem_euclid(86_400_000) / MINUTE_MS) as u32
    }

    fn note(&mut self, now: Millis, kind: u8) {
        self.minute.push_back((now, kind));
        self.minute_counts[usize::from(kind)] += 1;
    }

    pub(crate) fn advance(&mut self, now: Millis) {
        while let Some(&(t, k)) = self.minute.front() {
            if t > now - MINUTE_MS {
                break;
            }
            self.minute.pop_front();
            self.minute_counts[usize::from(k)] -= 1;
        }
        let day = self.ledger.day_of(now);
        if day != self.day {
            self.day = day;
            self.dialled_today = 0;
        }
        self.stats.expire(now);
    }

    /// Brings the statistics up to date with the calls and agents as they are now (before a
    /// pacer looks).
    pub(crate) fn prepare(&mut self, now: Millis) {
        self.advance(now);
        let ringing: Vec<Millis> = self
            .calls
            .values()
            .filter(|c| c.answered.is_none())
            .map(|c| now - c.started)
            .collect();
        if self.stats.service_due(now) {
            let (mut handle, mut wrap) = (Vec::new(), Vec::new());
            for a in self.agents.values() {
                match (a.activity, a.talk_from) {
                    (AgentActivity::Talk, Some(t0)) => handle.push(now - t0),
                    (AgentActivity::Wrap, Some(t0)) => {
                        handle.push(now - t0);
                        wrap.push(now - a.since);
                    }
                    _ => {}
                }
            }
            self.stats.rebuild(now, &ringing, Some((&handle, &wrap)));
        } else {
            self.stats.rebuild(now, &ringing, None);
        }
    }

    fn set_agent(&mut self, id: AgentId, to: AgentActivity, now: Millis) {
        let a = self.agents.entry(id).or_insert(Agent {
            activity: AgentActivity::Away,
            since: now,
            talk_from: None,
            leaving: false,
        });
        let from = a.activity;
        if from == to && to != AgentActivity::Talk {
            return;
        }
        match from {
            AgentActivity::Free => self.free -= 1,
            AgentActivity::Talk => self.talking -= 1,
            AgentActivity::Wrap => self.wrapping -= 1,
            AgentActivity::Away => {}
        }
        match to {
            AgentActivity::Free => self.free += 1,
            AgentActivity::Talk => self.talking += 1,
            AgentActivity::Wrap => self.wrapping += 1,
            AgentActivity::Away => {}
        }
        // Handle and wrap-up times of the call that just ended.
        if to == AgentActivity::Free || to == AgentActivity::Away {
            if let Some(t0) = a.talk_from.take() {
                self.stats.handled(now - t0);
                if from == AgentActivity::Wrap {
                    self.stats.wrapped(now - a.since);
                } else {
                    self.stats.wrapped(0);
                }
            }
        }
        if to == AgentActivity::Talk {
            a.talk_from = Some(now);
        }
        if to == AgentActivity::Free || to == AgentActivity::Away {
            a.leaving = false;
        }
        a.activity = to;
        a.since = now;
    }

    fn take_call(&mut self, id: CallId) -> Option<Call> {
        let c = self.calls.remove(&id)?;
        if c.answered.is_some() {
            self.waiting -= 1;
        } else {
            self.ringing -= 1;
        }
        Some(c)
    }

    pub(crate) fn apply(&mut self, ev: Event, now: Millis) {
        self.advance(now);
        match ev {
            Event::CallStarted { call } => {
                if self.calls.contains_key(&call) {
                    return;
                }
                self.calls.insert(
                    call,
                    Call {
                        started: now,
                        answered: None,
                    },
                );
                self.ringing += 1;
                self.dialled_today += 1;
                self.note(now, 0);
            }
            Event::Answered { call, by } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                if c.answered.is_some() {
                    return;
                }
                let ring = now - c.started;
                match by {
                    AnsweredBy::Human => {
                        c.answered = Some(now);
                        self.ringing -= 1;
                        self.waiting += 1;
                        self.stats.resolved(now, ring, Resolution::Human);
                        self.ledger.answered_human(now);
                        self.note(now, 1);
                    }
                    AnsweredBy::Machine => {
                        self.take_call(call);
                        self.stats.resolved(now, ring, Resolution::Machine);
                        self.ledger.answered_machine(now);
                    }
                }
            }
            Event::NotAnswered { call, why } => {
                if let Some(c) = self.calls.get(&call) {
                    if c.answered.is_none() {
                        let ring = now - c.started;
                        self.take_call(call);
                        self.stats.resolved(now, ring, Resolution::Other(why));
                    }
                }
            }
            Event::Bridged { call, agent } => {
                if let Some(c) = self.calls.get(&call) {
                    if c.answered.is_some() {
                        self.take_call(call);
                        self.ledger.bridged(now);
                    }
                }
                self.set_agent(agent, AgentActivity::Talk, now);
            }
            Event::Abandoned { call } => {
                if let Some(c) = self.calls.get(&call) {
                    if c.answered.is_some() {
                        self.take_call(call);
                        self.ledger.dropped(now);
                        self.note(now, 2);
                    } else {
                        // Hung up before an answer was reported: an unanswered attempt.
                        let ring = now - c.started;
                        self.take_call(call);
                        self.stats.resolved(
                            now,
                            ring,
                            Resolution::Other(crate::types::Unanswered::NoAnswer),
                        );
                    }
                }
            }
            Event::MachineAtAgent { .. } => self.ledger.machine_at_agent(now),
            Event::AgentFree { agent } => self.set_agent(agent, AgentActivity::Free, now),
            Event::AgentBusy { agent } => {
                let a = self.agents.get(&agent).map(|a| a.activity);
                if a != Some(AgentActivity::Talk) {
                    self.set_agent(agent, AgentActivity::Talk, now);
                }
            }
            Event::AgentWrap { agent } => self.set_agent(agent, AgentActivity::Wrap, now),
            Event::AgentLeaving { agent } => {
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.leaving = matches!(a.activity, AgentActivity::Talk | AgentActivity::Wrap);
                }
            }
            Event::AgentAway { agent } => self.set_agent(agent, AgentActivity::Away, now),
        }
    }
}
