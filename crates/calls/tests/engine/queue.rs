//! A caller waiting in a contact-center queue and the agent legs offered for it.

use crate::harness::*;
use std::time::Duration;
use switchboard_calls::{
    CallCommand, EventKind, HangupCause, Input, LegId, Party, QueueTag, Target,
};

fn agent(n: i64) -> Party {
    Party::user(100 + n, DOMAIN, format!("10{n}"), format!("Agent {n}"))
}

fn tag(attempt_id: i64) -> QueueTag {
    QueueTag {
        attempt_id,
        queue_id: 5,
        queue_name: "Support".into(),
        queue_type: "inbound".into(),
        has_reporting: true,
    }
}

/// Alice dials the queue's number 700; it resolves to queue 5.
fn queued(h: &mut H) -> LegId {
    let (a, lookup, _) = h.dial(alice(), "700");
    h.media_ready(&a, "answer-a");
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: Target::Queue {
            queue_id: 5,
            name: "Support".into(),
        },
    });
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &[
                "Answer A answer-a",
                "Event A active",
                "Tone A true",
                "Queue joined A 5"
            ]
        ),
        "{lines:?}"
    );
    a
}

fn offer(h: &mut H, a: &LegId, n: i64, name: &str, timeout: Duration) -> LegId {
    let b = h.e.new_leg_id();
    h.name(&b, name);
    let outs = h.cmd(CallCommand::QueueOffer {
        member: a.clone(),
        agent_leg: b.clone(),
        agent: agent(n),
        contacts: contacts(1),
        timeout,
        tag: tag(1),
    });
    assert_eq!(h.actions(&outs).len(), 1, "{:?}", h.actions(&outs));
    assert_eq!(offerer_near(&outs), Some(Some(a.clone())));
    let outs = h.media_ready(&b, "offer-b");
    let ringing = event(&outs, &b, EventKind::Ringing).expect("agent leg rings");
    let q = &ringing.to_json()["data"]["queue"];
    assert_eq!(q["attempt_id"], 1, "{q}");
    assert_eq!(q["queue_id"], "5");
    assert_eq!(q["queue_name"], "Support");
    assert_eq!(q["reporting"], "true");
    b
}

#[test]
fn the_caller_waits_with_a_tone_and_the_agent_who_answers_gets_bridged() {
    let mut h = H::new();
    let a = queued(&mut h);
    let b = offer(&mut h, &a, 1, "B", Duration::from_secs(15));
    let outs = h.answer(&b, 0);
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &[
                "AcceptAnswer B answer-0",
                "Tone A false",
                "Queue answered B",
                "Bridge A B",
                "Event B bridge",
                "Event A bridge"
            ]
        ),
        "{lines:?}"
    );
    // The caller hangs up: the agent's leg ends too, and the attempt is over once.
    let outs = h.feed(Input::LegHungUp { leg: a.clone() });
    let lines = h.show(&outs);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("Queue ended"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(
        in_order(&lines, &["Close A", "Bye B#0", "Close B"]),
        "{lines:?}"
    );
}

#[test]
fn an_agent_who_does_not_answer_leaves_the_caller_waiting_for_the_next() {
    let mut h = H::new();
    let a = queued(&mut h);
    offer(&mut h, &a, 1, "B", Duration::from_secs(10));
    // The team's call timeout, not the engine's 30 s ring timeout.
    let outs = h.advance(Duration::from_secs(10));
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &["Cancel B#0", "Close B", "Event B hangup", "Queue failed B"]
        ),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(" A")),
        "caller untouched: {lines:?}"
    );
    assert!(h.e.queued(&a));
    // A rejected offer (486) is a miss too; the third agent answers.
    let c = offer(&mut h, &a, 2, "C", Duration::from_secs(10));
    let outs = h.fail(&c, 0, 486);
    let lines = h.show(&outs);
    assert!(lines.contains(&"Queue failed C".to_string()), "{lines:?}");
    let d = offer(&mut h, &a, 3, "D", Duration::from_secs(10));
    let outs = h.answer(&d, 0);
    let lines = h.show(&outs);
    assert!(lines.contains(&"Bridge A D".to_string()), "{lines:?}");
}

#[test]
fn a_caller_who_hangs_up_while_an_agent_rings_cancels_the_offer() {
    let mut h = H::new();
    let a = queued(&mut h);
    let b = offer(&mut h, &a, 1, "B", Duration::from_secs(10));
    let outs = h.feed(Input::LegHungUp { leg: a.clone() });
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &["Close A", "Cancel B#0", "Close B", "Queue left A"]
        ),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "Queue failed B"), "{lines:?}");
    // The agent's 200 crossing the CANCEL is hung up.
    let outs = h.answer(&b, 0);
    let lines = h.show(&outs);
    assert_eq!(lines, vec!["Bye B#0"]);
}

