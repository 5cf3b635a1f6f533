//! One simulated day: discrete events on a virtual clock, seeded. The pacer is driven through
//! the same [`Dialer`] the runtime uses and sees only the events a runtime would report.
//!
//! Common random numbers: each lead's time zone and each (lead, attempt)'s outcome draw,
//! ringing, talk and wrap-up times come from a generator seeded by (seed, lead, attempt), and
//! each agent's schedule from one seeded by (seed, agent). Which leads a pacer reaches, and
//! when, depends on the pacer; what happens on the k-th attempt of lead i does not (the answer
//! jump moves the outcome shares at dial time, on the same uniform draw).

use super::scenario::{minutes, Duration, Scenario};
use crate::dialer::Dialer;
use crate::ledger::{uk_rate, us_rate, MIN_ANSWERS_PER_HOUR};
use crate::pacer::{Pacer, Pacing};
use crate::types::{AnsweredBy, CallId, Event, Millis, Mode, Unanswered};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

const MINUTE_MS: Millis = 60_000;
const DAY_MS: Millis = 86_400_000;
/// The simulated date: 2024-10-04 (a Friday), days since 1970-01-01.
const SIM_DAY: i64 = 20_000;
/// Wrap-up after a machine that reached an agent.
const MACHINE_WRAP_MS: Millis = 2_000;

/// What one pacer achieved on one simulated day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayReport {
    pub pacer: String,
    pub seed: u64,
    pub agents: u32,
    /// (talk + wrap-up) / time logged in and not on a break.
    pub occupancy: f64,
    /// Minutes talking to people per agent-hour logged in.
    pub talk_min_per_agent_hour: f64,
    /// People connected to an agent per agent-hour.
    pub connects_per_agent_hour: f64,
    /// Mean seconds an agent waits between calls (free → next call).
    pub mean_wait_s: f64,
    /// US formula, percent: drops / human answers.
    pub abandon_us: f64,
    /// UK (Ofcom) formula, percent, AMD-adjusted with the day's true silent calls.
    pub abandon_uk: f64,
    /// Worst rolling hour (US formula; full hours of the day with at least 30 answers),
    /// percent.
    pub worst_hour: f64,
    pub agent_hours: f64,
    pub dials: u64,
    pub human_answers: u64,
    pub drops: u64,
    pub bridged: u64,
    pub machine_at_agent: u64,
    /// People the AMD hung up on.
    pub silent_calls: u64,
    pub leads_used: u64,
    /// Compliance counters, all must be 0.
    pub calls_outside_hours: u64,
    pub redials_within_lockout: u64,
    /// Ticks on which the pacer fell back to progressive (warm-up, few agents, guard).
    pub fallback_ticks: u64,
}

/// Half an hour of a simulated day (call-center clock), for seeing how a pacer behaves
/// through the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Minutes past midnight, call-center time.
    pub minute: u32,
    pub occupancy: f64,
    pub agents_ready: f64,
    pub dials: u64,
    pub human_answers: u64,
    pub drops: u64,
    /// Mean dial level the pacer reported on its ticks.
    pub level: f64,
    pub fallback_ticks: u64,
    #[serde(skip)]
    ticks: u64,
    #[serde(skip)]
    ready_ms: Millis,
    #[serde(skip)]
    busy_ms: Millis,
}

const SLOT_MS: Millis = 30 * MINUTE_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Tick,
    Login(usize),
    Leave(usize),
    BreakStart(usize, Millis),
    BreakEnd(usize),
    Resolve(usize),
    Deadline(usize),
    TalkEnd(usize),
    WrapEnd(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    at: Millis,
    seq: u64,
    ev: Ev,
}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a dial will turn out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Human,
    /// A person the AMD called a machine.
    Silent,
    Machine,
    /// A machine the AMD let through as a person.
    MachineThrough,
    Busy,
    Failed,
    NoAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Ringing,
    Waiting,
    Talking,
    Done,
}

