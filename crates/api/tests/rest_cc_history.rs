//! The contact center's store API (what the telephony runtime reads and writes) and the queue
//! fields call history shows for legs that belong to an attempt. SQLite, or PostgreSQL when
//! SWITCHBOARD_TEST_PG is set.

mod common;

use axum::http::{Method, StatusCode};
use common::{error_id, TestApp};
use serde_json::{json, Value};
use switchboard_store::{AttemptRow, HistoryRecord};

fn id(v: &Value) -> i64 {
    v["id"]
        .as_str()
        .expect("string id")
        .parse()
        .expect("int id")
}

/// A team, two skills, an agent for a provisioned user with both skills, and a queue asking
/// for one of them; returns (team, skill, agent, queue, user) ids.
async fn contact_center(app: &TestApp) -> (i64, i64, i64, i64, i64) {
    let (uid, _, _) = app.provision("3001").await;
    let team = app
        .post(
            "/api/call_center/teams",
            &app.admin,
            json!({"name": "Support", "strategy": "longest-idle-agent", "call_timeout": 20,
                   "wrap_up_time": 5, "max_no_answer": 3, "no_answer_delay_time": 7}),
        )
        .await;
    assert_eq!(team.0, StatusCode::OK, "{}", team.1);
    let skill = app
        .post(
            "/api/call_center/skills",
            &app.admin,
            json!({"name": "English"}),
        )
        .await;
    assert_eq!(skill.0, StatusCode::OK, "{}", skill.1);
    let other = app
        .post(
            "/api/call_center/skills",
            &app.admin,
            json!({"name": "Billing"}),
        )
        .await;
    let agent = app
        .post(
            "/api/call_center/agents",
            &app.admin,
            json!({"user": {"id": uid}, "team": {"id": team.1["id"]}}),
        )
        .await;
    assert_eq!(agent.0, StatusCode::OK, "{}", agent.1);
    let agent_id = id(&agent.1);
    for (s, cap) in [(&skill.1, 80), (&other.1, 10)] {
        let r = app
            .post(
                &format!("/api/call_center/agents/{agent_id}/skills"),
                &app.admin,
                json!({"skill": {"id": s["id"]}, "capacity": cap}),
            )
            .await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    }
    let queue = app
        .post(
            "/api/call_center/queues",
            &app.admin,
            json!({"name": "Hotline", "type": 1, "strategy": "fifo", "priority": 5,
                   "team": {"id": team.1["id"]}, "payload": {"max_wait_time": 60},
                   "variables": {"wbt_auto_answer": "true"}, "sticky_agent": true}),
        )
        .await;
    assert_eq!(queue.0, StatusCode::OK, "{}", queue.1);
    let queue_id = id(&queue.1);
    let qs = app
        .post(
            &format!("/api/call_center/queues/{queue_id}/skills"),
            &app.admin,
            json!({"skill": {"id": skill.1["id"]}, "lvl": 1, "min_capacity": 50, "max_capacity": 100}),
        )
        .await;
    assert_eq!(qs.0, StatusCode::OK, "{}", qs.1);
    (
        id(&team.1),
        id(&skill.1),
        agent_id,
        queue_id,
        uid.parse().unwrap(),
    )
}

