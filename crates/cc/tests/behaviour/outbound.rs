//! Dialer queues: members in, calls out, answers to agents, retries, abandonment.

use crate::common::*;
use std::time::Duration;
use switchboard_cc::{CommConf, Directory, Input, MemberConf, MemberRecord, Output};

fn dialer(kind: i32) -> Directory {
    let mut dir = basic(&[1, 2]);
    let q = &mut dir.queues[0];
    q.kind = kind;
    q.dialer.gateway_id = Some(9);
    q.dialer.max_attempts = 2;
    q.dialer.wait_between_retries = 60;
    q.dialer.originate_timeout = 25;
    dir
}

fn member(id: i64, number: &str) -> MemberConf {
    MemberConf {
        id,
        name: format!("M{id}"),
        priority: 0,
        timezone: String::new(),
        ready_at: 0,
        attempts: 0,
        communications: vec![CommConf {
            destination: number.into(),
            ..Default::default()
        }],
    }
}

/// `(attempt_id, member_id, destination)` of every `Dial`.
fn dials(out: &[Output]) -> Vec<(i64, i64, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dial {
                attempt_id,
                member_id,
                destination,
                gateway_id,
                timeout,
                ..
            } => {
                assert_eq!(*gateway_id, 9);
                assert_eq!(*timeout, Duration::from_secs(25));
                Some((*attempt_id, *member_id, destination.clone()))
            }
            _ => None,
        })
        .collect()
}

fn updates(out: &[Output]) -> Vec<MemberRecord> {
    out.iter()
        .filter_map(|o| match o {
            Output::MemberUpdate(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn load(s: &mut Sim, members: Vec<MemberConf>) -> Vec<Output> {
    s.ok(Input::Members {
        queue_id: 1,
        members,
    })
}

#[test]
fn progressive_reserves_an_agent_dials_and_offers_on_answer() {
    let mut s = Sim::new(dialer(4));
    s.online(1);
    let out = load(&mut s, vec![member(10, "+1001"), member(11, "+1002")]);
    // One agent online: one call, its agent reserved first (distribute before the Dial).
    let d = dials(&out);
    assert_eq!(d.len(), 1, "{out:?}");
    let (a, m, number) = d[0].clone();
    assert_eq!((m, number.as_str()), (10, "+1001"));
    assert_eq!(channel_statuses(&out), ["distribute"]);
    let dist = channel_event(&out, "distribute").unwrap();
    assert_eq!(
        dist["distribute"]["member_channel_id"],
        dist["distribute"]["agent_channel_id"]
    );
    assert!(offers(&out).is_empty());
    // Nothing more while the only agent is reserved.
    assert!(dials(&s.advance(Duration::from_secs(3))).is_empty());

    let out = s.ok(Input::MemberAnswered { attempt_id: a });
    let o = offers(&out);
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].0, o[0].1), (a, 1));
    assert_eq!(channel_statuses(&out), ["offering"], "no second distribute");
    let out = s.ok(Input::OfferAnswered { attempt_id: a });
    assert_eq!(channel_statuses(&out), ["bridged"]);
    s.advance(Duration::from_secs(30));
    let out = s.ok(Input::MemberLeft { attempt_id: a });
    let u = updates(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].member_id, 10);
    assert_eq!(u[0].stop_cause.as_deref(), Some("success"));
    assert_eq!(u[0].attempts, 1);
    let rec = last_record(&out, a).unwrap();
    assert_eq!(
        (rec.result.as_deref(), rec.member_id),
        (Some("success"), Some(10))
    );
    // After wrap-up the agent is free again and the next member is called.
    let out = s.advance(Duration::from_secs(11));
    assert_eq!(dials(&out).len(), 1);
    assert_eq!(dials(&out)[0].1, 11);
}

#[test]
fn a_failed_call_frees_its_agent_and_retries_until_max_attempts() {
    let mut s = Sim::new(dialer(4));
    s.online(1);
    let out = load(&mut s, vec![member(10, "+1001")]);
    let (a, _, _) = dials(&out)[0].clone();
    s.advance(Duration::from_secs(25));
    let out = s.ok(Input::DialFailed {
        attempt_id: a,
        cause: "NO_ANSWER".into(),
    });
    assert_eq!(channel_statuses(&out), ["waiting"]);
    let u = &updates(&out)[0];
    assert_eq!((u.attempts, u.stop_cause.clone()), (1, None));
    assert_eq!(u.ready_at, s.wall() + 60_000);
    assert_eq!(u.communications[0].last_cause, "NO_ANSWER");
    assert_eq!(u.communications[0].attempts, 1);
    // A stale load (the store not written yet) does not call it again early.
    let out = load(&mut s, vec![member(10, "+1001")]);
    assert!(dials(&out).is_empty());
    // Once ready, the store gives it back: the second failure stops it.
    s.advance(Duration::from_secs(61));
    let mut m = member(10, "+1001");
    m.attempts = 1;
    m.communications = u.communications.clone();
    let out = load(&mut s, vec![m]);
    let (b, _, _) = dials(&out)[0].clone();
    let out = s.ok(Input::DialFailed {
        attempt_id: b,
        cause: "USER_BUSY".into(),
    });
    let u = &updates(&out)[0];
    assert_eq!((u.attempts, u.stop_cause.as_deref()), (2, Some("failed")));
    assert_eq!(s.e.dial_stats(1).unwrap().failed, 2);
}