#[derive(Debug, Clone, Copy)]
struct SimCall {
    lead: u32,
    kind: Kind,
    state: CallState,
    talk_ms: Millis,
    wrap_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AState {
    Off,
    Free,
    Talk,
    Wrap,
    Away,
}

#[derive(Debug, Clone, Copy)]
struct SimAgent {
    state: AState,
    since: Millis,
    /// After this call: a break of this length, or (None inside) the end of the shift.
    pending: Option<Option<Millis>>,
    logout_at: Millis,
    talk_human: bool,
    call: Option<usize>,
    ready_ms: Millis,
    busy_ms: Millis,
    talk_ms: Millis,
}

#[derive(Debug, Clone, Copy)]
struct Lead {
    zone: u8,
    attempts: u32,
    locked_until: Millis,
    done: bool,
}

/// Per-attempt draws, fixed by (seed, lead, attempt).
#[derive(Debug, Clone, Copy)]
struct Draw {
    u_outcome: f64,
    u_amd: f64,
    pdd_ms: Millis,
    ring_human_ms: Millis,
    ring_machine_ms: Millis,
    busy_ms: Millis,
    failed_ms: Millis,
    talk_ms: Millis,
    wrap_ms: Millis,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn stream(seed: u64, a: u64, b: u64) -> StdRng {
    StdRng::seed_from_u64(mix(mix(mix(seed) ^ a) ^ b))
}

fn ms(s: f64) -> Millis {
    (s * 1000.0).round() as Millis
}

fn uniform(rng: &mut StdRng, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.gen::<f64>()
}

fn lognormal(rng: &mut StdRng, d: &Duration) -> f64 {
    let s2 = (1.0 + d.cv * d.cv).ln();
    let mu = d.mean_s.ln() - s2 / 2.0;
    // Box–Muller.
    let (u1, u2): (f64, f64) = (rng.gen(), rng.gen());
    let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mu + s2.sqrt() * z).exp().min(d.max_s)
}

struct Plan {
    center_offset_ms: Millis,
    day_start: Millis,
    call_from: u32,
    call_to: u32,
    jump: Option<(u32, f64)>,
    zone_cdf: Vec<f64>,
}

struct Sim<'a> {
    sc: &'a Scenario,
    plan: Plan,
    seed: u64,
    dialer: Dialer,
    now: Millis,
    seq: u64,
    heap: BinaryHeap<Reverse<Item>>,
    leads: Vec<Lead>,
    fresh: Vec<VecDeque<u32>>,
    retry: Vec<BinaryHeap<Reverse<(Millis, u32)>>>,
    calls: Vec<SimCall>,
    agents: Vec<SimAgent>,
    /// Free agents, longest idle first.
    free: BTreeSet<(Millis, usize)>,
    waiting: VecDeque<usize>,
    last_logout: Millis,
    /// Human answers resolved (bridged or dropped): (time, dropped).
    resolutions: Vec<(Millis, bool)>,
    wait_sum_ms: Millis,
    waits: u64,
    slots: Vec<Slot>,
    r: DayReport,
}

/// Runs one day of `scenario` with one of the named pacers.
///
/// # Panics
/// If `scenario.validate()` fails.
pub fn simulate(scenario: &Scenario, pacer: Pacer, seed: u64) -> DayReport {
    simulate_with(scenario, pacer.build(&scenario.vicidial), seed)
}

/// Runs one day with any pacer (the report names it by [`Pacing::name`]).
///
/// # Panics
/// If `scenario.validate()` fails.
pub fn simulate_with(scenario: &Scenario, pacer: Box<dyn Pacing>, seed: u64) -> DayReport {
    simulate_traced(scenario, pacer, seed).0
}

