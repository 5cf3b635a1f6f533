//! The predictive controller behind the contact center's pacing seam, without sockets: views
//! and call events as the engine would send them, and the decisions that come back.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use switchboard_cc::pace::{DialKind, PaceEvent, PaceView, Pacer};
use switchboard_dialer::{pacer_factory, Config, Fallback, LivePacer, Mode};

const WALL0: i64 = 1_727_000_000_000;

fn view(now: Instant, t0: Instant, kind: DialKind) -> PaceView {
    PaceView {
        domain_id: 1,
        queue_id: 7,
        kind,
        now,
        wall_ms: WALL0 + now.duration_since(t0).as_millis() as i64,
        free_agents: 0,
        online_agents: 0,
        dialing: 0,
        waiting: 0,
        active: 0,
        max_calls: None,
        callable: 1000,
    }
}

#[test]
fn warming_up_it_dials_one_call_per_free_agent_not_yet_covered() {
    let t0 = Instant::now();
    let mut p = LivePacer::new(Config::default()).unwrap();
    let v = PaceView {
        free_agents: 5,
        online_agents: 8,
        ..view(t0, t0, DialKind::Predictive)
    };
    assert_eq!(p.calls_to_place(&v), 5);
    assert_eq!(
        p.last_decision().unwrap().mode,
        Mode::Fallback(Fallback::Warmup)
    );
    for id in 1..=2 {
        p.observe(PaceEvent::Dialed { attempt_id: id }, t0);
    }
    let v = PaceView {
        dialing: 2,
        active: 2,
        now: t0 + Duration::from_secs(1),
        ..v
    };
    assert_eq!(p.calls_to_place(&v), 3, "two of the five are covered");
    let s = p.dialer().state();
    assert_eq!((s.free_agents(), s.ringing_calls()), (5, 2));
}

#[test]
fn calls_from_before_the_first_round_are_not_its_own() {
    let t0 = Instant::now();
    let mut p = LivePacer::new(Config::default()).unwrap();
    p.observe(PaceEvent::Dialed { attempt_id: 1 }, t0);
    p.observe(
        PaceEvent::Answered {
            attempt_id: 1,
            ring: Duration::from_secs(3),
        },
        t0,
    );
    let v = PaceView {
        free_agents: 2,
        online_agents: 2,
        ..view(t0 + Duration::from_secs(1), t0, DialKind::Predictive)
    };
    assert_eq!(p.calls_to_place(&v), 2);
    let s = p.dialer().state();
    assert_eq!((s.ringing_calls(), s.waiting_calls()), (0, 0));
}

#[test]
fn the_agents_follow_the_engine_counts() {
    let t0 = Instant::now();
    let mut p = LivePacer::new(Config::default()).unwrap();
    let mut v = PaceView {
        free_agents: 6,
        online_agents: 10,
        ..view(t0, t0, DialKind::Predictive)
    };
    p.calls_to_place(&v);
    assert_eq!(p.dialer().state().free_agents(), 6);
    // A call is answered and offered to one of the free agents (the next round sees one
    // free agent less), who takes it.
    p.observe(PaceEvent::Dialed { attempt_id: 1 }, t0);
    let t = t0 + Duration::from_secs(8);
    p.observe(
        PaceEvent::Answered {
            attempt_id: 1,
            ring: Duration::from_secs(8),
        },
        t,
    );
    v.now = t;
    v.free_agents = 5;
    p.calls_to_place(&v);
    p.observe(
        PaceEvent::Bridged {
            attempt_id: 1,
            wait: Duration::ZERO,
        },
        t,
    );
    let s = p.dialer().state();
    assert_eq!((s.free_agents(), s.talking_agents()), (5, 1));
    // Six agents log out; the call's agent stays.
    v.now = t + Duration::from_secs(1);
    v.online_agents = 4;
    v.free_agents = 3;
    p.calls_to_place(&v);
    let s = p.dialer().state();
    assert_eq!((s.free_agents(), s.talking_agents()), (3, 1));
    // The call ends (wrap-up), and once the engine counts the agent free, so does the pacer.
    v.now += Duration::from_secs(100);
    p.observe(
        PaceEvent::Ended {
            attempt_id: 1,
            handle: Duration::from_secs(102),
        },
        v.now,
    );
    assert_eq!(p.dialer().state().wrapping_agents(), 1);
    v.now += Duration::from_secs(10);
    v.free_agents = 4;
    p.calls_to_place(&v);
    let s = p.dialer().state();
    assert_eq!(
        (s.free_agents(), s.talking_agents(), s.wrapping_agents()),
        (4, 0, 0)
    );
}

