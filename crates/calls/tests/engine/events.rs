use crate::harness::*;
use serde_json::json;
use switchboard_calls::{EventKind, Input, Output, Party};

#[test]
fn events_follow_webitel_shapes() {
    let mut h = H::new();
    let (a, lookup, outs) = h.dial(alice(), "2021");
    let ev = event(&outs, &a, EventKind::Ringing).unwrap();
    assert_eq!(
        ev.to_json(),
        json!({
            "id": a.0, "event": "ringing", "timestamp": T0_MS.to_string(),
            "domain_id": "1", "user_id": "10", "app_id": "node-1",
            "data": {
                "sip_id": "jssip-call-id-a",
                "direction": "outbound",
                "destination": "2021",
                "from": {"type": "user", "number": "1001", "id": "10", "name": "Alice"},
                "to": {"type": "dest", "number": "2021", "name": "2021"},
            }
        })
    );
    h.media_ready(&a, "answer-a");
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let outs = h.media_ready(&b, "offer-b");
    let ev = event(&outs, &b, EventKind::Ringing).unwrap();
    assert_eq!((ev.user_id, ev.domain_id), (20, 1));
    assert_eq!(
        ev.data,
        json!({
            "sip_id": b.0,
            "parent_id": a.0,
            "direction": "inbound",
            "destination": "2021",
            "from": {"type": "user", "number": "1001", "id": "10", "name": "Alice"},
            "to": {"type": "user", "number": "2021", "id": "20", "name": "Bob"},
        })
    );
    let Output::Invite { headers, .. } = &outs[0] else {
        unreachable!()
    };
    assert_eq!(
        headers,
        &[
            ("X-Webitel-Uuid".to_owned(), b.0.clone()),
            ("X-Webitel-User-Id".to_owned(), "20".to_owned())
        ],
        "b.9: the INVITE to the browser carries the call id"
    );

    h.advance(std::time::Duration::from_millis(1500));
    let outs = h.answer(&b, 0);
    let t = T0_MS + 1500;
    let active = event(&outs, &b, EventKind::Active).unwrap();
    assert_eq!((active.data.clone(), active.timestamp), (json!({}), t));
    assert_eq!(
        event(&outs, &b, EventKind::Bridge).unwrap().data,
        json!({"bridged_id": a.0, "to": {"type":"user","number":"1001","id":"10","name":"Alice"}}),
        "for the inbound leg, bridge.to is the caller (the SDK puts it in `from`)"
    );
    assert_eq!(
        event(&outs, &a, EventKind::Bridge).unwrap().data,
        json!({"bridged_id": b.0, "to": {"type":"user","number":"2021","id":"20","name":"Bob"}})
    );
    let outs = h.feed(Input::LegHungUp { leg: b.clone() });
    for leg in [&a, &b] {
        let ev = event(&outs, leg, EventKind::Hangup).unwrap();
        assert_eq!(ev.data, json!({"cause": "NORMAL_CLEARING", "sip": 200}));
    }
}

#[test]
fn every_user_gets_only_their_own_legs_events() {
    let mut h = H::new();
    let c = h.talking();
    let mut outs = h.feed(Input::LegDtmf {
        leg: c.a.clone(),
        digit: '9',
    });
    outs.extend(h.feed(Input::LegHungUp { leg: c.a.clone() }));
    for o in &outs {
        if let Output::Event(e) = o {
            let want = if e.id == c.a { 10 } else { 20 };
            assert_eq!(e.user_id, want, "{:?}", e.kind);
        }
    }
}

#[test]
fn parties_without_a_user_get_no_events() {
    let mut h = H::new();
    let a = h.e.new_leg_id();
    let outs = h.feed(Input::IncomingCall {
        leg: a.clone(),
        from: Party::number(1, "+15550100"),
        destination: "2021".into(),
        sip_call_id: "ext".into(),
        offer_sdp: "o".into(),
        display: None,
    });
    assert!(h.events(&outs).is_empty());
    assert_eq!(last_history(&outs, &a).user_id, None);
    let lookup = resolve_of(&outs).unwrap().0;
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let outs = h.media_ready(&b, "offer-b");
    let ev = event(&outs, &b, EventKind::Ringing).unwrap();
    assert_eq!(
        ev.data["from"],
        json!({"type":"dest","number":"+15550100","name":"+15550100"})
    );
}

#[test]
fn only_kinds_the_sdk_handles_are_emitted() {
    let mut h = H::new();
    let c = h.talking();
    let mut outs = h.cmd(switchboard_calls::CallCommand::Hold { leg: c.a.clone() });
    outs.extend(h.cmd(switchboard_calls::CallCommand::Unhold { leg: c.a.clone() }));
    outs.extend(h.cmd(switchboard_calls::CallCommand::Mute {
        leg: c.a.clone(),
        on: true,
    }));
    outs.extend(h.feed(Input::LegHungUp { leg: c.a.clone() }));
    for o in &outs {
        if let Output::Event(e) = o {
            let kind = e.to_json()["event"].as_str().unwrap().to_owned();
            assert!(
                ["ringing", "active", "bridge", "hold", "dtmf", "hangup"].contains(&kind.as_str()),
                "{kind}"
            );
        }
    }
}

#[test]
fn active_calls_lists_b6_fields() {
    let mut h = H::new();
    let c = h.talking();
    h.advance(std::time::Duration::from_secs(12));
    let list = h.e.active_calls(1, Some(20), h.wall);
    assert_eq!(list.len(), 1);
    let v = serde_json::to_value(&list[0]).unwrap();
    for field in [
        "id",
        "app_id",
        "state",
        "timestamp",
        "type",
        "parent_id",
        "user",
        "extension",
        "gateway",
        "direction",
        "destination",
        "from",
        "to",
        "variables",
        "created_at",
        "answered_at",
        "bridged_at",
        "hangup_at",
        "duration",
        "hold_sec",
        "wait_sec",
        "bill_sec",
        "bridged_id",
        "blind_transfer",
        "contact_id",
        "hide_number",
        "is_consult_to_queue",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["id"], c.b.0.as_str());
    assert_eq!(v["parent_id"], c.a.0.as_str());
    assert_eq!(v["state"], "bridge");
    assert_eq!(v["type"], "call");
    assert_eq!(v["direction"], "inbound");
    assert_eq!(v["bridged_id"], c.a.0.as_str());
    assert_eq!(v["user"], json!({"id": 20, "name": "Bob"}));
    assert_eq!(v["duration"], 12);
    assert_eq!(v["bill_sec"], 12);
    assert_eq!(v["timestamp"], "2024-06-10T06:13:20.000Z");
    assert!(
        v.get("domain_id").is_none(),
        "internal fields stay out of the wire shape"
    );

    assert_eq!(h.e.active_calls(1, None, h.wall).len(), 2);
    assert_eq!(h.e.active_calls(2, None, h.wall).len(), 0);
    assert_eq!(h.e.active_calls(1, Some(10), h.wall)[0].id, c.a);
    h.feed(Input::LegHungUp { leg: c.a.clone() });
    assert!(h.e.active_calls(1, None, h.wall).is_empty());
    assert!(h.e.active_call(&c.a, h.wall).is_none());
}
