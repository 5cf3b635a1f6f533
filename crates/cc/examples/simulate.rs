//! An inbound contact center on a virtual clock: Poisson callers into five skill queues,
//! agents who answer (or let it ring out), talk, wrap up and report; callers who give up.
//! Nothing sleeps: an hour of traffic runs in seconds.
//!
//! ```text
//! cargo run --release -p switchboard-cc --example simulate -- \
//!     --agents 1000 --rate 50 --seconds 3600 --seed 1
//! ```
//!
//! Load model (chosen so 1,000 agents at 50 calls/s run near, but under, full load): ring
//! 2–8 s (mean 5), talk exponential mean 9 s, wrap-up 3 s: 17 s per answered call; 5 % of
//! offers ring out (15 s ring + 5 s missed hold) and go to another agent, ≈ +1 s per call.
//! Offered load ≈ 50 × 18 s = 900 agent-seconds per second, i.e. ≈ 90 % of 1,000 agents.
//! Queue 5 has post-call processing (the agent reports after 1–4 s), adding ≈ 0.25 s per call
//! on average. Callers give up after a patience uniform in 20–180 s; `max_wait_time` is 120 s.

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};
use switchboard_cc::{
    AgentConf, AgentSkill, Config, Directory, Engine, EventKind, IdSource, Input, Output,
    QueueConf, QueueSkill, QueueStrategy, TeamConf, TeamStrategy,
};

const QUEUES: usize = 5;
/// Share of calls (and of agents' primary skills) per queue.
const WEIGHTS: [f64; QUEUES] = [0.30, 0.25, 0.20, 0.15, 0.10];
const SECONDARY_SHARE: f64 = 0.4;
const RING_OUT: f64 = 0.05;
const TALK_MEAN_S: f64 = 9.0;
const WALL0: i64 = 1_718_000_000_000;

struct Args {
    agents: usize,
    rate: f64,
    seconds: u64,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        agents: 1000,
        rate: 50.0,
        seconds: 3600,
        seed: 1,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (name, v) = (pair[0].as_str(), pair.get(1).map(String::as_str));
        match name {
            "--agents" => a.agents = value(name, v),
            "--rate" => a.rate = value(name, v),
            "--seconds" => a.seconds = value(name, v),
            "--seed" => a.seed = value(name, v),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn value<T: std::str::FromStr>(name: &str, v: Option<&str>) -> T {
    v.and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} needs a numeric value"))
}

/// splitmix64: small, seedable, good enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    fn pick(&mut self, weights: &[f64]) -> usize {
        let mut x = self.unit();
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

#[derive(Debug, Clone)]
enum Ev {
    Arrival,
    Answer { attempt: i64, leg: String },
    RingOut { attempt: i64, leg: String },
    Patience { attempt: i64 },
    TalkEnd { attempt: i64 },
    Report { attempt: i64 },
    BackOnline { agent: i64 },
}

/// Virtual µs.
type Vt = u64;

fn us(s: f64) -> Vt {
    (s * 1e6) as Vt
}

#[derive(Default)]
struct AgentStats {
    free_since: Option<Vt>,
    idle_us: Vt,
    calls: u64,
    group: usize,
}

impl AgentStats {
    /// Ends a free stretch; only time before the end of arrivals counts as idle.
    fn close_idle(&mut self, vt: Vt, end: Vt) -> Option<Vt> {
        let free = self.free_since.take()?;
        if free < end {
            self.idle_us += vt.min(end) - free;
        }
        Some(free)
    }
}

struct World {
    engine: Engine,
    base: Instant,
    vt: Vt,
    /// End of arrivals.
    end: Vt,
    rng: Rng,
    heap: BinaryHeap<std::cmp::Reverse<(Vt, u64)>>,
    events: HashMap<u64, Ev>,
    seq: u64,
    // calls
    joined_at: HashMap<i64, Vt>,
    /// When each call last started waiting for an agent.
    waiting_since: HashMap<i64, Vt>,
    offered_once: HashSet<i64>,
    bridged: HashSet<i64>,
    ended: HashSet<i64>,
    ringing: HashMap<String, i64>,
    results: BTreeMap<String, u64>,
    join_to_offer_ms: Vec<f64>,
    free_to_offer_ms: Vec<f64>,
    offers: u64,
    ring_outs: u64,
    answered: u64,
    break_outs: u64,
    errors: BTreeMap<String, u64>,
    // agents
    agents: HashMap<i64, AgentStats>,
    user_agent: HashMap<i64, i64>,
    // cost
    handle_ns: Vec<u64>,
    board_changes: u64,
}

impl World {
    fn at(&mut self, vt: Vt, ev: Ev) {
        self.seq += 1;
        self.events.insert(self.seq, ev);
        self.heap.push(std::cmp::Reverse((vt, self.seq)));
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_micros(self.vt)
    }