#[test]
fn one_offer_at_a_time_and_only_for_waiting_callers() {
    let mut h = H::new();
    let a = queued(&mut h);
    offer(&mut h, &a, 1, "B", Duration::from_secs(10));
    let second = h.e.new_leg_id();
    let err = h.e.handle(
        Input::Command(CallCommand::QueueOffer {
            member: a.clone(),
            agent_leg: second,
            agent: agent(2),
            contacts: contacts(1),
            timeout: Duration::from_secs(10),
            tag: tag(1),
        }),
        h.now,
        h.wall,
    );
    assert!(err.is_err(), "a second offer while one rings");
    // Nowhere to ring: a miss at once, no leg.
    let mut h = H::new();
    let a = queued(&mut h);
    let x = h.e.new_leg_id();
    h.name(&x, "X");
    let outs = h.cmd(CallCommand::QueueOffer {
        member: a.clone(),
        agent_leg: x,
        agent: agent(2),
        contacts: vec![],
        timeout: Duration::from_secs(10),
        tag: tag(1),
    });
    let lines = h.show(&outs);
    assert_eq!(lines, vec!["Queue failed X"]);
}

#[test]
fn leaving_the_queue_continues_the_schema_or_hangs_up() {
    let mut h = H::new();
    let a = queued(&mut h);
    let b = offer(&mut h, &a, 1, "B", Duration::from_secs(10));
    let outs = h.cmd(CallCommand::QueueLeave {
        member: a.clone(),
        destination: Some("2021".into()),
        cause: None,
    });
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &["Cancel B#0", "Close B", "Tone A false", "Resolve 2021"]
        ),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("Queue")), "{lines:?}");
    let _ = b;
    let mut h = H::new();
    let a = queued(&mut h);
    let outs = h.cmd(CallCommand::QueueLeave {
        member: a.clone(),
        destination: None,
        cause: Some(HangupCause::NoAnswer),
    });
    let hangup = event(&outs, &a, EventKind::Hangup).expect("hangup");
    assert_eq!(hangup.to_json()["data"]["cause"], "NO_ANSWER");
}

#[test]
fn an_agent_who_transfers_the_caller_ends_the_attempt() {
    let mut h = H::new();
    let a = queued(&mut h);
    let b = offer(&mut h, &a, 1, "B", Duration::from_secs(10));
    h.answer(&b, 0);
    let outs = h.cmd(CallCommand::BlindTransfer {
        leg: b.clone(),
        destination: "3031".into(),
    });
    let lines = h.show(&outs);
    assert_eq!(
        lines.iter().filter(|l| *l == "Queue ended B").count(),
        1,
        "{lines:?}"
    );
    // The caller talks on with Carol; her call is no queue call.
    let lookup = resolve_of(&outs).expect("Carol looked up").0;
    let c = h.resolve_to(lookup, carol(), 1, "C");
    h.media_ready(&c, "offer-c");
    h.answer(&c, 0);
    let outs = h.feed(Input::LegHungUp { leg: a.clone() });
    let lines = h.show(&outs);
    assert!(!lines.iter().any(|l| l.starts_with("Queue")), "{lines:?}");
}

fn dialled(h: &mut H) -> LegId {
    let m = h.e.new_leg_id();
    h.name(&m, "M");
    let outs = h.cmd(CallCommand::DialMember {
        leg: m.clone(),
        member: Party::number(DOMAIN, "+15550100"),
        display: Party::number(DOMAIN, "+15550999"),
        contacts: contacts(1),
        timeout: Duration::from_secs(20),
    });
    assert_eq!(h.actions(&outs), vec!["CreateOfferer M"]);
    let outs = h.media_ready(&m, "offer-m");
    assert_eq!(h.actions(&outs), vec!["Invite M#0 c0"]);
    m
}

#[test]
fn a_dialled_member_who_answers_waits_for_an_agent_like_an_inbound_caller() {
    let mut h = H::new();
    let m = dialled(&mut h);
    let outs = h.answer(&m, 0);
    let lines = h.show(&outs);
    assert!(
        in_order(
            &lines,
            &[
                "AcceptAnswer M answer-0",
                "Tone M true",
                "Queue member answered M"
            ]
        ),
        "{lines:?}"
    );
    assert!(h.e.queued(&m));
    let b = offer(&mut h, &m, 1, "B", Duration::from_secs(10));
    let outs = h.answer(&b, 0);
    let lines = h.show(&outs);
    assert!(
        in_order(&lines, &["Tone M false", "Queue answered B", "Bridge M B"]),
        "{lines:?}"
    );
}

#[test]
fn a_dialled_member_not_reached_says_why() {
    let mut h = H::new();
    let m = dialled(&mut h);
    let outs = h.fail(&m, 0, 486);
    assert!(h
        .show(&outs)
        .contains(&"Queue dial failed M USER_BUSY".to_string()));
    let mut h = H::new();
    dialled(&mut h);
    // The dialer's ring time, not the engine's default.
    let outs = h.advance(Duration::from_secs(20));
    assert!(
        h.show(&outs)
            .contains(&"Queue dial failed M NO_ANSWER".to_string()),
        "{:?}",
        h.show(&outs)
    );
}
