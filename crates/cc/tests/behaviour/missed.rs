//! Offers nobody answers.

use crate::common::*;
use std::time::Duration;
use switchboard_cc::{EventKind, Input};

#[test]
fn missed_offer_goes_to_the_next_agent_and_max_no_answer_breaks_out() {
    let mut dir = basic(&[1, 2]);
    dir.teams[0].max_no_answer = 2;
    let mut s = Sim::new(dir);
    s.online(1);
    s.advance(Duration::from_secs(1));
    s.online(2);

    let (a, out) = s.join(1, "m1");
    assert_eq!(offers(&out)[0].1, 1);
    let out = s.ok(Input::OfferFailed { attempt_id: a });
    let missed = channel_event(&out, "missed").expect("missed event");
    assert_eq!(missed["attempt_id"], a);
    assert_eq!(missed["missed"]["timeout"], s.wall() + 5_000);
    assert_eq!(keys(&missed["missed"]), ["timeout"]);
    assert_eq!(offers(&out)[0].1, 2, "the call moves to the other agent");
    let missed_user = events(&out, EventKind::Channel)[0].0;
    assert_eq!(missed_user, 10);

    // Agent 2 misses too; agent 1 is still in `missed`, so nobody gets it.
    let out = s.ok(Input::OfferFailed { attempt_id: a });
    assert!(offers(&out).is_empty());
    // After the 5 s no-answer delay agent 1 is free; both have missed it and nobody else is
    // online, so agent 1 gets it again.
    let out = s.advance(Duration::from_secs(5));
    assert_eq!(offers(&out)[0].1, 1);
    let out = s.ok(Input::OfferFailed { attempt_id: a });
    let status = events(&out, EventKind::AgentStatus);
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].1["status"], "break_out");
    assert_eq!(status[0].1["agent_id"], 1);
    assert_eq!(s.e.agent(1).unwrap().status, "break_out");
}

#[test]
fn a_missed_call_is_not_offered_again_to_the_same_agent_while_another_can_try() {
    let mut dir = basic(&[1, 2]);
    dir.teams[0].no_answer_delay_time = 0;
    let mut s = Sim::new(dir);
    s.online(1);
    s.advance(Duration::from_secs(1));
    s.online(2);
    let (b, out) = s.join(1, "busy");
    assert_eq!(offers(&out)[0].1, 1);
    let (a, out) = s.join(1, "m");
    assert_eq!(offers(&out)[0].1, 2);
    s.ok(Input::OfferAnswered { attempt_id: b });
    // Agent 2 misses `m` and is free at once (no delay), but agent 1, online and busy, has
    // not tried it yet: the call waits for agent 1.
    let out = s.ok(Input::OfferFailed { attempt_id: a });
    assert_eq!(channel_statuses(&out), ["missed", "waiting"]);
    assert!(offers(&out).is_empty());
    s.ok(Input::MemberLeft { attempt_id: b });
    let out = s.advance(Duration::from_secs(10));
    assert_eq!(offers(&out)[0], (a, 1, offers(&out)[0].2.clone()));
}

#[test]
fn engine_gives_up_on_an_unreported_ring_after_the_call_timeout() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (a, out) = s.join(1, "m");
    let leg = offers(&out)[0].2.clone();
    let out = s.advance(Duration::from_secs(21));
    assert!(
        cancels(&out).is_empty(),
        "the runtime reports first (2 s grace)"
    );
    let out = s.advance(Duration::from_secs(1));
    assert_eq!(cancels(&out), vec![(a, leg)]);
    assert_eq!(channel_statuses(&out), ["missed"]);
    // The late report from the runtime changes nothing.
    let (r, out) = s.input(Input::OfferFailed { attempt_id: a });
    assert!(r.is_ok());
    assert!(out.is_empty());
}