    fn wall(&self) -> i64 {
        WALL0 + (self.vt / 1000) as i64
    }

    fn handle(&mut self, input: Input) -> Option<switchboard_cc::Reply> {
        let t = Instant::now();
        let r = self.engine.handle(input, self.instant(), self.wall());
        let mut outs = Vec::new();
        while let Some(o) = self.engine.poll_output() {
            outs.push(o);
        }
        self.handle_ns.push(t.elapsed().as_nanos() as u64);
        for o in outs {
            self.output(o);
        }
        match r {
            Ok(reply) => Some(reply),
            Err(e) => {
                *self.errors.entry(e.id().to_string()).or_default() += 1;
                None
            }
        }
    }

    fn output(&mut self, o: Output) {
        let vt = self.vt;
        match o {
            Output::Offer {
                attempt_id,
                agent_id,
                agent_leg,
                timeout,
                ..
            } => {
                self.offers += 1;
                let joined = *self.joined_at.entry(attempt_id).or_insert(vt);
                if self.offered_once.insert(attempt_id) {
                    self.join_to_offer_ms.push((vt - joined) as f64 / 1000.0);
                }
                // The agent's free moment, when the call was already waiting then.
                let end = self.end;
                let waiting_since = self.waiting_since.get(&attempt_id).copied();
                let a = self.agents.get_mut(&agent_id).expect("known agent");
                if let Some(free) = a.close_idle(vt, end) {
                    // The call was already waiting (not ringing someone) when this agent
                    // became free.
                    if waiting_since.is_some_and(|w| w <= free) {
                        self.free_to_offer_ms.push((vt - free) as f64 / 1000.0);
                    }
                }
                self.ringing.insert(agent_leg.clone(), attempt_id);
                if self.rng.unit() < RING_OUT {
                    let t = vt + timeout.as_micros() as Vt;
                    self.at(
                        t,
                        Ev::RingOut {
                            attempt: attempt_id,
                            leg: agent_leg,
                        },
                    );
                } else {
                    let t = vt + us(self.rng.uniform(2.0, 8.0));
                    self.at(
                        t,
                        Ev::Answer {
                            attempt: attempt_id,
                            leg: agent_leg,
                        },
                    );
                }
            }
            Output::CancelOffer { agent_leg, .. } => {
                self.ringing.remove(&agent_leg);
            }
            Output::Leave { .. } => {}
            Output::Event {
                user_id,
                kind,
                data,
                ..
            } => {
                let agent = self.user_agent[&user_id];
                match kind {
                    EventKind::Channel => match data["status"].as_str() {
                        Some("waiting") => {
                            let a = self.agents.get_mut(&agent).expect("known agent");
                            a.free_since.get_or_insert(vt);
                        }
                        Some("processing") => {
                            let attempt = data["attempt_id"].as_i64().expect("attempt id");
                            let t = vt + us(self.rng.uniform(1.0, 4.0));
                            self.at(t, Ev::Report { attempt });
                        }
                        _ => {}
                    },
                    EventKind::AgentStatus => {
                        let a = self.agents.get_mut(&agent).expect("known agent");
                        match data["status"].as_str() {
                            Some("online") if data["channels"][0]["state"] == "waiting" => {
                                a.free_since.get_or_insert(vt);
                            }
                            Some("break_out") => {
                                self.break_outs += 1;
                                a.close_idle(vt, self.end);
                                self.at(vt + us(10.0), Ev::BackOnline { agent });
                            }
                            _ => {}
                        }
                    }
                }
            }
            Output::AgentStatus { .. } => {}
            Output::Attempt(r) => {
                self.joined_at.entry(r.id).or_insert(vt);
                if r.state == "wait_agent" {
                    self.waiting_since.insert(r.id, vt);
                }
                if r.state == "bridged" && vt < self.end {
                    if let Some(agent) = r.agent_id {
                        if let Some(a) = self.agents.get_mut(&agent) {
                            a.calls += 1;
                        }
                    }
                }
                if r.state == "leaving" && self.ended.insert(r.id) {
                    let res = r.result.unwrap_or_else(|| "none".into());
                    *self.results.entry(res).or_default() += 1;
                }
            }
            Output::BoardChanged { .. } => self.board_changes += 1,
            // No dialer queues in this simulation.
            Output::LoadMembers { .. } | Output::Dial { .. } | Output::MemberUpdate(_) => {}
        }
    }