#[tokio::test]
async fn the_runtime_reads_a_domain_in_one_directory_and_writes_status_and_attempts() {
    let app = TestApp::new().await;
    let store = &app.state.store;
    assert!(store.cc_domains().await.unwrap().is_empty());
    let (team, skill, agent, queue, user) = contact_center(&app).await;
    assert_eq!(store.cc_domains().await.unwrap(), vec![1]);
    assert_eq!(store.agent_id_of_user(1, user).await.unwrap(), Some(agent));
    assert_eq!(store.agent_id_of_user(1, 1).await.unwrap(), None);
    assert_eq!(store.agent_id_of_user(2, user).await.unwrap(), None);

    let d = store.cc_directory(1).await.unwrap();
    assert_eq!(d.agents.len(), 1);
    let a = &d.agents[0];
    assert_eq!(
        (a.id, a.user_id, a.name.as_str(), a.extension.as_str()),
        (agent, user, "User 3001", "3001")
    );
    assert_eq!((a.team_id, a.status.as_str()), (Some(team), "offline"));
    assert_eq!(a.skills.len(), 2);
    let english = a.skills.iter().find(|s| s.skill_id == skill).unwrap();
    assert_eq!((english.capacity, english.enabled), (80, true));
    let t = &d.teams[0];
    assert_eq!(
        (t.id, t.strategy.as_str(), t.call_timeout, t.wrap_up_time),
        (team, "longest-idle-agent", 20, 5)
    );
    assert_eq!((t.max_no_answer, t.no_answer_delay_time), (3, 7));
    let q = &d.queues[0];
    assert_eq!(
        (q.id, q.kind, q.priority, q.team_id),
        (queue, 1, 5, Some(team))
    );
    assert!(q.enabled && q.sticky_agent && !q.processing);
    assert_eq!((q.processing_sec, q.strategy.as_str()), (30, "fifo"));
    assert_eq!(q.payload, json!({"max_wait_time": 60}));
    assert_eq!(q.variables["wbt_auto_answer"], "true");
    assert_eq!(q.skills.len(), 1);
    assert_eq!(
        (
            q.skills[0].skill_id,
            q.skills[0].lvl,
            q.skills[0].min_capacity
        ),
        (skill, 1, 50)
    );

    store
        .set_agent_status(1, agent, "pause", Some("Lunch"), 1_790_000_000_000)
        .await
        .unwrap();
    let (s, read) = app
        .get(&format!("/api/call_center/agents/{agent}"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "pause");
    assert_eq!(read["status_payload"], "Lunch");
    assert_eq!(read["last_status_change"], "1790000000000");
    assert!(store
        .set_agent_status(2, agent, "online", None, 1)
        .await
        .is_err());

    assert_eq!(store.max_attempt_id().await.unwrap(), 0);
    let mut at = AttemptRow {
        id: 41,
        domain_id: 1,
        queue_id: queue,
        queue_name: "Hotline".into(),
        team_id: Some(team),
        member_call_id: "cust-leg".into(),
        destination: "+380441234567".into(),
        joined_at: 1_790_000_000_000,
        ..Default::default()
    };
    store.upsert_attempt(&at).await.unwrap();
    let (_, q1) = app
        .get(&format!("/api/call_center/queues/{queue}"), &app.admin)
        .await;
    assert_eq!(
        (q1["waiting"].as_i64(), q1["active"].as_i64()),
        (Some(1), Some(1))
    );
    at.agent_id = Some(agent);
    at.agent_name = Some("User 3001".into());
    at.agent_call_id = Some("agent-leg".into());
    at.offering_at = Some(1_790_000_004_000);
    at.bridged_at = Some(1_790_000_010_000);
    store.upsert_attempt(&at).await.unwrap();
    let (_, q2) = app
        .get(&format!("/api/call_center/queues/{queue}"), &app.admin)
        .await;
    assert_eq!(
        (q2["waiting"].as_i64(), q2["active"].as_i64()),
        (Some(0), Some(1))
    );
    at.leaving_at = Some(1_790_000_070_000);
    at.reporting_at = Some(1_790_000_075_000);
    at.result = Some("success".into());
    at.description = Some("solved".into());
    store.upsert_attempt(&at).await.unwrap();
    assert_eq!(store.max_attempt_id().await.unwrap(), 41);
    // Another domain's write of the same id changes nothing here.
    store
        .upsert_attempt(&AttemptRow {
            domain_id: 2,
            result: Some("abandoned".into()),
            ..at.clone()
        })
        .await
        .ok();

    let (s, h) = app
        .get(
            "/api/call_center/queues/attempts/history?joined_at.from=1789999999000&joined_at.to=1790000001000",
            &app.admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let item = &h["items"][0];
    assert_eq!(item["id"], "41");
    assert_eq!(
        item["queue"],
        json!({"id": queue.to_string(), "name": "Hotline"})
    );
    assert_eq!(item["agent"]["id"], agent.to_string());
    assert_eq!(item["bridged_at"], "1790000010000");
    assert_eq!(item["destination"]["destination"], "+380441234567");
    assert_eq!(item["result"], "success");
    for (filter, count) in [
        (format!("queue_id={queue}"), 1),
        (format!("queue_id={}", queue + 1), 0),
        (format!("agent_id={agent}"), 1),
        ("result=abandoned".to_string(), 0),
        ("joined_at.from=1790000001000".to_string(), 0),
    ] {
        let (_, l) = app
            .get(
                &format!("/api/call_center/queues/attempts/history?{filter}"),
                &app.admin,
            )
            .await;
        assert_eq!(l["items"].as_array().unwrap().len(), count, "{filter}: {l}");
    }
    let (s, e) = app
        .get(
            "/api/call_center/queues/attempts/history?joined_at.from=5&joined_at.to=4",
            &app.admin,
        )
        .await;
    assert_eq!(error_id(s, &e), "app.attempt.valid.joined_at");
}

#[tokio::test]
async fn history_legs_of_an_attempt_carry_the_queue_fields() {
    let app = TestApp::new().await;
    let store = &app.state.store;
    let (team, _, agent, queue, user) = contact_center(&app).await;
    let t0 = 1_790_000_000_000;
    let leg = |id: &str, parent: &str, user: Option<i64>, dir: &str| HistoryRecord {
        id: id.into(),
        domain_id: 1,
        parent_id: parent.into(),
        user_id: user,
        direction: dir.into(),
        destination: "100".into(),
        from_number: "+380441234567".into(),
        to_number: "100".into(),
        created_at: t0,
        answered_at: t0 + 1_000,
        bridged_at: t0 + 10_000,
        hangup_at: t0 + 70_000,
        stored_at: t0 + 70_000,
        duration: 70,
        bill_sec: 69,
        hold_sec: 5,
        cause: "NORMAL_CLEARING".into(),
        ..Default::default()
    };
    store
        .upsert_history(&leg("cust-leg", "", None, "inbound"))
        .await
        .unwrap();
    store
        .upsert_history(&leg("agent-leg", "cust-leg", Some(user), "outbound"))
        .await
        .unwrap();
    let mut plain = leg("plain-leg", "", Some(user), "outbound");
    plain.cause = "USER_BUSY".into();
    plain.bridged_at = 0;
    store.upsert_history(&plain).await.unwrap();
    // The customer waited in another queue first; the latest attempt is the one shown.
    store
        .upsert_attempt(&AttemptRow {
            id: 7,
            domain_id: 1,
            queue_id: 999,
            queue_name: "Gone".into(),
            member_call_id: "cust-leg".into(),
            joined_at: t0 - 30_000,
            leaving_at: Some(t0 - 1_000),
            result: Some("transfer".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .upsert_attempt(&AttemptRow {
            id: 8,
            domain_id: 1,
            queue_id: queue,
            queue_name: "Hotline".into(),
            team_id: Some(team),
            agent_id: Some(agent),
            agent_name: Some("User 3001".into()),
            member_call_id: "cust-leg".into(),
            agent_call_id: Some("agent-leg".into()),
            destination: "+380441234567".into(),
            joined_at: t0,
            offering_at: Some(t0 + 4_000),
            bridged_at: Some(t0 + 10_000),
            leaving_at: Some(t0 + 70_000),
            reporting_at: Some(t0 + 75_000),
            result: Some("success".into()),
            description: Some("solved".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let q = format!(
        "/api/calls/history?created_at.from={}&created_at.to={}",
        t0 - 1000,
        t0 + 1000
    );
    let (s, all) = app.get(&q, &app.admin).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{all}");
    let by_id = |id: &str| items.iter().find(|c| c["id"] == id).unwrap().clone();
    for leg_id in ["cust-leg", "agent-leg"] {
        let c = by_id(leg_id);
        assert_eq!(
            c["queue"],
            json!({"id": queue.to_string(), "name": "Hotline"}),
            "{c}"
        );
        assert_eq!(
            c["team"],
            json!({"id": team.to_string(), "name": "Support"})
        );
        assert_eq!(
            c["agent"],
            json!({"id": agent.to_string(), "name": "User 3001"})
        );
        assert_eq!(c["attempt_id"], "8");
        assert_eq!(c["joined_at"], t0.to_string());
        assert_eq!(c["queue_bridged_at"], (t0 + 10_000).to_string());
        assert_eq!(c["leaving_at"], (t0 + 70_000).to_string());
        assert_eq!(c["reporting_at"], (t0 + 75_000).to_string());
        assert_eq!(c["queue_wait_sec"], 10);
        assert_eq!(c["queue_duration_sec"], 70);
        assert_eq!(c["reporting_sec"], 5);
        assert_eq!(c["result"], "success");
        assert_eq!(c["agent_description"], "solved");
        // Bridged 60 s, 5 s of it on hold.
        assert_eq!(c["talk_sec"], 55);
        assert!(c.get("member").is_none(), "inbound: no member: {c}");
    }
    assert_eq!(by_id("cust-leg")["hangup_disposition"], "client_dropped");
    assert_eq!(by_id("agent-leg")["hangup_disposition"], "", "a child leg");
    let plain = by_id("plain-leg");
    assert!(
        plain.get("queue").is_none() && plain.get("attempt_id").is_none(),
        "{plain}"
    );
    assert_eq!(plain["hangup_disposition"], "not_answered");

    for (filter, want) in [
        (format!("queue_id={queue}"), 2),
        ("queue_id=999".to_string(), 0),
        (format!("agent_id={agent}"), 2),
        (format!("agent_id={}", agent + 1), 0),
    ] {
        let (s, l) = app.get(&format!("{q}&{filter}"), &app.admin).await;
        assert_eq!(s, StatusCode::OK, "{l}");
        assert_eq!(l["items"].as_array().unwrap().len(), want, "{filter}: {l}");
    }
    // The same through a JSON body.
    let (s, l) = app
        .call(
            Method::POST,
            "/api/calls/history",
            Some(&app.admin),
            Some(json!({"created_at": {"from": t0 - 1000, "to": t0 + 1000}, "queue_id": [queue]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["items"].as_array().unwrap().len(), 2, "{l}");

    // The store answers the same in one read.
    let legs = store
        .search_history_legs(
            1,
            &switchboard_store::HistoryFilter {
                ids: vec!["agent-leg".into()],
                ..Default::default()
            },
            &Default::default(),
        )
        .await
        .unwrap();
    let a = legs.items[0].attempt.as_ref().expect("attempt");
    assert!(a.agent_leg);
    assert_eq!((a.attempt_id, a.queue_kind), (8, Some(1)));
}
