//! A call from joining the queue to the agent's next idle moment.

use crate::common::*;
use std::time::Duration;
use switchboard_cc::{Input, Output};

fn processing_dir() -> switchboard_cc::Directory {
    let mut dir = basic(&[1]);
    dir.queues[0].processing = true;
    dir.queues[0].processing_sec = 30;
    dir.queues[0].processing_renewal_sec = 15;
    dir
}

#[test]
fn answer_bridges_end_processes_reporting_wraps_then_waiting() {
    let mut s = Sim::new(processing_dir());
    s.online(1);
    let (a, out) = s.join(1, "m");
    assert_eq!(channel_statuses(&out), ["distribute", "offering"]);
    // distribute, then Offer, then offering.
    let kinds: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::Event { data, .. } => data["status"].as_str(),
            Output::Offer { .. } => Some("OFFER"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["distribute", "OFFER", "offering"]);

    s.advance(Duration::from_secs(3));
    let out = s.ok(Input::OfferAnswered { attempt_id: a });
    assert_eq!(channel_statuses(&out), ["bridged"]);
    let rec = last_record(&out, a).unwrap();
    assert_eq!(rec.state, "bridged");
    assert_eq!(rec.bridged_at, Some(s.wall()));
    assert_eq!(rec.agent_id, Some(1));

    s.advance(Duration::from_secs(60));
    let out = s.ok(Input::AgentLeft { attempt_id: a });
    let p = channel_event(&out, "processing").unwrap();
    assert_eq!(p["attempt_id"], a);
    assert_eq!(
        p["processing"],
        serde_json::json!({"autosave": false, "timeout": s.wall() + 30_000, "sec": 30,
                           "renewal_sec": 15, "processing_prolongation": null})
    );
    assert_eq!(last_record(&out, a).unwrap().leaving_at, Some(s.wall()));
    // The member's hangup arriving late changes nothing.
    let (r, late) = s.input(Input::MemberLeft { attempt_id: a });
    assert!(r.is_ok() && late.is_empty());

    s.advance(Duration::from_secs(10));
    let out = s.ok(Input::Reporting {
        attempt_id: a,
        agent_id: Some(1),
        success: true,
        description: Some("sold".into()),
        next_distribute_at: None,
    });
    let w = channel_event(&out, "wrap_time").unwrap();
    assert_eq!(w["attempt_id"], a);
    assert_eq!(w["wrap_time"]["timeout"], s.wall() + 10_000);
    let rec = last_record(&out, a).unwrap();
    assert_eq!(
        (rec.result.as_deref(), rec.description.as_deref()),
        (Some("success"), Some("sold"))
    );
    assert_eq!(rec.state, "leaving");
    assert_eq!(rec.reporting_at, Some(s.wall()));

    // Reporting twice is refused and changes nothing.
    let (r, out) = s.input(Input::Reporting {
        attempt_id: a,
        agent_id: None,
        success: false,
        description: None,
        next_distribute_at: None,
    });
    assert_eq!(r.unwrap_err().id(), "app.attempt.reporting.not_found");
    assert!(out.is_empty());

    let out = s.advance(Duration::from_secs(10));
    let wait = channel_event(&out, "waiting").unwrap();
    assert!(wait.get("attempt_id").is_none());
    assert_eq!(s.e.agent(1).unwrap().channels[0]["state"], "waiting");
}

#[test]
fn processing_deadline_ends_with_timeout_and_renewal_extends_it() {
    let mut s = Sim::new(processing_dir());
    s.online(1);
    let (a, _) = s.join(1, "m");
    s.ok(Input::OfferAnswered { attempt_id: a });
    s.ok(Input::MemberLeft { attempt_id: a });
    s.advance(Duration::from_secs(20));
    let out = s.ok(Input::Renewal {
        attempt_id: a,
        sec: 40,
    });
    let p = channel_event(&out, "processing").unwrap();
    assert_eq!(p["processing"]["timeout"], s.wall() + 40_000);
    assert_eq!(p["processing"]["sec"], 40);
    assert_eq!(p["processing"]["renewal_sec"], 15);
    let out = s.advance(Duration::from_secs(39));
    assert!(channel_event(&out, "waiting").is_none());
    let out = s.advance(Duration::from_secs(1));
    let w = channel_event(&out, "waiting").unwrap();
    assert_eq!(w["attempt_id"], a, "the SDK closes the task it has");
    assert_eq!(
        last_record(&out, a).unwrap().result.as_deref(),
        Some("timeout")
    );
    let (r, _) = s.input(Input::Renewal {
        attempt_id: a,
        sec: 10,
    });
    assert!(r.is_err());
}