    fn event(&mut self, ev: Ev, end: Vt, rate: f64, next_caller: &mut u64) {
        match ev {
            Ev::Arrival => {
                *next_caller += 1;
                let q = self.rng.pick(&WEIGHTS);
                let leg = format!("caller-{next_caller}");
                let number = format!("+1555{:07}", self.rng.next() % 400_000);
                let reply = self.handle(Input::Join {
                    domain_id: 1,
                    queue_id: q as i64 + 1,
                    member_leg: leg,
                    number,
                    name: String::new(),
                    priority: 0,
                });
                if let Some(switchboard_cc::Reply::Joined { attempt_id }) = reply {
                    let t = self.vt + us(self.rng.uniform(20.0, 180.0));
                    self.at(
                        t,
                        Ev::Patience {
                            attempt: attempt_id,
                        },
                    );
                }
                let next = self.vt + us(self.rng.exp(1.0 / rate));
                if next < end {
                    self.at(next, Ev::Arrival);
                }
            }
            Ev::Answer { attempt, leg } => {
                if self.ringing.remove(&leg).is_some() {
                    self.handle(Input::OfferAnswered {
                        attempt_id: attempt,
                    });
                    self.answered += 1;
                    self.bridged.insert(attempt);
                    let t = self.vt + us(self.rng.exp(TALK_MEAN_S));
                    self.at(t, Ev::TalkEnd { attempt });
                }
            }
            Ev::RingOut { attempt, leg } => {
                if self.ringing.remove(&leg).is_some() {
                    self.ring_outs += 1;
                    self.handle(Input::OfferFailed {
                        attempt_id: attempt,
                    });
                }
            }
            Ev::Patience { attempt } => {
                if !self.bridged.contains(&attempt) && !self.ended.contains(&attempt) {
                    self.handle(Input::MemberLeft {
                        attempt_id: attempt,
                    });
                }
            }
            Ev::TalkEnd { attempt } => {
                // Whoever hangs up first, the other side's hangup follows (a late report).
                let (first, second) = if self.rng.unit() < 0.5 {
                    (
                        Input::MemberLeft {
                            attempt_id: attempt,
                        },
                        Input::AgentLeft {
                            attempt_id: attempt,
                        },
                    )
                } else {
                    (
                        Input::AgentLeft {
                            attempt_id: attempt,
                        },
                        Input::MemberLeft {
                            attempt_id: attempt,
                        },
                    )
                };
                self.handle(first);
                self.handle(second);
            }
            Ev::Report { attempt } => {
                self.handle(Input::Reporting {
                    attempt_id: attempt,
                    agent_id: None,
                    success: true,
                    description: None,
                    next_distribute_at: None,
                });
            }
            Ev::BackOnline { agent } => {
                self.handle(Input::Online {
                    agent_id: agent,
                    on_demand: false,
                });
            }
        }
    }
}

fn directory(n: usize, rng: &mut Rng) -> (Directory, Vec<usize>) {
    let mut groups = Vec::with_capacity(n);
    let agents = (1..=n as i64)
        .map(|id| {
            let primary = rng.pick(&WEIGHTS);
            let secondary = rng.unit() < SECONDARY_SHARE;
            groups.push(primary * 2 + usize::from(secondary));
            let mut skills = vec![AgentSkill {
                skill_id: primary as i64 + 1,
                capacity: 50,
                enabled: true,
            }];
            if secondary {
                skills.push(AgentSkill {
                    skill_id: ((primary + 1) % QUEUES) as i64 + 1,
                    capacity: 30,
                    enabled: true,
                });
            }
            AgentConf {
                id,
                user_id: 100_000 + id,
                name: format!("agent {id}"),
                extension: format!("{}", 1000 + id),
                team_id: Some(1),
                skills,
                status: "offline".into(),
                status_payload: None,
                last_status_change: WALL0,
            }
        })
        .collect();
    let queues = (0..QUEUES)
        .map(|i| QueueConf {
            id: i as i64 + 1,
            name: format!("queue {}", i + 1),
            kind: 1,
            enabled: true,
            priority: 0,
            strategy: QueueStrategy::Fifo,
            team_id: Some(1),
            skills: vec![QueueSkill {
                skill_id: i as i64 + 1,
                lvl: 1,
                min_capacity: 0,
                max_capacity: 100,
                enabled: true,
            }],
            processing: i == QUEUES - 1,
            processing_sec: 30,
            processing_renewal_sec: 15,
            max_wait_time: 120,
            sticky_agent: false,
            sticky_agent_sec: 0,
            variables: BTreeMap::new(),
            dialer: Default::default(),
        })
        .collect();
    let teams = vec![TeamConf {
        id: 1,
        name: "floor".into(),
        strategy: TeamStrategy::LongestIdle,
        max_no_answer: 3,
        no_answer_delay_time: 5,
        wrap_up_time: 3,
        call_timeout: 15,
    }];
    (
        Directory {
            agents,
            teams,
            queues,
        },
        groups,
    )
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

fn spread(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let max = v.iter().cloned().fold(f64::MIN, f64::max);
    let min = v.iter().cloned().fold(f64::MAX, f64::min);
    let ratio = if min > 0.0 { max / min } else { f64::INFINITY };
    (ratio, var.sqrt() / mean, mean)
}

fn main() {
    let args = args();
    let started = Instant::now();
    let mut rng = Rng(args.seed);
    let (dir, groups) = directory(args.agents, &mut rng);
    let engine = Engine::new(Config {
        app_id: "sim".into(),
        ids: IdSource::Seeded(args.seed),
        first_attempt_id: 1,
    });
    let mut w = World {
        engine,
        base: Instant::now(),
        vt: 0,
        end: us(args.seconds as f64),
        rng,
        heap: BinaryHeap::new(),
        events: HashMap::new(),
        seq: 0,
        joined_at: HashMap::new(),
        waiting_since: HashMap::new(),
        offered_once: HashSet::new(),
        bridged: HashSet::new(),
        ended: HashSet::new(),
        ringing: HashMap::new(),
        results: BTreeMap::new(),
        join_to_offer_ms: Vec::new(),
        free_to_offer_ms: Vec::new(),
        offers: 0,
        ring_outs: 0,
        answered: 0,
        break_outs: 0,
        errors: BTreeMap::new(),
        agents: HashMap::new(),
        user_agent: HashMap::new(),
        handle_ns: Vec::new(),
        board_changes: 0,
    };
    for (i, a) in dir.agents.iter().enumerate() {
        w.user_agent.insert(a.user_id, a.id);
        w.agents.insert(
            a.id,
            AgentStats {
                group: groups[i],
                ..AgentStats::default()
            },
        );
    }
    let base = w.base;
    w.engine.set_directory(1, dir, base, WALL0);
    while w.engine.poll_output().is_some() {}
    for id in 1..=args.agents as i64 {
        w.handle(Input::Online {
            agent_id: id,
            on_demand: false,
        });
    }

    let end = us(args.seconds as f64);
    w.at(0, Ev::Arrival);
    let mut callers = 0u64;
    let mut live_at_end = None;
    // Run the traffic, then let every call in progress finish (no new arrivals).
    loop {
        let next_ev = w.heap.peek().map(|r| r.0 .0);
        let next_timer = w
            .engine
            .poll_timeout()
            .map(|t| t.duration_since(base).as_micros() as Vt);
        let next = match (next_ev, next_timer) {
            (None, None) => break,
            (a, b) => a.unwrap_or(Vt::MAX).min(b.unwrap_or(Vt::MAX)),
        };
        if live_at_end.is_none() && next >= end {
            live_at_end = Some(w.joined_at.len() - w.ended.len());
            for a in w.agents.values_mut() {
                a.close_idle(end, end);
            }
        }
        w.vt = w.vt.max(next);
        let timer_first = match (next_ev, next_timer) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(e), Some(t)) => t <= e,
        };
        if timer_first {
            w.handle(Input::Timeout);
            continue;
        }
        let Some(std::cmp::Reverse((_, seq))) = w.heap.pop() else {
            break;
        };
        let ev = w.events.remove(&seq).expect("scheduled event");
        w.event(ev, end, args.rate, &mut callers);
    }
    let wall = started.elapsed();

