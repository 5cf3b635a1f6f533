//! The JSON webitel-sdk reads, key by key (CC-NOTES 1.2, 1.3, 1.6).

use crate::common::*;
use serde_json::json;
use std::time::Duration;
use switchboard_cc::{EventKind, Input};

#[test]
fn session_reply_has_every_channel_and_numeric_ids() {
    let mut s = Sim::new(basic(&[1]));
    s.advance(Duration::from_secs(5));
    let v = s.e.session_json(1, s.wall()).unwrap();
    assert_eq!(
        keys(&v),
        sorted(vec![
            "agent_id",
            "status",
            "status_payload",
            "status_comment",
            "last_status_change",
            "status_duration",
            "on_demand",
            "team",
            "is_supervisor",
            "is_admin",
            "channels",
            "supervisor",
            "auditor",
            "screen_control",
            "desc_track"
        ])
    );
    assert_eq!(v["agent_id"], 1);
    assert_eq!(v["status"], "offline");
    assert_eq!(v["last_status_change"], WALL0 - 60_000);
    assert_eq!(v["status_duration"], 65);
    assert_eq!(v["team"], json!({"id": 1, "name": "Team 1"}));
    let channels = v["channels"].as_array().unwrap();
    let names: Vec<&str> = channels
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["call", "chat", "task", "out_call", "im"]);
    for c in channels {
        assert_eq!(
            keys(c),
            sorted(vec![
                "channel",
                "state",
                "open",
                "max_open",
                "no_answer",
                "joined_at",
                "timeout"
            ])
        );
        assert_eq!(c["state"], "waiting");
        assert!(c["joined_at"].is_i64() && c["timeout"].is_i64());
    }
    assert!(s.e.tasks_json(1, s.wall()).is_empty());
}

#[test]
fn status_events_online_carries_channels_pause_carries_payload() {
    let mut s = Sim::new(basic(&[1]));
    let out = s.online(1);
    let ev = events(&out, EventKind::AgentStatus);
    assert_eq!(ev.len(), 1);
    let (user, v) = &ev[0];
    assert_eq!(*user, 10);
    assert_eq!(
        keys(v),
        sorted(vec![
            "channels",
            "on_demand",
            "agent_id",
            "user_id",
            "domain_id",
            "timestamp",
            "status"
        ])
    );
    assert_eq!(
        (v["agent_id"].as_i64(), v["user_id"].as_i64()),
        (Some(1), Some(10))
    );
    assert_eq!(v["status"], "online");
    assert_eq!(v["timestamp"], s.wall());
    assert_eq!(
        v["channels"][0],
        json!({"channel": "call", "state": "waiting", "joined_at": s.wall(), "no_answers": 0})
    );
    assert_eq!(v["channels"].as_array().unwrap().len(), 5);
    assert!(out.iter().any(|o| matches!(o,
        switchboard_cc::Output::AgentStatus { agent_id: 1, status, .. } if status == "online")));

    let out = s.ok(Input::Pause {
        agent_id: 1,
        payload: Some("Lunch".into()),
        comment: Some("back at 2".into()),
    });
    let v = &events(&out, EventKind::AgentStatus)[0].1;
    assert_eq!(
        keys(v),
        sorted(vec![
            "agent_id",
            "user_id",
            "domain_id",
            "timestamp",
            "status",
            "status_payload",
            "status_comment"
        ])
    );
    assert_eq!(v["status_payload"], "Lunch");
    let out = s.ok(Input::Offline { agent_id: 1 });
    let v = &events(&out, EventKind::AgentStatus)[0].1;
    assert_eq!(
        keys(v),
        sorted(vec![
            "agent_id",
            "user_id",
            "domain_id",
            "timestamp",
            "status"
        ])
    );
}

