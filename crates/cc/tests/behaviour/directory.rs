//! Reloading a domain's configuration over live state, and the live board.

use crate::common::*;
use std::time::Duration;
use switchboard_cc::{EventKind, Input, Output};

#[test]
fn reload_keeps_live_state_and_removed_queue_cancels_its_callers() {
    let mut dir = basic(&[1, 2]);
    dir.queues.push(queue(2, Some(1), &[]));
    let mut s = Sim::new(dir.clone());
    s.online(1);
    let (a, out) = s.join(1, "m1");
    assert_eq!(offers(&out)[0].1, 1);
    let (b, _) = s.join(2, "m2");

    // Queue 2 goes away; agent 1 keeps its ringing offer and status.
    dir.queues.truncate(1);
    let out = s.set_directory(dir.clone());
    assert!(out.contains(&Output::Leave {
        attempt_id: b,
        member_leg: "m2".into(),
        result: "cancel".into()
    }));
    assert_eq!(s.e.agent(1).unwrap().status, "online");
    assert_eq!(s.e.tasks_json(1, s.wall())[0]["attempt_id"], a);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::BoardChanged { domain_id: DOMAIN })));

    // Agent 1 is removed while ringing: offline, the call goes to agent 2 when online.
    dir.agents.retain(|x| x.id != 1);
    let out = s.set_directory(dir);
    assert_eq!(cancels(&out).len(), 1);
    let st = events(&out, EventKind::AgentStatus);
    assert_eq!(st[0].1["status"], "offline");
    assert_eq!(s.e.agent(1), None, "forgotten once idle");
    assert_eq!(s.e.agent_of_user(DOMAIN, 10), None);
    let out = s.online(2);
    assert_eq!(offers(&out)[0], (a, 2, offers(&out)[0].2.clone()));
}

#[test]
fn new_agents_start_in_their_stored_status() {
    let mut dir = basic(&[1]);
    dir.agents[0].status = "pause".into();
    dir.agents[0].status_payload = Some("Lunch".into());
    let s = Sim::new(dir);
    let v = s.e.agent(1).unwrap();
    assert_eq!(
        (v.status.as_str(), v.status_payload.as_deref()),
        ("pause", Some("Lunch"))
    );
    assert_eq!(s.e.agent_of_user(DOMAIN, 10), Some(1));
}

#[test]
fn board_lists_waiting_calls_and_agent_states() {
    let mut s = Sim::new(basic(&[1, 2, 3]));
    s.online(1);
    s.online(2);
    s.ok(Input::Pause {
        agent_id: 2,
        payload: None,
        comment: None,
    });
    let (a, _) = s.join(1, "m1");
    s.ok(Input::OfferAnswered { attempt_id: a });
    s.join(1, "m2");
    s.advance(Duration::from_secs(7));
    let b = s.e.board(DOMAIN, None, s.wall());
    assert_eq!(b["domain_id"], DOMAIN);
    let q = &b["queues"][0];
    assert_eq!(q["queue_id"], 1);
    assert_eq!(q["name"], "Queue 1");
    let w = q["waiting"].as_array().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["leg"], "m2");
    assert_eq!(w[0]["wait_sec"], 7);
    assert_eq!(w[0]["number"], "+38044m2");
    let ag = &q["agents"];
    assert_eq!(
        (
            ag["online"].as_u64(),
            ag["pause"].as_u64(),
            ag["offline"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(ag["bridged"], 1);
    assert_eq!(ag["waiting"], 0, "nobody is free");
    assert_eq!(ag["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        ag["items"][0],
        serde_json::json!({"agent_id": 1, "name": "Agent 1",
        "status": "online", "state": "bridged"})
    );
    assert_eq!(
        s.e.board(DOMAIN, Some(9), s.wall())["queues"],
        serde_json::json!([])
    );
}