    // Stuck: joined, never ended, and no longer live in the engine either.
    let stuck = w
        .joined_at
        .keys()
        .filter(|id| !w.ended.contains(id))
        .count();
    let joined = w.joined_at.len();

    println!(
        "switchboard-cc simulation: {} agents, {} calls/s, {} s virtual, seed {}",
        args.agents, args.rate, args.seconds, args.seed
    );
    println!("load model: ring 2-8 s, talk exp mean {TALK_MEAN_S} s, wrap-up 3 s, {:.0} % ring-outs (15 s + 5 s hold), queue 5 with processing (report after 1-4 s), patience 20-180 s, max_wait_time 120 s", RING_OUT * 100.0);
    println!();
    println!("calls offered (joined):   {joined}");
    println!(
        "agent offers:             {} ({} rang out)",
        w.offers, w.ring_outs
    );
    println!("answered (bridged):       {}", w.answered);
    for (r, n) in &w.results {
        println!("  result {r:<12}         {n}");
    }
    println!("break_outs:               {}", w.break_outs);
    let total = args.agents as f64 * args.seconds as f64 * 1e6;
    let idle: f64 = w.agents.values().map(|a| a.idle_us as f64).sum();
    println!(
        "occupancy (not idle):     {:.1} %",
        100.0 * (1.0 - idle / total)
    );
    println!();
    let mut j = w.join_to_offer_ms.clone();
    let mut f = w.free_to_offer_ms.clone();
    println!(
        "join → first offer (virtual ms):       p50 {:.0}  p99 {:.0}  max {:.0}  (n={})",
        pct(&mut j, 0.5),
        pct(&mut j, 0.99),
        pct(&mut j, 1.0),
        j.len()
    );
    println!(
        "agent free → offer, call waiting (ms): p50 {:.0}  p99 {:.0}  max {:.0}  (n={})",
        pct(&mut f, 0.5),
        pct(&mut f, 0.99),
        pct(&mut f, 1.0),
        f.len()
    );
    let mut ns: Vec<f64> = w.handle_ns.iter().map(|&n| n as f64 / 1000.0).collect();
    let mean = ns.iter().sum::<f64>() / ns.len() as f64;
    println!(
        "CPU per engine input (handle + drain, µs): mean {:.2}  p50 {:.2}  p99 {:.2}  max {:.0}  over {} inputs",
        mean,
        pct(&mut ns, 0.5),
        pct(&mut ns, 0.99),
        pct(&mut ns, 1.0),
        ns.len()
    );
    println!("board changes signalled:  {}", w.board_changes);
    println!("wall time of the run:     {:.2} s", wall.as_secs_f64());
    println!();
    println!("fairness among agents with identical skills (idle time, calls handled):");
    println!("  group (skills)        agents  idle max/min  idle CV  calls max/min  calls CV  mean calls");
    let mut by_group: BTreeMap<usize, Vec<&AgentStats>> = BTreeMap::new();
    for a in w.agents.values() {
        by_group.entry(a.group).or_default().push(a);
    }
    for (g, members) in by_group {
        if members.len() < 10 {
            continue;
        }
        let idle: Vec<f64> = members.iter().map(|a| a.idle_us as f64).collect();
        let calls: Vec<f64> = members.iter().map(|a| a.calls as f64).collect();
        let (ir, icv, _) = spread(&idle);
        let (cr, ccv, cmean) = spread(&calls);
        let name = if g % 2 == 1 {
            format!("q{} + q{}", g / 2 + 1, (g / 2 + 1) % QUEUES + 1)
        } else {
            format!("q{}", g / 2 + 1)
        };
        println!(
            "  {name:<20}  {:>6}  {ir:>12.2}  {icv:>7.3}  {cr:>13.2}  {ccv:>8.3}  {cmean:>10.1}",
            members.len()
        );
    }
    println!();
    println!(
        "live attempts when arrivals stopped: {}",
        live_at_end.unwrap_or(0)
    );
    println!("lost/stuck attempts after draining:  {stuck}");
    println!("engine errors: {:?}", w.errors);
    if stuck != 0 {
        std::process::exit(1);
    }
}