#[test]
fn predictive_answer_without_a_free_agent_is_abandoned_after_two_seconds_and_held_72h() {
    let mut s = Sim::new(dialer(5));
    s.online(1);
    let out = load(&mut s, vec![member(10, "+1001"), member(11, "+1002")]);
    // Progressive pacing by default: one call for one free agent, no reservation.
    let d = dials(&out);
    assert_eq!(d.len(), 1);
    assert!(channel_statuses(&out).is_empty());
    let a = d[0].0;
    // The agent goes on pause meanwhile: nobody takes the answered customer.
    s.ok(Input::Pause {
        agent_id: 1,
        payload: None,
        comment: None,
    });
    let out = s.ok(Input::MemberAnswered { attempt_id: a });
    assert!(offers(&out).is_empty());
    let out = s.advance(Duration::from_millis(1900));
    assert!(updates(&out).is_empty());
    let out = s.advance(Duration::from_millis(200));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Leave { attempt_id, .. } if *attempt_id == a)));
    let u = &updates(&out)[0];
    assert_eq!(u.stop_cause.as_deref(), Some("abandoned"));
    // Two seconds after the answer (100 ms before the clock now).
    assert_eq!(u.ready_at, s.wall() - 100 + 72 * 3600 * 1000);
    let st = s.e.dial_stats(1).unwrap();
    assert_eq!((st.answered, st.abandoned), (1, 1));
    assert_eq!(
        last_record(&out, a).unwrap().result.as_deref(),
        Some("abandoned")
    );
}

#[test]
fn predictive_answer_goes_to_any_free_agent() {
    let mut s = Sim::new(dialer(5));
    s.online(1);
    s.online(2);
    let out = load(
        &mut s,
        vec![
            member(10, "+1001"),
            member(11, "+1002"),
            member(12, "+1003"),
        ],
    );
    let d = dials(&out);
    assert_eq!(d.len(), 2, "one per free agent");
    let out = s.ok(Input::MemberAnswered { attempt_id: d[1].0 });
    let o = offers(&out);
    assert_eq!(o.len(), 1);
    assert_eq!(channel_statuses(&out), ["distribute", "offering"]);
    // The answered call holds an agent: the third member waits for one to free up.
    assert!(dials(&s.advance(Duration::from_secs(1))).is_empty());
    // The agent must connect within 2 s of the answer: a ringing offer past that abandons.
    let out = s.advance(Duration::from_millis(1100));
    assert_eq!(cancels(&out).len(), 1);
    assert_eq!(updates(&out)[0].stop_cause.as_deref(), Some("abandoned"));
}

#[test]
fn the_first_round_asks_the_store_for_members() {
    let mut dir = dialer(4);
    dir.agents.clear();
    let t0 = std::time::Instant::now();
    let mut e = switchboard_cc::Engine::new(switchboard_cc::Config::default());
    e.set_directory(DOMAIN, dir, t0, WALL0);
    let out: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::LoadMembers {
            queue_id: 1,
            limit: 50,
            ..
        }
    )));
}

#[test]
fn calling_hours_in_the_members_zone_move_its_next_call() {
    let mut s = Sim::new(dialer(4));
    s.online(1);
    // WALL0 is 2024-06-10 06:13 UTC: 02:13 in New York, 09:13 in Kyiv.
    let mut ny = member(10, "+1001");
    ny.timezone = "America/New_York".into();
    let mut kyiv = member(11, "+380441");
    kyiv.timezone = "Europe/Kyiv".into();
    let out = load(&mut s, vec![ny, kyiv]);
    let d = dials(&out);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, 11, "Kyiv is inside its hours");
    let u = updates(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].member_id, 10);
    assert_eq!(u[0].stop_cause, None);
    // 08:00 in New York that day is 12:00 UTC.
    assert_eq!(u[0].ready_at, 1_718_020_800_000);
}

#[test]
fn a_queue_without_a_gateway_or_agents_does_not_dial() {
    let mut dir = dialer(5);
    dir.queues[0].dialer.gateway_id = None;
    let mut s = Sim::new(dir);
    s.online(1);
    let out = load(&mut s, vec![member(10, "+1001")]);
    assert!(dials(&out).is_empty());
    let mut s = Sim::new(dialer(5));
    let out = load(&mut s, vec![member(10, "+1001")]);
    assert!(dials(&out).is_empty(), "nobody online");
}