/// [`simulate_with`], plus the day in half hours.
///
/// # Panics
/// If `scenario.validate()` fails.
pub fn simulate_traced(
    scenario: &Scenario,
    pacer: Box<dyn Pacing>,
    seed: u64,
) -> (DayReport, Vec<Slot>) {
    if let Err(e) = scenario.validate() {
        panic!("invalid scenario: {e}");
    }
    let mut cfg = scenario.dialer.clone();
    cfg.utc_offset_minutes = scenario.center_utc_offset_minutes;
    cfg.abandon_after_s = scenario.abandon_after_s;
    let name = pacer.name().to_string();
    let dialer = Dialer::with_pacer(cfg, pacer).expect("validated configuration");
    let mut sim = Sim::new(scenario, dialer, seed, name);
    sim.run();
    sim.finish()
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, dialer: Dialer, seed: u64, pacer: String) -> Self {
        let center_offset_ms = Millis::from(sc.center_utc_offset_minutes) * MINUTE_MS;
        let total: f64 = sc.zones.iter().map(|z| z.share).sum();
        let mut acc = 0.0;
        let zone_cdf = sc
            .zones
            .iter()
            .map(|z| {
                acc += z.share / total;
                acc
            })
            .collect();
        let t = |s: &str| minutes(s).expect("validated time");
        let plan = Plan {
            center_offset_ms,
            day_start: SIM_DAY * DAY_MS - center_offset_ms,
            call_from: t(&sc.calling_hours[0]),
            call_to: t(&sc.calling_hours[1]),
            jump: sc.answer_jump.as_ref().map(|j| (t(&j.at), j.human)),
            zone_cdf,
        };
        let zones = sc.zones.len();
        Sim {
            sc,
            plan,
            seed,
            dialer,
            now: 0,
            seq: 0,
            heap: BinaryHeap::new(),
            leads: Vec::new(),
            fresh: vec![VecDeque::new(); zones],
            retry: vec![BinaryHeap::new(); zones],
            calls: Vec::new(),
            agents: Vec::new(),
            free: BTreeSet::new(),
            waiting: VecDeque::new(),
            last_logout: 0,
            resolutions: Vec::new(),
            wait_sum_ms: 0,
            waits: 0,
            slots: Vec::new(),
            r: DayReport {
                pacer,
                seed,
                agents: sc.agents,
                occupancy: 0.0,
                talk_min_per_agent_hour: 0.0,
                connects_per_agent_hour: 0.0,
                mean_wait_s: 0.0,
                abandon_us: 0.0,
                abandon_uk: 0.0,
                worst_hour: 0.0,
                agent_hours: 0.0,
                dials: 0,
                human_answers: 0,
                drops: 0,
                bridged: 0,
                machine_at_agent: 0,
                silent_calls: 0,
                leads_used: 0,
                calls_outside_hours: 0,
                redials_within_lockout: 0,
                fallback_ticks: 0,
            },
        }
    }

    fn at(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse(Item {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// Center-clock time of day → epoch ms today.
    fn clock(&self, minute: f64) -> Millis {
        self.plan.day_start + ms(minute * 60.0)
    }

    fn center_minute(&self, t: Millis) -> u32 {
        ((t + self.plan.center_offset_ms).rem_euclid(DAY_MS) / MINUTE_MS) as u32
    }

    fn schedule_agents(&mut self) {
        let sc = self.sc;
        let start = f64::from(minutes(&sc.shift_start).expect("validated"));
        let end = f64::from(minutes(&sc.shift_end).expect("validated"));
        let mut first_login = Millis::MAX;
        for a in 0..sc.agents as usize {
            let mut rng = stream(self.seed, 0xA6E7, a as u64);
            let mut login = start + 5.0 * rng.gen::<f64>();
            if rng.gen::<f64>() < sc.late_share {
                login = start + sc.late_minutes * rng.gen::<f64>();
            }
            let mut logout = end + 5.0 * rng.gen::<f64>();
            if rng.gen::<f64>() < sc.early_share {
                logout = end - sc.early_minutes * rng.gen::<f64>();
            }
            let (login, logout) = (self.clock(login), self.clock(logout.max(login + 30.0)));
            self.agents.push(SimAgent {
                state: AState::Off,
                since: login,
                pending: None,
                logout_at: logout,
                talk_human: false,
                call: None,
                ready_ms: 0,
                busy_ms: 0,
                talk_ms: 0,
            });
            self.at(login, Ev::Login(a));
            self.at(logout, Ev::Leave(a));
            for b in &sc.breaks {
                let at = f64::from(minutes(&b.at).expect("validated"))
                    + b.jitter_minutes * (2.0 * rng.gen::<f64>() - 1.0);
                let len = ms(b.minutes * 60.0 * (0.9 + 0.2 * rng.gen::<f64>()));
                let at = self.clock(at);
                if at > login && at + len < logout {
                    self.at(at, Ev::BreakStart(a, len));
                }
            }
            first_login = first_login.min(login);
            self.last_logout = self.last_logout.max(logout);
        }
        if first_login != Millis::MAX {
            let tick = self.sc.tick_ms;
            self.at(first_login - first_login.rem_euclid(tick), Ev::Tick);
        }
    }

    fn run(&mut self) {
        self.schedule_agents();
        while let Some(Reverse(item)) = self.heap.pop() {
            self.now = item.at;
            match item.ev {
                Ev::Tick => self.tick(),
                Ev::Login(a) => self.login(a),
                Ev::Leave(a) => self.leave(a, None),
                Ev::BreakStart(a, len) => self.leave(a, Some(len)),
                Ev::BreakEnd(a) => self.break_end(a),
                Ev::Resolve(c) => self.resolve(c),
                Ev::Deadline(c) => self.deadline(c),
                Ev::TalkEnd(a) => self.talk_end(a),
                Ev::WrapEnd(a) => self.wrap_end(a),
            }
        }
    }

    // ---- agents -------------------------------------------------------------------------

    fn slot(&mut self) -> &mut Slot {
        let i = ((self.now - self.plan.day_start).max(0) / SLOT_MS) as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::default());
        }
        &mut self.slots[i]
    }

    fn set_state(&mut self, a: usize, to: AState) {
        let now = self.now;
        let spent = now - self.agents[a].since;
        let (was, slot) = (self.agents[a].state, self.slot());
        match was {
            AState::Free => slot.ready_ms += spent,
            AState::Talk | AState::Wrap => {
                slot.ready_ms += spent;
                slot.busy_ms += spent;
            }
            AState::Off | AState::Away => {}
        }
        let ag = &mut self.agents[a];
        match ag.state {
            AState::Free => ag.ready_ms += spent,
            AState::Talk => {
                ag.ready_ms += spent;
                ag.busy_ms += spent;
                if ag.talk_human {
                    ag.talk_ms += spent;
                }
            }
            AState::Wrap => {
                ag.ready_ms += spent;
                ag.busy_ms += spent;
            }
            AState::Off | AState::Away => {}
        }
        if ag.state == AState::Free {
            self.free.remove(&(ag.since, a));
        }
        ag.state = to;
        ag.since = now;
        if to == AState::Free {
            self.free.insert((now, a));
        }
    }

    fn login(&mut self, a: usize) {
        if self.agents[a].state == AState::Off && self.now < self.agents[a].logout_at {
            self.become_free(a);
        }
    }

    fn become_free(&mut self, a: usize) {
        self.set_state(a, AState::Free);
        self.dialer
            .handle(Event::AgentFree { agent: a as i64 }, self.now);
        while let Some(c) = self.waiting.pop_front() {
            if self.calls[c].state == CallState::Waiting {
                self.bridge(c, a);
                break;
            }
        }
    }

    /// A break (`Some(len)`) or the end of the shift (`None`), now or after the current call.
    fn leave(&mut self, a: usize, brk: Option<Millis>) {
        match self.agents[a].state {
            AState::Free => self.go_away(a, brk),
            AState::Talk | AState::Wrap => {
                if self.agents[a].pending.is_none() {
                    self.dialer
                        .handle(Event::AgentLeaving { agent: a as i64 }, self.now);
                }
                if self.agents[a].pending.is_none() || brk.is_none() {
                    self.agents[a].pending = Some(brk);
                }
            }
            AState::Away if brk.is_none() => {
                // The shift ends during a break: the break end will not bring them back.
            }
            AState::Off | AState::Away => {}
        }
    }

    fn go_away(&mut self, a: usize, brk: Option<Millis>) {
        self.set_state(
            a,
            if brk.is_some() {
                AState::Away
            } else {
                AState::Off
            },
        );
        self.dialer
            .handle(Event::AgentAway { agent: a as i64 }, self.now);
        if let Some(len) = brk {
            self.at(self.now + len, Ev::BreakEnd(a));
        }
    }

    fn break_end(&mut self, a: usize) {
        if self.agents[a].state == AState::Away {
            if self.now < self.agents[a].logout_at {
                self.become_free(a);
            } else {
                self.set_state(a, AState::Off);
            }
        }
    }

    fn talk_end(&mut self, a: usize) {
        let Some(c) = self.agents[a].call else {
            return;
        };
        let call = self.calls[c];
        if call.kind == Kind::MachineThrough {
            self.dialer
                .handle(Event::MachineAtAgent { call: c as CallId }, self.now);
            self.retry_later(call.lead, self.sc.retry.machine_minutes);
        } else {
            self.leads[call.lead as usize].done = true;
        }
        self.calls[c].state = CallState::Done;
        self.set_state(a, AState::Wrap);
        self.agents[a].call = None;
        self.dialer
            .handle(Event::AgentWrap { agent: a as i64 }, self.now);
        self.at(self.now + call.wrap_ms, Ev::WrapEnd(a));
    }

    fn wrap_end(&mut self, a: usize) {
        if self.agents[a].state != AState::Wrap {
            return;
        }
        match self.agents[a].pending.take() {
            Some(brk) if brk.is_none() || self.now < self.agents[a].logout_at => {
                self.go_away(a, brk)
            }
            _ if self.now >= self.agents[a].logout_at => self.go_away(a, None),
            _ => self.become_free(a),
        }
    }

    // ---- calls --------------------------------------------------------------------------

    fn bridge(&mut self, c: usize, a: usize) {
        let now = self.now;
        let free_since = self.agents[a].since;
        self.wait_sum_ms += now - free_since;
        self.waits += 1;
        self.set_state(a, AState::Talk);
        let call = self.calls[c];
        let human = call.kind == Kind::Human;
        self.agents[a].talk_human = human;
        self.agents[a].call = Some(c);
        self.calls[c].state = CallState::Talking;
        self.dialer.handle(
            Event::Bridged {
                call: c as CallId,
                agent: a as i64,
            },
            now,
        );
        self.resolutions.push((now, false));
        if human {
            self.r.bridged += 1;
        } else {
            self.r.machine_at_agent += 1;
        }
        self.at(now + call.talk_ms, Ev::TalkEnd(a));
    }

    fn resolve(&mut self, c: usize) {
        let now = self.now;
        let call = self.calls[c];
        let id = c as CallId;
        let unanswered = |why| Event::NotAnswered { call: id, why };
        match call.kind {
            Kind::Human | Kind::MachineThrough => {
                self.r.human_answers += 1;
                self.slot().human_answers += 1;
                self.calls[c].state = CallState::Waiting;
                self.dialer.handle(
                    Event::Answered {
                        call: id,
                        by: AnsweredBy::Human,
                    },
                    now,
                );
                if let Some(&(_, a)) = self.free.iter().next() {
                    self.bridge(c, a);
                } else {
                    self.waiting.push_back(c);
                    self.at(now + ms(self.sc.abandon_after_s), Ev::Deadline(c));
                }
                return;
            }
            Kind::Silent | Kind::Machine => {
                if call.kind == Kind::Silent {
                    self.r.silent_calls += 1;
                }
                self.dialer.handle(
                    Event::Answered {
                        call: id,
                        by: AnsweredBy::Machine,
                    },
                    now,
                );
                self.retry_later(call.lead, self.sc.retry.machine_minutes);
            }
            Kind::Busy => {
                self.dialer.handle(unanswered(Unanswered::Busy), now);
                self.retry_later(call.lead, self.sc.retry.busy_minutes);
            }
            Kind::Failed => {
                self.dialer.handle(unanswered(Unanswered::Failed), now);
                self.leads[call.lead as usize].done = true;
            }
            Kind::NoAnswer => {
                self.dialer.handle(unanswered(Unanswered::NoAnswer), now);
                self.retry_later(call.lead, self.sc.retry.no_answer_minutes);
            }
        }
        self.calls[c].state = CallState::Done;
    }

    fn deadline(&mut self, c: usize) {
        if self.calls[c].state != CallState::Waiting {
            return;
        }
        self.calls[c].state = CallState::Done;
        self.r.drops += 1;
        self.slot().drops += 1;
        self.resolutions.push((self.now, true));
        self.dialer
            .handle(Event::Abandoned { call: c as CallId }, self.now);
        let lead = self.calls[c].lead as usize;
        self.leads[lead].locked_until = self.now + ms(self.sc.abandon_lockout_hours * 3600.0);
        self.leads[lead].done = true;
    }

    fn retry_later(&mut self, lead: u32, minutes: f64) {
        let l = &mut self.leads[lead as usize];
        if l.done || l.attempts >= self.sc.retry.max_attempts {
            l.done = true;
            return;
        }
        let zone = usize::from(l.zone);
        self.retry[zone].push(Reverse((self.now + ms(minutes * 60.0), lead)));
    }

    // ---- leads and dialing --------------------------------------------------------------

    fn callable(&self, zone: usize) -> bool {
        let offset = Millis::from(self.sc.zones[zone].utc_offset_minutes) * MINUTE_MS;
        let minute = ((self.now + offset).rem_euclid(DAY_MS) / MINUTE_MS) as u32;
        (self.plan.call_from..self.plan.call_to).contains(&minute)
    }

    fn new_lead(&mut self) {
        let i = self.leads.len() as u64;
        let mut rng = stream(self.seed, 0x1EAD, i);
        let u: f64 = rng.gen();
        let zone = self
            .plan
            .zone_cdf
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.plan.zone_cdf.len() - 1);
        self.leads.push(Lead {
            zone: zone as u8,
            attempts: 0,
            locked_until: Millis::MIN,
            done: false,
        });
        self.fresh[zone].push_back(i as u32);
    }

    fn next_lead(&mut self) -> Option<u32> {
        let zones: Vec<usize> = (0..self.sc.zones.len())
            .filter(|&z| self.callable(z))
            .collect();
        if zones.is_empty() {
            return None;
        }
        // A due retry first (the earliest due), then the first fresh lead.
        let due = zones
            .iter()
            .filter_map(|&z| self.retry[z].peek().map(|Reverse(x)| (*x, z)))
            .filter(|((at, _), _)| *at <= self.now)
            .min();
        if let Some((_, z)) = due {
            let Reverse((_, lead)) = self.retry[z].pop().expect("peeked");
            return Some(lead);
        }
        for _ in 0..10_000 {
            let best = zones
                .iter()
                .filter_map(|&z| self.fresh[z].front().map(|&l| (l, z)))
                .min();
            if let Some((_, z)) = best {
                return self.fresh[z].pop_front();
            }
            self.new_lead();
        }
        None
    }

    fn draw(&self, lead: u32, attempt: u32) -> Draw {
        let sc = self.sc;
        let mut rng = stream(self.seed, u64::from(lead) + 1, u64::from(attempt));
        let ha = &sc.human_answer;
        let (u_outcome, u_amd, u_mode) = (rng.gen(), rng.gen(), rng.gen::<f64>());
        let ring_human = if u_mode < ha.instant_share {
            rng.gen::<f64>()
        } else if u_mode < ha.instant_share + ha.fast_share {
            uniform(&mut rng, ha.fast_s)
        } else {
            uniform(&mut rng, ha.slow_s)
        };
        Draw {
            u_outcome,
            u_amd,
            pdd_ms: ms(uniform(&mut rng, sc.post_dial_delay_s)),
            ring_human_ms: ms(ring_human),
            ring_machine_ms: ms(uniform(&mut rng, sc.machine_answer_s)),
            busy_ms: ms(uniform(&mut rng, sc.busy_s)),
            failed_ms: ms(uniform(&mut rng, sc.failed_s)),
            talk_ms: ms(lognormal(&mut rng, &sc.talk)),
            wrap_ms: ms(lognormal(&mut rng, &sc.wrap)),
        }
    }

    fn dial(&mut self) -> bool {
        let Some(lead) = self.next_lead() else {
            return false;
        };
        let now = self.now;
        let l = self.leads[lead as usize];
        if l.attempts == 0 {
            self.r.leads_used += 1;
        }
        if !self.callable(usize::from(l.zone)) {
            self.r.calls_outside_hours += 1;
        }
        if l.locked_until > now {
            self.r.redials_within_lockout += 1;
        }
        let d = self.draw(lead, l.attempts);
        self.leads[lead as usize].attempts += 1;
        let o = &self.sc.outcomes;
        let mut human = o.human;
        if let Some((at, h)) = self.plan.jump {
            if self.center_minute(now) >= at {
                human = h;
            }
        }
        let amd = &self.sc.amd;
        let u = d.u_outcome;
        let (kind, after) = if u < human {
            let answer = d.pdd_ms + d.ring_human_ms;
            if d.u_amd < amd.false_positive {
                (Kind::Silent, answer + ms(amd.detect_s))
            } else {
                (Kind::Human, answer)
            }
        } else if u < human + o.machine {
            let decided = d.pdd_ms + d.ring_machine_ms + ms(amd.detect_s);
            if d.u_amd < amd.false_negative {
                (Kind::MachineThrough, decided)
            } else {
                (Kind::Machine, decided)
            }
        } else if u < human + o.machine + o.busy {
            (Kind::Busy, d.pdd_ms + d.busy_ms)
        } else if u < human + o.machine + o.busy + o.failed {
            (Kind::Failed, d.failed_ms)
        } else {
            (Kind::NoAnswer, d.pdd_ms + ms(self.sc.ring_timeout_s))
        };
        let (talk_ms, wrap_ms) = if kind == Kind::MachineThrough {
            (ms(amd.machine_at_agent_s), MACHINE_WRAP_MS)
        } else {
            (d.talk_ms, d.wrap_ms)
        };
        let c = self.calls.len();
        self.calls.push(SimCall {
            lead,
            kind,
            state: CallState::Ringing,
            talk_ms,
            wrap_ms,
        });
        self.r.dials += 1;
        self.slot().dials += 1;
        self.dialer
            .handle(Event::CallStarted { call: c as CallId }, now);
        self.at(now + after, Ev::Resolve(c));
        true
    }

    fn tick(&mut self) {
        let decision = self.dialer.tick(self.now);
        let fallback = matches!(decision.mode, Mode::Fallback(_));
        self.r.fallback_ticks += u64::from(fallback);
        let slot = self.slot();
        slot.fallback_ticks += u64::from(fallback);
        if decision.mode != Mode::Idle {
            slot.ticks += 1;
            slot.level += decision.level;
        }
        for _ in 0..decision.dial {
            if !self.dial() {
                break;
            }
        }
        if self.now < self.last_logout {
            self.at(self.now + self.sc.tick_ms, Ev::Tick);
        }
    }

    // ---- the report ---------------------------------------------------------------------

    fn finish(mut self) -> (DayReport, Vec<Slot>) {
        let (mut ready, mut busy, mut talk) = (0, 0, 0);
        for a in 0..self.agents.len() {
            self.set_state(a, AState::Off);
            let ag = &self.agents[a];
            ready += ag.ready_ms;
            busy += ag.busy_ms;
            talk += ag.talk_ms;
        }
        let r = &mut self.r;
        let hours = ready as f64 / 3_600_000.0;
        let per_hour = |x: f64| if hours > 0.0 { x / hours } else { 0.0 };
        r.agent_hours = hours;
        r.occupancy = if ready > 0 {
            busy as f64 / ready as f64
        } else {
            0.0
        };
        r.talk_min_per_agent_hour = per_hour(talk as f64 / 60_000.0);
        r.connects_per_agent_hour = per_hour(r.bridged as f64);
        r.mean_wait_s = if self.waits > 0 {
            self.wait_sum_ms as f64 / self.waits as f64 / 1000.0
        } else {
            0.0
        };
        r.abandon_us = us_rate(r.drops as f64, r.human_answers as f64);
        r.abandon_uk = uk_rate(
            r.drops as f64,
            r.bridged as f64,
            r.machine_at_agent as f64,
            r.silent_calls as f64,
        );
        r.worst_hour = worst_hour(&self.resolutions);
        let center = self.plan.center_offset_ms;
        let slots = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.ready_ms > 0 || s.dials > 0)
            .map(|(i, s)| {
                let start = self.plan.day_start + i as Millis * SLOT_MS;
                Slot {
                    minute: ((start + center).rem_euclid(DAY_MS) / MINUTE_MS) as u32,
                    occupancy: if s.ready_ms > 0 {
                        s.busy_ms as f64 / s.ready_ms as f64
                    } else {
                        0.0
                    },
                    agents_ready: s.ready_ms as f64 / SLOT_MS as f64,
                    level: if s.ticks > 0 {
                        s.level / s.ticks as f64
                    } else {
                        0.0
                    },
                    ..*s
                }
            })
            .collect();
        (self.r, slots)
    }
}

/// The worst rolling hour (US formula) over the full hours ending at each resolution.
fn worst_hour(rs: &[(Millis, bool)]) -> f64 {
    let (mut lo, mut drops, mut worst) = (0, 0u32, 0.0f64);
    let first = rs.first().map_or(0, |r| r.0);
    for (hi, &(t, d)) in rs.iter().enumerate() {
        drops += u32::from(d);
        while rs[lo].0 <= t - 3_600_000 {
            drops -= u32::from(rs[lo].1);
            lo += 1;
        }
        let n = (hi - lo + 1) as u32;
        if t >= first + 3_600_000 && n >= MIN_ANSWERS_PER_HOUR {
            worst = worst.max(us_rate(f64::from(drops), f64::from(n)));
        }
    }
    worst
}
