//! 10,000 calls with mixed outcomes through one engine, against a scripted world that answers
//! every output the way the runtime, media side and devices would. Deterministic time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};
use switchboard_calls::{
    CallCommand, CallId, Config, ContactRef, Engine, HangupCause, IdSource, Input, LegId, Output,
    Party, Target,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Fork `fork` answers after `ring` ms; the caller hangs up after `talk` ms.
    Talk {
        fork: u32,
        ring: u64,
        talk: u64,
        hold: bool,
    },
    Busy,
    NoAnswer,
    CallerCancel,
    NotFound,
    Offline,
    Transfer,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct World {
    e: Engine,
    base: Instant,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    inputs: Vec<Option<Input>>,
    seq: u64,
    plans: HashMap<CallId, (Plan, usize)>,
    /// Per call: the caller's leg and the callee's (for hangups and transfers).
    legs: HashMap<CallId, (LegId, Option<LegId>)>,
    stats: HashMap<String, usize>,
    errors: Vec<String>,
    /// Time spent inside the engine (`handle` + `poll_output`), not in the scripted world.
    engine_time: Duration,
}

impl World {
    fn at(&mut self, ms: u64, input: Input) {
        self.seq += 1;
        self.inputs.push(Some(input));
        self.queue
            .push(Reverse((ms, self.seq, self.inputs.len() - 1)));
    }

    fn count(&mut self, k: impl Into<String>) {
        *self.stats.entry(k.into()).or_default() += 1;
    }

    fn feed(&mut self, ms: u64, input: Input) {
        let now = self.base + Duration::from_millis(ms);
        let t = Instant::now();
        let res = self.e.handle(input, now, 1_700_000_000_000 + ms as i64);
        let outs: Vec<Output> = std::iter::from_fn(|| self.e.poll_output()).collect();
        self.engine_time += t.elapsed();
        if let Err(e) = res {
            self.errors.push(e.to_string());
        }
        for out in outs {
            self.react(ms, out);
        }
    }

    fn run(&mut self) {
        loop {
            let next_input = self.queue.peek().map(|Reverse((ms, _, _))| *ms);
            let next_timer = self
                .e
                .poll_timeout()
                .map(|at| (at - self.base).as_millis() as u64);
            match (next_input, next_timer) {
                (None, None) => break,
                (_, Some(t)) if next_input.is_none_or(|i| t <= i) => self.feed(t, Input::Timeout),
                _ => {
                    let Reverse((ms, _, idx)) = self.queue.pop().expect("peeked");
                    let input = self.inputs[idx].take().expect("once");
                    self.feed(ms, input);
                }
            }
        }
    }

    fn react(&mut self, ms: u64, out: Output) {
        match out {
            Output::Resolve {
                lookup,
                call,
                destination,
                ..
            } => {
                let (plan, n) = self.plans[&call];
                let target = match plan {
                    Plan::NotFound => Target::NotFound,
                    Plan::Offline => Target::Offline,
                    _ => Target::User {
                        user: Party::user(
                            destination.parse().unwrap_or(2),
                            1,
                            destination.clone(),
                            "Callee",
                        ),
                        contacts: (0..n).map(|i| ContactRef::new(format!("c{i}"))).collect(),
                    },
                };
                self.at(ms + 2, Input::DestinationResolved { lookup, target });
            }
            Output::CreateAnswerer { leg, .. } | Output::CreateOfferer { leg, .. } => {
                let local_sdp = "sdp".to_owned();
                self.at(ms + 1, Input::MediaReady { leg, local_sdp });
            }
            Output::Invite {
                leg, fork, call, ..
            } => {
                let (plan, _) = self.plans[&call];
                let entry = self.legs.get_mut(&call).expect("call");
                let transferred = entry.1.as_ref().is_some_and(|b| *b != leg);
                entry.1 = Some(leg.clone());
                self.at(
                    ms + 40,
                    Input::ForkRinging {
                        leg: leg.clone(),
                        fork,
                    },
                );
                if fork.0 != 0 {
                    if let Plan::Talk { fork: f, ring, .. } = plan {
                        if f == fork.0 {
                            let answer_sdp = "answer".to_owned();
                            self.at(
                                ms + ring,
                                Input::ForkAnswered {
                                    leg,
                                    fork,
                                    answer_sdp,
                                },
                            );
                        }
                    }
                    return;
                }
                match plan {
                    Plan::Talk { fork: 0, ring, .. } => {
                        let answer_sdp = "answer".to_owned();
                        self.at(
                            ms + ring,
                            Input::ForkAnswered {
                                leg,
                                fork,
                                answer_sdp,
                            },
                        );
                    }
                    Plan::Transfer => {
                        let answer_sdp = "answer".to_owned();
                        let delay = if transferred { 500 } else { 800 };
                        self.at(
                            ms + delay,
                            Input::ForkAnswered {
                                leg,
                                fork,
                                answer_sdp,
                            },
                        );
                    }
                    Plan::Busy => {
                        let cause = Some(HangupCause::UserBusy);
                        self.at(ms + 900, Input::Command(CallCommand::Hangup { leg, cause }));
                    }
                    Plan::CallerCancel => {
                        let a = self.legs[&call].0.clone();
                        self.at(ms + 1500, Input::LegCancelled { leg: a });
                    }
                    _ => {}
                }
            }
            Output::Answer { leg, .. } => {
                self.count("answered");
                let call = CallId(leg.0.clone());
                match self.plans[&call].0 {
                    Plan::Talk { talk, hold, .. } => {
                        if hold {
                            let l = leg.clone();
                            self.at(ms + talk / 3, Input::Command(CallCommand::Hold { leg: l }));
                            let l = leg.clone();
                            self.at(
                                ms + talk / 2,
                                Input::Command(CallCommand::Unhold { leg: l }),
                            );
                        }
                        let l = leg.clone();
                        let digit = '5';
                        self.at(
                            ms + talk / 4,
                            Input::Command(CallCommand::Dtmf { leg: l, digit }),
                        );
                        self.at(ms + talk, Input::LegHungUp { leg });
                    }
                    Plan::Transfer => {
                        let b = self.legs[&call].1.clone().expect("callee");
                        let destination = "3031".to_owned();
                        let cmd = CallCommand::BlindTransfer {
                            leg: b,
                            destination,
                        };
                        self.at(ms + 5_000, Input::Command(cmd));
                        self.at(ms + 20_000, Input::LegHungUp { leg });
                    }
                    _ => unreachable!("only planned answers"),
                }
            }
            Output::Reject { sip_code, .. } => self.count(format!("reject {sip_code}")),
            Output::Bridge { .. } => self.count("bridge"),
            Output::Event(e) => {
                let _ = e.to_json();
                self.count("event");
            }
            Output::History(h) if h.hangup_at.is_some() => self.count("leg ended"),
            _ => {}
        }
    }
}

#[test]
fn ten_thousand_calls_through_one_engine() {
    const CALLS: usize = 10_000;
    let started = Instant::now();
    let mut w = World {
        e: Engine::new(Config {
            app_id: "sim".into(),
            ring_timeout: Duration::from_secs(30),
            ids: IdSource::Seeded(42),
        }),
        base: Instant::now(),
        queue: BinaryHeap::new(),
        inputs: Vec::new(),
        seq: 0,
        plans: HashMap::new(),
        legs: HashMap::new(),
        stats: HashMap::new(),
        errors: Vec::new(),
        engine_time: Duration::ZERO,
    };
    let mut rng = Rng(1);
    let mut planned: HashMap<&str, usize> = HashMap::new();
    for i in 0..CALLS {
        let forks = 1 + rng.below(3) as usize;
        let plan = match rng.below(20) {
            0..=9 => Plan::Talk {
                fork: rng.below(forks as u64) as u32,
                ring: 200 + rng.below(10_000),
                talk: 1_000 + rng.below(120_000),
                hold: rng.below(4) == 0,
            },
            10 | 11 => Plan::Busy,
            12 | 13 => Plan::NoAnswer,
            14 | 15 => Plan::CallerCancel,
            16 => Plan::NotFound,
            17 => Plan::Offline,
            _ => Plan::Transfer,
        };
        let name = match plan {
            Plan::Talk { .. } => "talk",
            Plan::Busy => "busy",
            Plan::NoAnswer => "no answer",
            Plan::CallerCancel => "cancel",
            Plan::NotFound => "not found",
            Plan::Offline => "offline",
            Plan::Transfer => "transfer",
        };
        *planned.entry(name).or_default() += 1;
        let leg = w.e.new_leg_id();
        let call = CallId(leg.0.clone());
        w.plans.insert(call.clone(), (plan, forks));
        w.legs.insert(call, (leg.clone(), None));
        let from = Party::user(1_000 + i as i64, 1, format!("{}", 1_000 + i), "Caller");
        let input = Input::IncomingCall {
            leg,
            from,
            destination: "2021".into(),
            sip_call_id: format!("sim-{i}"),
            offer_sdp: "offer".into(),
            display: None,
        };
        w.at(i as u64 * 20, input);
    }
    w.run();
    let elapsed = started.elapsed();

    assert!(
        w.errors.is_empty(),
        "refused inputs: {:?}",
        &w.errors[..5.min(w.errors.len())]
    );
    assert_eq!(w.e.live_legs(), 0);
    assert_eq!(w.e.calls_in_memory(), 0, "every finished call is forgotten");
    assert_eq!(w.e.poll_timeout(), None);
    let got = |k: &str| w.stats.get(k).copied().unwrap_or(0);
    let p = |k: &str| planned.get(k).copied().unwrap_or(0);
    assert_eq!(got("answered"), p("talk") + p("transfer"));
    assert_eq!(got("reject 486"), p("busy"));
    assert_eq!(got("reject 480"), p("no answer") + p("offline"));
    assert_eq!(got("reject 487"), p("cancel"));
    assert_eq!(got("reject 404"), p("not found"));
    assert_eq!(got("bridge"), p("talk") + 2 * p("transfer"));
    let legs = p("talk") * 2
        + p("busy") * 2
        + p("no answer") * 2
        + p("cancel") * 2
        + p("not found")
        + p("offline")
        + p("transfer") * 3;
    assert_eq!(got("leg ended"), legs, "one final history row per leg");
    eprintln!(
        "{CALLS} calls, {legs} legs, {} events in {elapsed:?} ({:?} inside the engine)",
        got("event"),
        w.engine_time
    );
    // Speed is reported here, not asserted: timing belongs to benchmarks.
}