#[test]
fn without_processing_the_call_ends_success_and_wraps_up() {
    let mut dir = basic(&[1]);
    dir.teams[0].wrap_up_time = 0;
    let mut s = Sim::new(dir);
    s.online(1);
    let (a, _) = s.join(1, "m");
    s.ok(Input::OfferAnswered { attempt_id: a });
    let out = s.ok(Input::MemberLeft { attempt_id: a });
    assert_eq!(
        channel_statuses(&out),
        ["waiting"],
        "wrap_up_time 0: straight to waiting"
    );
    assert_eq!(channel_event(&out, "waiting").unwrap()["attempt_id"], a);
    assert_eq!(
        last_record(&out, a).unwrap().result.as_deref(),
        Some("success")
    );
    assert_eq!(s.e.attempt_of_leg("m"), None);
}

#[test]
fn on_demand_agents_wrap_until_they_say_waiting() {
    let mut s = Sim::new(basic(&[1]));
    s.ok(Input::Online {
        agent_id: 1,
        on_demand: true,
    });
    let (a, _) = s.join(1, "m");
    s.ok(Input::OfferAnswered { attempt_id: a });
    let out = s.ok(Input::MemberLeft { attempt_id: a });
    assert_eq!(
        channel_event(&out, "wrap_time").unwrap()["wrap_time"]["timeout"],
        0
    );
    let (_, out) = s.join(1, "m2");
    assert!(offers(&out).is_empty());
    let out = s.advance(Duration::from_secs(200));
    assert!(channel_statuses(&out).is_empty(), "no wrap-up deadline");
    let session = s.e.session_json(1, s.wall()).unwrap();
    assert_eq!(
        session["channels"][0]["wrap_time_ids"],
        serde_json::json!([a])
    );
    let out = s.ok(Input::Waiting {
        agent_id: 1,
        channel: "call".into(),
    });
    assert_eq!(
        channel_statuses(&out),
        ["waiting", "distribute", "offering"]
    );
}

#[test]
fn max_wait_time_leaves_with_timeout() {
    let mut dir = basic(&[1]);
    dir.queues[0].max_wait_time = 30;
    let mut s = Sim::new(dir);
    let (a, _) = s.join(1, "m");
    let out = s.advance(Duration::from_secs(30));
    assert!(out.contains(&Output::Leave {
        attempt_id: a,
        member_leg: "m".into(),
        result: "timeout".into()
    }));
    assert_eq!(last_record(&out, a).unwrap().state, "leaving");

    // While ringing an agent (a team with a long ring time), the offer is cancelled too.
    let mut dir = basic(&[1]);
    dir.queues[0].max_wait_time = 30;
    dir.teams[0].call_timeout = 60;
    let mut s = Sim::new(dir);
    s.online(1);
    let (b, out) = s.join(1, "n");
    let leg = offers(&out)[0].2.clone();
    let out = s.advance(Duration::from_secs(30));
    assert_eq!(cancels(&out), vec![(b, leg)]);
    assert!(out.contains(&Output::Leave {
        attempt_id: b,
        member_leg: "n".into(),
        result: "timeout".into()
    }));
    assert_eq!(channel_event(&out, "waiting").unwrap()["attempt_id"], b);
}

#[test]
fn caller_hangs_up_while_ringing() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (a, out) = s.join(1, "m");
    let leg = offers(&out)[0].2.clone();
    let out = s.ok(Input::MemberLeft { attempt_id: a });
    assert_eq!(cancels(&out), vec![(a, leg.clone())]);
    let rec = last_record(&out, a).unwrap();
    assert_eq!(rec.result.as_deref(), Some("abandoned"));
    assert_eq!(rec.state, "leaving");
    assert_eq!(channel_event(&out, "waiting").unwrap()["attempt_id"], a);
    assert_eq!(s.e.attempt_of_leg(&leg), None);
    let (r, _) = s.input(Input::OfferAnswered { attempt_id: a });
    assert!(r.is_err(), "a late answer must be hung up by the runtime");
}

#[test]
fn agent_going_offline_while_ringing_passes_the_call_on() {
    let mut s = Sim::new(basic(&[1, 2]));
    s.online(1);
    s.advance(Duration::from_secs(1));
    s.online(2);
    let (a, out) = s.join(1, "m");
    let leg = offers(&out)[0].2.clone();
    let out = s.ok(Input::Offline { agent_id: 1 });
    assert_eq!(cancels(&out), vec![(a, leg)]);
    assert_eq!(offers(&out)[0].1, 2);
    let statuses = channel_statuses(&out);
    assert_eq!(statuses, ["waiting", "distribute", "offering"]);
}

#[test]
fn waiting_ends_missed_early() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (a, _) = s.join(1, "m");
    s.ok(Input::OfferFailed { attempt_id: a });
    let out = s.ok(Input::Waiting {
        agent_id: 1,
        channel: "call".into(),
    });
    assert_eq!(
        channel_statuses(&out),
        ["waiting", "distribute", "offering"]
    );
}