#[test]
fn the_factory_gives_predictive_queues_our_pacer_and_progressive_ones_the_engine_default() {
    let f = pacer_factory(Config::default()).unwrap();
    let t0 = Instant::now();
    let mut ours = f(7, DialKind::Predictive);
    assert!(format!("{ours:?}").starts_with("LivePacer"));
    let mut prog = f(8, DialKind::Progressive);
    assert!(!format!("{prog:?}").starts_with("LivePacer"));
    let v = PaceView {
        free_agents: 4,
        online_agents: 4,
        ..view(t0, t0, DialKind::Progressive)
    };
    assert_eq!(prog.calls_to_place(&v), 4);
    // Handed a progressive view, ours paces progressively too.
    assert_eq!(ours.calls_to_place(&v), 4);
    assert!(pacer_factory(Config {
        target_abandoned_rate: 0.0,
        ..Config::default()
    })
    .is_err());
}

/// A small engine on a virtual clock: agents, customer calls and the 2 s rule, with the
/// pacer asked every second.
struct Center {
    t0: Instant,
    now: Instant,
    rng: StdRng,
    pacer: LivePacer,
    agents: u32,
    /// Agents busy until (talk then wrap-up), by attempt; `None` once the call ended.
    busy: Vec<(Instant, Option<i64>, Instant)>,
    /// Attempt → (rings until, answers?).
    ringing: BTreeMap<i64, (Instant, bool)>,
    /// Attempt → answered at.
    waiting: BTreeMap<i64, Instant>,
    next_id: i64,
    max_calls: u32,
    answers: u32,
    drops: u32,
}

impl Center {
    fn new(seed: u64, agents: u32, max_calls: u32) -> Self {
        let t0 = Instant::now();
        Center {
            t0,
            now: t0,
            rng: StdRng::seed_from_u64(seed),
            pacer: LivePacer::new(Config::default()).unwrap(),
            agents,
            busy: Vec::new(),
            ringing: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_id: 1,
            max_calls,
            answers: 0,
            drops: 0,
        }
    }

    fn talking(&self) -> u32 {
        self.busy.iter().filter(|b| b.1.is_some()).count() as u32
    }

    fn free(&self) -> u32 {
        self.agents - self.busy.len() as u32
    }

    fn bridge(&mut self, id: i64, answered: Instant) {
        let talk = Duration::from_secs(self.rng.gen_range(60..300));
        let wrap = Duration::from_secs(self.rng.gen_range(5..20));
        self.busy
            .push((self.now + talk, Some(id), self.now + talk + wrap));
        self.pacer.observe(
            PaceEvent::Bridged {
                attempt_id: id,
                wait: self.now - answered,
            },
            self.now,
        );
    }

