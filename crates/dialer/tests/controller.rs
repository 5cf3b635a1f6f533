//! The controller's decisions on hand-made campaign states.

use switchboard_dialer::{
    AnsweredBy, Config, Dialer, Event, Fallback, Millis, Mode, QueueType, Unanswered,
};

const T0: Millis = 1_727_000_000_000;

fn predictive() -> Config {
    Config {
        queue_type: QueueType::Predictive,
        ..Config::default()
    }
}

fn free_agents(d: &mut Dialer, ids: std::ops::Range<i64>, now: Millis) {
    for agent in ids {
        d.handle(Event::AgentFree { agent }, now);
    }
}

/// `n` finished attempts, one every 2 s from `*now`: every fifth answered by a person at 8 s
/// and bridged to `agent`, who talks 180 s and wraps 15 s (between attempts of the helper the
/// agent is back to free); the rest no answer at 25 s. Returns the next call id.
fn history(d: &mut Dialer, n: i64, first_call: i64, agent: i64, now: &mut Millis) -> i64 {
    let mut call = first_call;
    for i in 0..n {
        d.handle(Event::CallStarted { call }, *now);
        if i % 5 == 0 {
            d.handle(
                Event::Answered {
                    call,
                    by: AnsweredBy::Human,
                },
                *now + 8_000,
            );
            d.handle(Event::Bridged { call, agent }, *now + 8_000);
            d.handle(Event::AgentWrap { agent }, *now + 188_000);
            d.handle(Event::AgentFree { agent }, *now + 203_000);
            *now += 203_000;
        } else {
            d.handle(
                Event::NotAnswered {
                    call,
                    why: Unanswered::NoAnswer,
                },
                *now + 25_000,
            );
            *now += 25_000;
        }
        call += 1;
    }
    call
}

