use crate::harness::*;
use std::time::Duration;
use switchboard_calls::{CallCommand, Direction, Input};

#[test]
fn history_written_at_every_state_change() {
    let mut h = H::new();
    let (a, lookup, o1) = h.dial(alice(), "2021");
    h.media_ready(&a, "answer-a");
    h.advance(Duration::from_millis(200));
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let o2 = h.media_ready(&b, "offer-b");
    h.advance(Duration::from_secs(3));
    let o3 = h.answer(&b, 0);
    h.advance(Duration::from_secs(10));
    let o4 = h.cmd(CallCommand::Hold { leg: b.clone() });
    h.advance(Duration::from_secs(4));
    let o5 = h.cmd(CallCommand::Unhold { leg: b.clone() });
    h.advance(Duration::from_secs(6));
    let o6 = h.feed(Input::LegHungUp { leg: a.clone() });

    let states = |outs: &[_], leg| {
        histories(outs, leg)
            .iter()
            .map(|r| r.state.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(states(&o1, &a), ["ringing"]);
    assert_eq!(states(&o2, &b), ["ringing"]);
    assert_eq!(states(&o3, &b), ["active", "bridge"]);
    assert_eq!(states(&o3, &a), ["bridge"]);
    assert_eq!(states(&o4, &b), ["hold"]);
    assert_eq!(states(&o5, &b), ["bridge"]);
    assert_eq!(states(&o6, &a), ["hangup"]);
    assert_eq!(states(&o6, &b), ["hangup"]);

    let ra = last_history(&o6, &a);
    assert_eq!(ra.parent_id, None);
    assert_eq!(ra.direction, Direction::Outbound);
    assert_eq!(
        (ra.from_number.as_str(), ra.to_number.as_str()),
        ("1001", "2021")
    );
    assert_eq!((ra.to_name.as_str(), ra.to_id), ("Bob", Some(20)));
    assert_eq!(ra.created_at, T0_MS);
    assert_eq!(ra.answered_at, Some(T0_MS + 3_200));
    assert_eq!(ra.hangup_at, Some(T0_MS + 23_200));
    assert_eq!((ra.duration, ra.bill_sec, ra.wait_sec), (23, 20, 3));
    assert_eq!(ra.sip_id, "jssip-call-id-a");
    assert_eq!(ra.bridged_id.as_ref(), Some(&b));

    let rb = last_history(&o6, &b);
    assert_eq!(rb.parent_id.as_ref(), Some(&a));
    assert_eq!(rb.call_id.0, a.0);
    assert_eq!(rb.direction, Direction::Inbound);
    assert_eq!(rb.user_id, Some(20));
    assert_eq!(rb.created_at, T0_MS + 200);
    assert_eq!((rb.duration, rb.bill_sec, rb.hold_sec), (23, 20, 4));
    assert_eq!(rb.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    assert_eq!(rb.sip_id, b.0);
}

#[test]
fn unanswered_leg_history_has_no_bill_seconds() {
    let mut h = H::new();
    let c = h.ringing(1);
    h.advance(Duration::from_secs(5));
    let outs = h.feed(Input::LegCancelled { leg: c.a.clone() });
    for leg in [&c.a, &c.b] {
        let r = last_history(&outs, leg);
        assert_eq!((r.bill_sec, r.answered_at, r.wait_sec), (0, None, 5));
        assert_eq!(r.state, "hangup");
    }
}

#[test]
fn history_rows_serialise_for_the_store() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.feed(Input::LegHungUp { leg: c.b.clone() });
    let v = serde_json::to_value(last_history(&outs, &c.b)).unwrap();
    assert_eq!(v["direction"], "inbound");
    assert_eq!(v["hangup_cause"], "NORMAL_CLEARING");
    assert_eq!(v["parent_id"], c.a.0.as_str());
    let back: switchboard_calls::HistoryRecord = serde_json::from_value(v).unwrap();
    assert_eq!(&back, last_history(&outs, &c.b));
}