    /// One second: calls and agents move on, then a dialling round. Returns the pacer's
    /// answer, the view it saw and its mode.
    fn second(&mut self) -> (u32, PaceView, Mode) {
        self.now += Duration::from_secs(1);
        let now = self.now;
        for b in &mut self.busy {
            if let Some(id) = b.1.filter(|_| b.0 <= now) {
                self.pacer.observe(
                    PaceEvent::Ended {
                        attempt_id: id,
                        handle: Duration::ZERO,
                    },
                    now,
                );
                b.1 = None;
            }
        }
        self.busy.retain(|b| b.2 > now);
        let due: Vec<(i64, bool)> = self
            .ringing
            .iter()
            .filter(|(_, r)| r.0 <= now)
            .map(|(id, r)| (*id, r.1))
            .collect();
        for (id, answers) in due {
            self.ringing.remove(&id);
            let ring = Duration::from_secs(1);
            if answers {
                self.answers += 1;
                self.pacer.observe(
                    PaceEvent::Answered {
                        attempt_id: id,
                        ring,
                    },
                    now,
                );
                self.waiting.insert(id, now);
            } else {
                self.pacer.observe(
                    PaceEvent::Failed {
                        attempt_id: id,
                        ring,
                    },
                    now,
                );
            }
        }
        let waiting: Vec<(i64, Instant)> = self.waiting.iter().map(|(k, v)| (*k, *v)).collect();
        for (id, at) in waiting {
            if self.free() > 0 {
                self.waiting.remove(&id);
                self.bridge(id, at);
            } else if now - at >= Duration::from_secs(2) {
                self.waiting.remove(&id);
                self.drops += 1;
                self.pacer.observe(
                    PaceEvent::Abandoned {
                        attempt_id: id,
                        wait: now - at,
                    },
                    now,
                );
            }
        }
        let dialing = self.ringing.len() as u32;
        let waiting = self.waiting.len() as u32;
        let v = PaceView {
            free_agents: self.free(),
            online_agents: self.agents,
            dialing,
            waiting,
            active: dialing + waiting + self.talking(),
            max_calls: Some(self.max_calls),
            ..view(now, self.t0, DialKind::Predictive)
        };
        let n = self.pacer.calls_to_place(&v);
        let mode = self.pacer.last_decision().unwrap().mode;
        for _ in 0..n {
            let id = self.next_id;
            self.next_id += 1;
            let human = self.rng.gen_bool(0.25);
            let ring = if human {
                self.rng.gen_range(5..20)
            } else {
                self.rng.gen_range(2..25)
            };
            self.ringing
                .insert(id, (now + Duration::from_secs(ring), human));
            self.pacer
                .observe(PaceEvent::Dialed { attempt_id: id }, now);
        }
        (n, v, mode)
    }
}

#[test]
fn a_closed_loop_stays_within_max_calls_and_paces_ahead_once_warm() {
    for seed in 1..=3 {
        let mut c = Center::new(seed, 20, 40);
        let (mut predictive, mut ahead) = (0, 0);
        for s in 0..3 * 3600 {
            let (n, v, mode) = c.second();
            assert!(
                n + v.active <= 40,
                "seed {seed} second {s}: {n} calls on top of {} live",
                v.active
            );
            if s < 5 {
                assert_eq!(mode, Mode::Fallback(Fallback::Warmup), "second {s}");
                assert_eq!(n, v.free_agents.saturating_sub(v.dialing + v.waiting));
            }
            if mode == Mode::Predictive {
                predictive += 1;
                if n > v.free_agents.saturating_sub(v.dialing + v.waiting) {
                    ahead += 1;
                }
            }
        }
        assert!(
            predictive > 3600,
            "seed {seed}: {predictive} predictive rounds"
        );
        assert!(
            ahead > 100,
            "seed {seed}: {ahead} rounds ahead of progressive"
        );
        let rate = 100.0 * f64::from(c.drops) / f64::from(c.answers.max(1));
        let figures = c
            .pacer
            .dialer()
            .abandonment(WALL0 + c.now.duration_since(c.t0).as_millis() as i64);
        eprintln!(
            "seed {seed}: {} answers, {} drops ({rate:.2} %), {figures:?}",
            c.answers, c.drops
        );
        assert!(rate <= 3.0, "seed {seed}: {rate:.2} % abandoned");
    }
}

#[test]
fn a_tight_max_calls_is_never_exceeded() {
    let mut c = Center::new(9, 20, 12);
    for _ in 0..3600 {
        let (n, v, _) = c.second();
        assert!(n + v.active <= 12);
    }
}