#[test]
fn progressive_dials_one_call_per_free_agent_not_yet_covered() {
    let mut d = Dialer::new(Config {
        queue_type: QueueType::Progressive,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(d.pacer_name(), "progressive");
    free_agents(&mut d, 1..6, T0);
    let first = d.tick(T0);
    assert_eq!((first.dial, first.mode), (5, Mode::Progressive));
    for call in 0..5 {
        d.handle(Event::CallStarted { call }, T0);
    }
    assert_eq!(d.tick(T0 + 1000).dial, 0, "every free agent has a call");
    d.handle(
        Event::NotAnswered {
            call: 0,
            why: Unanswered::Busy,
        },
        T0 + 3000,
    );
    d.handle(
        Event::Answered {
            call: 1,
            by: AnsweredBy::Human,
        },
        T0 + 5000,
    );
    d.handle(Event::Bridged { call: 1, agent: 1 }, T0 + 5000);
    // Four free agents, three calls still ringing: one more.
    assert_eq!(d.tick(T0 + 5000).dial, 1);
    d.handle(Event::AgentAway { agent: 2 }, T0 + 6000);
    assert_eq!(d.tick(T0 + 6000).dial, 0);
}

#[test]
fn a_predictive_campaign_warms_up_progressively() {
    let mut d = Dialer::new(Config {
        min_attempts: 50,
        ..predictive()
    })
    .unwrap();
    free_agents(&mut d, 1..11, T0);
    let x = d.tick(T0);
    assert_eq!(x.mode, Mode::Fallback(Fallback::Warmup));
    assert_eq!(x.dial, 10);
}

#[test]
fn too_few_agents_dial_progressively() {
    let mut d = Dialer::new(Config {
        min_agents: 3,
        ..predictive()
    })
    .unwrap();
    free_agents(&mut d, 1..3, T0);
    let x = d.tick(T0);
    assert_eq!((x.dial, x.mode), (2, Mode::Fallback(Fallback::FewAgents)));
}

/// A warmed-up campaign: 200 attempts of history (every handle time 195 s), then ten agents
/// 190 s into their calls.
fn busy_campaign(cfg: Config) -> (Dialer, Millis, i64) {
    let mut d = Dialer::new(cfg).unwrap();
    let mut now = T0;
    let next = history(&mut d, 200, 1_000, 99, &mut now);
    d.handle(Event::AgentAway { agent: 99 }, now);
    for agent in 1..=10 {
        d.handle(Event::AgentFree { agent }, now);
        d.handle(Event::AgentBusy { agent }, now);
    }
    (d, now + 190_000, next)
}

#[test]
fn predictive_dials_ahead_of_agents_about_to_free_up() {
    let (mut d, now, _) = busy_campaign(predictive());
    let x = d.tick(now);
    assert_eq!(x.mode, Mode::Predictive);
    assert!(
        x.dial > 0,
        "ten agents 5 s from the end of their calls and no free agent: dial ahead, got {x:?}"
    );
    // Progressive would wait for a free agent.
    let mut p = Dialer::new(Config {
        queue_type: QueueType::Progressive,
        ..Config::default()
    })
    .unwrap();
    for agent in 1..=10 {
        p.handle(Event::AgentBusy { agent }, now);
    }
    assert_eq!(p.tick(now).dial, 0);
}

#[test]
fn never_more_calls_than_max_calls() {
    for max_calls in [0, 5, 12, 17] {
        let (mut d, now, mut call) = busy_campaign(Config {
            max_calls,
            ..predictive()
        });
        free_agents(&mut d, 11..41, now);
        let mut in_progress = 10; // the ten talking agents' calls
        for t in 0..30 {
            let at = now + t * 1000;
            let x = d.tick(at);
            if in_progress >= max_calls {
                assert_eq!(x.dial, 0, "max_calls {max_calls}, {in_progress} calls");
            }
            in_progress += i64::from(x.dial);
            assert!(
                in_progress <= max_calls.max(10),
                "max_calls {max_calls}: {in_progress} calls at once after {x:?}"
            );
            for _ in 0..x.dial {
                d.handle(Event::CallStarted { call }, at);
                call += 1;
            }
        }
    }
    // Unlimited (negative) dials ahead of the 30 free agents.
    let (mut d, now, _) = busy_campaign(Config {
        max_calls: -1,
        ..predictive()
    });
    free_agents(&mut d, 11..41, now);
    assert!(d.tick(now).dial > 30);
}

#[test]
fn the_abandonment_guard_falls_back_to_progressive() {
    let (mut d, mut now, mut call) = busy_campaign(predictive());
    // 40 human answers today so far with 0 drops (from the history); add 60 more, 4 of them
    // abandoned: US 4/100 = 4 % ≥ 3 %.
    for i in 0..60 {
        d.handle(Event::CallStarted { call }, now);
        d.handle(
            Event::Answered {
                call,
                by: AnsweredBy::Human,
            },
            now + 6_000,
        );
        if i < 4 {
            d.handle(Event::Abandoned { call }, now + 8_000);
        } else {
            d.handle(Event::Bridged { call, agent: 50 }, now + 6_000);
            d.handle(Event::AgentFree { agent: 50 }, now + 7_000);
        }
        call += 1;
        now += 10_000;
    }
    d.handle(Event::AgentAway { agent: 50 }, now);
    let a = d.abandonment(now);
    assert!(a.us_today >= 3.0 && a.worst >= 3.0, "{a:?}");
    free_agents(&mut d, 11..14, now);
    let x = d.tick(now);
    assert_eq!(x.mode, Mode::Fallback(Fallback::AbandonGuard));
    assert_eq!(x.dial, 3, "progressive: one per free agent");
}

#[test]
fn abandonment_figures_in_both_formulas() {
    let mut d = Dialer::new(Config {
        amd_false_positive_rate: 0.0,
        ..predictive()
    })
    .unwrap();
    let now = T0;
    // 100 human answers: 90 bridged (10 of them machines the AMD let through), 10 dropped.
    for call in 0..100 {
        d.handle(Event::CallStarted { call }, now);
        d.handle(
            Event::Answered {
                call,
                by: AnsweredBy::Human,
            },
            now + 5_000,
        );
        if call < 10 {
            d.handle(Event::Abandoned { call }, now + 7_000);
        } else {
            d.handle(Event::Bridged { call, agent: call }, now + 5_000);
            if call < 20 {
                d.handle(Event::MachineAtAgent { call }, now + 9_000);
            }
        }
    }
    let a = d.abandonment(now + 10_000);
    assert!((a.us_today - 10.0).abs() < 1e-9);
    assert!((a.us_30_days - 10.0).abs() < 1e-9);
    // drops_adj = 10 × (1 − 10/90); UK = adj / (80 + adj).
    let adj = 10.0 * (1.0 - 10.0 / 90.0);
    assert!(
        (a.uk_today - 100.0 * adj / (80.0 + adj)).abs() < 1e-9,
        "{a:?}"
    );
    assert_eq!(a.days.len(), 1);
    assert_eq!(a.days[0].drops, 10);
}

#[test]
fn decisions_replay_identically() {
    fn run() -> Vec<(u32, Mode, u64)> {
        let (mut d, start, mut call) = busy_campaign(predictive());
        free_agents(&mut d, 11..16, start);
        let mut z: u64 = 7;
        let mut ringing: Vec<i64> = Vec::new();
        let mut out = Vec::new();
        for t in 0..600 {
            let now = start + t * 1000;
            z = z
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if let Some(&c) = ringing.first() {
                if (z >> 40) & 7 == 0 {
                    ringing.remove(0);
                    d.handle(
                        Event::NotAnswered {
                            call: c,
                            why: Unanswered::NoAnswer,
                        },
                        now,
                    );
                }
            }
            let x = d.tick(now);
            out.push((x.dial, x.mode, x.level.to_bits()));
            for _ in 0..x.dial {
                d.handle(Event::CallStarted { call }, now);
                ringing.push(call);
                call += 1;
            }
        }
        out
    }
    assert_eq!(run(), run());
}

#[test]
fn bad_settings_are_refused() {
    for cfg in [
        Config {
            target_abandoned_rate: 4.0,
            max_abandoned_rate: 3.0,
            ..Config::default()
        },
        Config {
            statistic_time: 0,
            ..Config::default()
        },
        Config {
            max_agent_line: 0,
            ..Config::default()
        },
    ] {
        assert!(Dialer::new(cfg).is_err());
    }
}