#[test]
fn distribute_and_offering_objects() {
    let mut dir = basic(&[1]);
    dir.queues[0].processing = true;
    dir.queues[0]
        .variables
        .insert("wbt_auto_answer".into(), "true".into());
    let mut s = Sim::new(dir);
    s.online(1);
    let (a, out) = s.join(1, "m");
    let leg = offers(&out)[0].2.clone();
    let d = channel_event(&out, "distribute").unwrap();
    assert_eq!(
        keys(d),
        sorted(vec![
            "attempt_id",
            "channel",
            "status",
            "timestamp",
            "distribute"
        ])
    );
    assert_eq!(d["attempt_id"], a);
    assert_eq!(d["channel"], "call");
    assert_eq!(
        d["distribute"],
        json!({"app_id": "cc-test", "channel": "call", "queue_id": 1, "queue_name": "Queue 1",
               "member_id": null, "member_name": "Caller m", "agent_id": 1,
               "member_channel_id": "m", "agent_channel_id": leg,
               "communication": {"destination": "+38044m", "type": {"id": 0, "name": ""}},
               "variables": null, "has_reporting": true,
               "joined_at": d["distribute"]["joined_at"].as_i64().expect("joined_at ms")})
    );
    assert!(d["distribute"]["joined_at"].as_i64().unwrap() <= s.wall());
    let o = channel_event(&out, "offering").unwrap();
    assert_eq!(
        o["offering"],
        json!({"member_channel_id": "m", "agent_channel_id": leg, "auto_answer": "true"})
    );

    // While ringing and bridged the agent has the task; the agent leg has it for reloads.
    let tasks = s.e.tasks_json(1, s.wall());
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["state"], "offering");
    s.ok(Input::OfferAnswered { attempt_id: a });
    let t = &s.e.tasks_json(1, s.wall())[0];
    for k in [
        "attempt_id",
        "app_id",
        "channel",
        "queue_id",
        "queue_name",
        "member_id",
        "member_name",
        "member_channel_id",
        "agent_channel_id",
        "communication",
        "leaving_at",
        "processing_timeout_at",
        "bridged_at",
        "processing_sec",
        "processing_renewal_sec",
        "has_reporting",
        "has_form",
        "form",
        "state",
        "variables",
        "agent_id",
        "has_prolongation",
        "remaining_prolongations",
        "prolongation_sec",
    ] {
        assert!(t.get(k).is_some(), "task lacks {k}");
    }
    assert_eq!(t["attempt_id"], a);
    assert_eq!(t["state"], "bridged");
    assert_eq!(t["bridged_at"], s.wall());
    assert_eq!(
        t["processing_sec"], 30,
        "processing_sec 0 means the store default"
    );
    let lt = s.e.leg_task_json(&leg).unwrap();
    assert_eq!(lt["attempt_id"], a);
    assert_eq!(lt["communication"]["destination"], "+38044m");
    assert_eq!(
        s.e.leg_task_json("m"),
        None,
        "the caller's leg carries no agent task"
    );

    let out = s.ok(Input::MemberLeft { attempt_id: a });
    let p = channel_event(&out, "processing").unwrap();
    assert_eq!(
        keys(&p["processing"]),
        sorted(vec![
            "autosave",
            "timeout",
            "sec",
            "renewal_sec",
            "processing_prolongation"
        ])
    );
    assert_eq!(s.e.tasks_json(1, s.wall())[0]["state"], "processing");
    assert!(
        s.e.leg_task_json(&leg).is_some(),
        "post-processing survives a reload"
    );
    let out = s.ok(Input::Reporting {
        attempt_id: a,
        agent_id: None,
        success: false,
        description: None,
        next_distribute_at: None,
    });
    let w = channel_event(&out, "wrap_time").unwrap();
    assert_eq!(
        keys(w),
        sorted(vec![
            "attempt_id",
            "channel",
            "status",
            "timestamp",
            "wrap_time"
        ])
    );
    assert_eq!(keys(&w["wrap_time"]), ["timeout"]);
    assert_eq!(
        last_record(&out, a).unwrap().result.as_deref(),
        Some("abandoned")
    );
    assert!(s.e.tasks_json(1, s.wall()).is_empty());
}

#[test]
fn missed_and_waiting_events() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (a, _) = s.join(1, "m");
    let out = s.ok(Input::OfferFailed { attempt_id: a });
    let m = channel_event(&out, "missed").unwrap();
    assert_eq!(
        keys(m),
        sorted(vec![
            "attempt_id",
            "channel",
            "status",
            "timestamp",
            "missed"
        ])
    );
    let out = s.advance(Duration::from_secs(5));
    let w = channel_event(&out, "waiting").unwrap();
    assert_eq!(keys(w), sorted(vec!["channel", "status", "timestamp"]));
    let rest = &s.e.agent(1).unwrap().channels[0];
    assert_eq!(
        keys(rest),
        sorted(vec!["channel", "state", "joined_at", "timeout"])
    );
    assert!(rest["joined_at"].is_string(), "REST int64 is a string");
}
