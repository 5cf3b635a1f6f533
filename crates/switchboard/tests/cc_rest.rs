//! The contact center's REST face through the real server: teams, skills, agents and their
//! skills, queues and their skills in Webitel's shapes (string ids, default fields, `fields`),
//! clear 400s that change nothing, cascades, permissions by role and domain scoping. Runs on
//! SQLite, or on PostgreSQL when SWITCHBOARD_TEST_PG is set.

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Stdio;

async fn call(method: Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("X-Webitel-Access", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// REST calls with one token against one server.
struct Api<'a> {
    s: &'a Server,
    token: String,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.s.api())
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        call(Method::GET, &self.url(path), &self.token, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::POST, &self.url(path), &self.token, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::PUT, &self.url(path), &self.token, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::PATCH, &self.url(path), &self.token, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        call(Method::DELETE, &self.url(path), &self.token, None).await
    }
    /// POSTs and answers the created object, asserting 200.
    async fn create(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.post(path, body).await;
        assert_eq!(st, 200, "POST {path}: {v}");
        v
    }
    /// GETs a list and answers its items, asserting 200.
    async fn items(&self, path: &str) -> Vec<Value> {
        let (st, v) = self.get(path).await;
        assert_eq!(st, 200, "GET {path}: {v}");
        v["items"].as_array().cloned().unwrap_or_default()
    }
}

fn admin(s: &Server) -> Api<'_> {
    Api {
        s,
        token: s.token.clone(),
    }
}

/// The string id of an object.
fn sid(v: &Value) -> String {
    let id = v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("string id in {v}"));
    id.parse::<i64>().expect("integer id");
    id.to_string()
}

/// Asserts Webitel's error shape with HTTP status `status`; answers the error id.
fn error_id(status: u16, want: u16, body: &Value) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"].as_u64(), Some(u64::from(want)), "{body}");
    assert!(
        body["status"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body["id"].as_str().expect("error id").to_string()
}

/// A user holding only the built-in role `role`; answers (user id, token).
async fn user_with_role(
    s: &Server,
    username: &str,
    role: &str,
    extension: &str,
) -> (String, String) {
    let api = admin(s);
    let roles = api.items("/roles?size=100").await;
    let role = roles
        .iter()
        .find(|r| r["name"] == role)
        .unwrap_or_else(|| panic!("built-in role {role}"))
        .clone();
    let user = api
        .create(
            "/users",
            json!({"username": username, "name": format!("User {username}"), "password": "Secret-123",
                   "extension": extension, "roles": [{"id": role["id"]}],
                   "license": [{"prod": "CALL_CENTER"}]}),
        )
        .await;
    let uid = sid(&user);
    let tok = api.create(&format!("/users/{uid}/tokens"), json!({})).await;
    (uid, tok["token"].as_str().expect("token").to_string())
}

/// Keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn teams_skills_agents_and_queues_speak_webitels_shapes() {
    let s = Server::start();
    let api = admin(&s);
    let (uid, _) = user_with_role(&s, "alice", "agent", "2101").await;
    let (uid2, _) = user_with_role(&s, "bob", "agent", "2102").await;
    let (_, doc) = api.get("/openapi.json").await;
    for p in [
        "/api/call_center/agents/{id}/status",
        "/api/call_center/agents/{agent_id}/skills/{id}",
        "/api/call_center/queues/{queue_id}/skills",
        "/api/call_center/queues/attempts/history",
        "/api/call_center/teams/{id}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} in the OpenAPI document");
    }

    let team = api
        .create(
            "/call_center/teams",
            json!({"name": "Support", "strategy": "round-robin", "call_timeout": 20,
                   "wrap_up_time": 10, "max_no_answer": 3, "no_answer_delay_time": 5}),
        )
        .await;
    let team_id = sid(&team);
    assert_eq!(team["strategy"], "round-robin");
    assert_eq!(
        (team["call_timeout"].as_i64(), team["wrap_up_time"].as_i64()),
        (Some(20), Some(10))
    );
    assert!(
        team["created_at"]
            .as_str()
            .is_some_and(|t| t.parse::<i64>().is_ok()),
        "{team}"
    );

    let english = api
        .create(
            "/call_center/skills",
            json!({"name": "English", "description": "calls in English"}),
        )
        .await;
    let billing = api
        .create("/call_center/skills", json!({"name": "Billing"}))
        .await;
    let (english_id, billing_id) = (sid(&english), sid(&billing));
    assert_eq!(
        (
            english["total_agents"].as_i64(),
            english["active_agents"].as_i64()
        ),
        (Some(0), Some(0))
    );

    // An agent is a user; numbers may come as strings or numbers.
    let agent = api
        .create(
            "/call_center/agents",
            json!({"user": {"id": uid.parse::<i64>().unwrap()}, "team": {"id": team_id},
                   "description": "day shift", "chat_count": "2", "progressive_count": 1,
                   "allow_channels": ["call", "chat"]}),
        )
        .await;
    let agent_id = sid(&agent);
    assert_eq!(agent["user"], json!({"id": uid, "name": "User alice"}));
    assert_eq!(agent["name"], "User alice");
    assert_eq!(agent["extension"], "2101");
    assert_eq!(agent["status"], "offline");
    assert_eq!(agent["team"], json!({"id": team_id, "name": "Support"}));
    assert_eq!(
        (agent["chat_count"].as_i64(), agent["task_count"].as_i64()),
        (Some(2), Some(1))
    );
    assert!(agent["last_status_change"]
        .as_str()
        .is_some_and(|t| t.parse::<i64>().is_ok()));
    assert!(agent["status_duration"].is_string(), "{agent}");
    assert_eq!(agent["channel"], json!([]));
    assert_eq!(agent["allow_channels"], json!(["call", "chat"]));
    let agent2 = api
        .create("/call_center/agents", json!({"user": {"id": uid2}}))
        .await;
    let agent2_id = sid(&agent2);
    assert!(agent2.get("team").is_none(), "{agent2}");

    // Agent skills.
    let ask = api
        .create(
            &format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": english_id}, "capacity": 80}),
        )
        .await;
    let ask_id = sid(&ask);
    assert_eq!(ask["skill"], json!({"id": english_id, "name": "English"}));
    assert_eq!(ask["agent"], json!({"id": agent_id, "name": "User alice"}));
    assert_eq!(ask["team"]["id"], team_id);
    assert_eq!(
        (ask["capacity"].as_i64(), ask["enabled"].as_bool()),
        (Some(80), Some(true))
    );
    api.create(
        &format!("/call_center/agents/{agent_id}/skills"),
        json!({"skill": {"id": billing_id}, "capacity": 20, "enabled": false}),
    )
    .await;
    let listed = api
        .items(&format!("/call_center/agents/{agent_id}/skills"))
        .await;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0]["skill"]["name"], "Billing",
        "sorted by skill name"
    );
    assert_eq!(
        keys(&listed[0]),
        ["agent", "capacity", "enabled", "id", "skill", "team"]
    );
    let (st, one) = api
        .get(&format!("/call_center/agents/{agent_id}/skills/{ask_id}"))
        .await;
    assert_eq!((st, one["capacity"].as_i64()), (200, Some(80)));
    let (st, p) = api
        .patch(
            &format!("/call_center/agents/{agent_id}/skills/{ask_id}"),
            json!({"capacity": 90}),
        )
        .await;
    assert_eq!(
        (st, p["capacity"].as_i64(), p["enabled"].as_bool()),
        (200, Some(90), Some(true)),
        "{p}"
    );
    let (st, bulk) = api
        .patch(
            &format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill_id": [billing_id], "enabled": true}),
        )
        .await;
    assert_eq!(st, 200, "{bulk}");
    assert_eq!(bulk["items"].as_array().unwrap().len(), 1);
    assert_eq!(bulk["items"][0]["enabled"], true);
    let (_, e) = api.get(&format!("/call_center/skills/{english_id}")).await;
    assert_eq!(
        (e["total_agents"].as_i64(), e["active_agents"].as_i64()),
        (Some(1), Some(0)),
        "offline agents are not active"
    );

    // Agent lists answer the default fields, or the ones asked for.
    let agents = api.items("/call_center/agents").await;
    assert_eq!(agents.len(), 2);
    let a = agents
        .iter()
        .find(|a| a["id"] == agent_id.as_str())
        .unwrap();
    for k in [
        "id",
        "name",
        "status",
        "user",
        "team",
        "extension",
        "description",
        "channel",
    ] {
        assert!(a.get(k).is_some(), "default field {k}: {a}");
    }
    for k in ["skills", "task_count", "screen_control"] {
        assert!(a.get(k).is_none(), "{k} is not a default field: {a}");
    }
    let (st, picked) = api.get("/call_center/agents?fields=name,skills").await;
    assert_eq!(st, 200);
    let a = picked["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(keys(&a), ["id", "name", "skills"]);
    assert_eq!(a["skills"].as_array().unwrap().len(), 2);
    let (_, full) = api.get(&format!("/call_center/agents/{agent_id}")).await;
    assert_eq!(
        full["skills"].as_array().unwrap().len(),
        2,
        "a read has every field: {full}"
    );
    let (_, paged) = api.get("/call_center/agents?size=1").await;
    assert_eq!(
        (
            paged["next"].as_bool(),
            paged["items"].as_array().unwrap().len()
        ),
        (Some(true), 1)
    );
    assert!(
        paged.get("page").is_none(),
        "engine lists have no page: {paged}"
    );

    // Queues.
    let queue = api
        .create(
            "/call_center/queues",
            json!({"name": "Hotline", "type": 1, "strategy": "fifo", "priority": 10,
                   "team": {"id": team_id}, "payload": {"max_wait_time": 60, "sticky_agent_sec": 30},
                   "variables": {"wbt_auto_answer": "true"}, "sticky_agent": true,
                   "task_processing": {"enabled": true, "sec": 45, "renewal_sec": 15},
                   "ringtone": {"id": 3, "name": "music.mp3"}, "tags": [{"name": "vip"}],
                   "description": "first line"}),
        )
        .await;
    let queue_id = sid(&queue);
    assert_eq!(
        (queue["type"].as_i64(), queue["priority"].as_i64()),
        (Some(1), Some(10))
    );
    assert_eq!(queue["enabled"], true);
    assert_eq!(
        queue["payload"],
        json!({"max_wait_time": 60, "sticky_agent_sec": 30})
    );
    assert_eq!(queue["variables"], json!({"wbt_auto_answer": "true"}));
    assert_eq!(
        (
            queue["processing"].as_bool(),
            queue["processing_sec"].as_i64()
        ),
        (Some(true), Some(45))
    );
    assert_eq!(
        queue["task_processing"],
        json!({"enabled": true, "sec": 45, "renewal_sec": 15})
    );
    assert_eq!(queue["ringtone"], json!({"id": "3", "name": "music.mp3"}));
    assert_eq!(queue["tags"], json!([{"name": "vip"}]));
    assert_eq!(queue["team"], json!({"id": team_id, "name": "Support"}));
    let dialer = api
        .create(
            "/call_center/queues",
            json!({"name": "Dialer", "type": 5, "priority": 1}),
        )
        .await;
    assert_eq!(
        (
            dialer["strategy"].as_str(),
            dialer["processing_sec"].as_i64()
        ),
        (Some("fifo"), Some(30))
    );
    let queues = api.items("/call_center/queues").await;
    assert_eq!(queues[0]["name"], "Hotline", "highest priority first");
    assert!(
        queues[0].get("payload").is_none(),
        "payload is not a default field"
    );
    for k in [
        "id", "name", "type", "enabled", "priority", "team", "count", "waiting", "active", "tags",
    ] {
        assert!(
            queues[0].get(k).is_some(),
            "default field {k}: {}",
            queues[0]
        );
    }
    let (_, with_payload) = api.get("/call_center/queues?fields=name,payload").await;
    assert_eq!(keys(&with_payload["items"][0]), ["id", "name", "payload"]);
    assert_eq!(with_payload["items"][0]["payload"]["max_wait_time"], 60);
    for (filter, want) in [
        ("type=1", vec!["Hotline"]),
        ("type=5", vec!["Dialer"]),
        (&*format!("team_id={team_id}"), vec!["Hotline"]),
        ("q=hot", vec!["Hotline"]),
        (&*format!("id={}", sid(&dialer)), vec!["Dialer"]),
        ("tags=vip", vec!["Hotline"]),
        ("sort=%2Bname", vec!["Dialer", "Hotline"]),
    ] {
        let names: Vec<Value> = api
            .items(&format!("/call_center/queues?{filter}"))
            .await
            .iter()
            .map(|q| q["name"].clone())
            .collect();
        assert_eq!(
            names,
            want.iter().map(|n| json!(n)).collect::<Vec<_>>(),
            "{filter}"
        );
    }

    // PATCH merges payload keys; PUT replaces the queue.
    let (st, patched) = api
        .patch(
            &format!("/call_center/queues/{queue_id}"),
            json!({"payload": {"max_wait_time": 90}, "priority": 7}),
        )
        .await;
    assert_eq!(st, 200, "{patched}");
    assert_eq!(
        patched["payload"],
        json!({"max_wait_time": 90, "sticky_agent_sec": 30})
    );
    assert_eq!(
        (patched["priority"].as_i64(), patched["name"].as_str()),
        (Some(7), Some("Hotline"))
    );
    let (st, put) = api
        .put(
            &format!("/call_center/queues/{queue_id}"),
            json!({"name": "Hotline 2", "type": 1, "team": {"id": team_id}}),
        )
        .await;
    assert_eq!(st, 200, "{put}");
    assert_eq!(put["payload"], json!({}));
    assert_eq!(
        (put["priority"].as_i64(), put["processing_sec"].as_i64()),
        (Some(0), Some(30))
    );
    assert!(put.get("ringtone").is_none(), "{put}");

    // Queue skills: their id is a number, as Webitel's uint32.
    let qs = api
        .create(
            &format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": english_id}, "lvl": 1, "min_capacity": 50, "max_capacity": 100}),
        )
        .await;
    let qs_id = qs["id"].as_i64().expect("numeric queue skill id");
    assert_eq!(qs["skill"], json!({"id": english_id, "name": "English"}));
    assert_eq!(
        (
            qs["lvl"].as_i64(),
            qs["min_capacity"].as_i64(),
            qs["enabled"].as_bool()
        ),
        (Some(1), Some(50), Some(true))
    );
    let listed = api
        .items(&format!("/call_center/queues/{queue_id}/skills"))
        .await;
    assert_eq!(
        keys(&listed[0]),
        [
            "buckets",
            "enabled",
            "id",
            "lvl",
            "max_capacity",
            "min_capacity",
            "skill"
        ]
    );
    let (st, p) = api
        .patch(
            &format!("/call_center/queues/{queue_id}/skills/{qs_id}"),
            json!({"max_capacity": 95}),
        )
        .await;
    assert_eq!(
        (st, p["max_capacity"].as_i64(), p["min_capacity"].as_i64()),
        (200, Some(95), Some(50)),
        "{p}"
    );

    // Agent filters, including the agents able to serve a queue.
    let ids = |items: Vec<Value>| -> Vec<String> { items.iter().map(sid).collect() };
    assert_eq!(
        ids(api
            .items(&format!("/call_center/agents?team_id={team_id}"))
            .await),
        [agent_id.as_str()]
    );
    assert_eq!(
        ids(api
            .items(&format!("/call_center/agents?user_id={uid2}"))
            .await),
        [agent2_id.as_str()]
    );
    assert_eq!(
        ids(api
            .items(&format!("/call_center/agents?queue_id={queue_id}"))
            .await),
        [agent_id.as_str()]
    );
    assert_eq!(
        ids(api
            .items(&format!("/call_center/agents?skill_id={billing_id}"))
            .await),
        [agent_id.as_str()]
    );
    assert_eq!(
        ids(api.items("/call_center/agents?q=bob").await),
        [agent2_id.as_str()]
    );
    assert_eq!(
        ids(api.items("/call_center/agents?extension=2101").await),
        [agent_id.as_str()]
    );
    assert_eq!(
        ids(api
            .items(&format!("/call_center/agents?not_team_id={team_id}"))
            .await),
        [agent2_id.as_str()]
    );
    // A capacity below the queue's range does not qualify.
    api.patch(
        &format!("/call_center/agents/{agent_id}/skills/{ask_id}"),
        json!({"capacity": 10}),
    )
    .await;
    assert!(api
        .items(&format!("/call_center/agents?queue_id={queue_id}"))
        .await
        .is_empty());

    // PATCH of an agent keeps what is not given; `team: {}` takes it out of its team.
    let (st, pa) = api
        .patch(
            &format!("/call_center/agents/{agent_id}"),
            json!({"team": {}}),
        )
        .await;
    assert_eq!(st, 200, "{pa}");
    assert!(pa.get("team").is_none(), "{pa}");
    assert_eq!(
        (pa["description"].as_str(), pa["chat_count"].as_i64()),
        (Some("day shift"), Some(2))
    );
    let (st, pu) = api
        .put(
            &format!("/call_center/agents/{agent_id}"),
            json!({"user": {"id": uid}}),
        )
        .await;
    assert_eq!(st, 200, "{pu}");
    assert_eq!(
        (pu["description"].as_str(), pu["chat_count"].as_i64()),
        (Some(""), Some(1))
    );
    assert_eq!(
        pu["skills"].as_array().unwrap().len(),
        2,
        "PUT keeps the agent's skills"
    );

    // Teams and skills lists.
    let teams = api.items("/call_center/teams").await;
    assert!(teams[0].get("created_at").is_none(), "{}", teams[0]);
    assert_eq!(teams[0]["strategy"], "round-robin");
    let skills = api.items("/call_center/skills").await;
    assert_eq!(
        skills.iter().map(|s| s["name"].clone()).collect::<Vec<_>>(),
        [json!("Billing"), json!("English")]
    );
    let (_, team_read) = api.get(&format!("/call_center/teams/{team_id}")).await;
    assert_eq!(team_read["no_answer_delay_time"], 5);
    let (st, tp) = api
        .patch(
            &format!("/call_center/teams/{team_id}"),
            json!({"strategy": "longest-idle-agent"}),
        )
        .await;
    assert_eq!(
        (st, tp["strategy"].as_str(), tp["call_timeout"].as_i64()),
        (200, Some("longest-idle-agent"), Some(20))
    );
}

#[tokio::test]
async fn bad_input_is_refused_in_webitels_shape_and_changes_nothing() {
    let s = Server::start();
    let api = admin(&s);
    let (uid, _) = user_with_role(&s, "carol", "agent", "2201").await;
    let team = api
        .create(
            "/call_center/teams",
            json!({"name": "T", "strategy": "random"}),
        )
        .await;
    let team_id = sid(&team);
    let skill = api
        .create("/call_center/skills", json!({"name": "S"}))
        .await;
    let skill_id = sid(&skill);
    let agent = api
        .create(
            "/call_center/agents",
            json!({"user": {"id": uid}, "team": {"id": team_id}}),
        )
        .await;
    let agent_id = sid(&agent);
    let queue = api
        .create("/call_center/queues", json!({"name": "Q", "type": 1}))
        .await;
    let queue_id = sid(&queue);

    let cases: Vec<(Method, String, Value, u16, &str)> = vec![
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"name": "X", "strategy": "roundrobin"}),
            400,
            "app.team.valid.strategy",
        ),
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"name": "X"}),
            400,
            "app.team.valid.strategy",
        ),
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"strategy": "random"}),
            400,
            "app.team.valid.name",
        ),
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"name": "X", "strategy": "random", "wrap_up_time": -1}),
            400,
            "app.team.valid.wrap_up_time",
        ),
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"name": "T", "strategy": "random"}),
            409,
            "app.name.conflict",
        ),
        (
            Method::POST,
            "/call_center/teams".into(),
            json!({"name": "X", "strategy": "random", "call_timeout": "soon"}),
            400,
            "api.request.bad_json",
        ),
        (
            Method::POST,
            "/call_center/skills".into(),
            json!({"name": " "}),
            400,
            "app.skill.valid.name",
        ),
        (
            Method::POST,
            "/call_center/skills".into(),
            json!({"name": "S"}),
            409,
            "app.name.conflict",
        ),
        (
            Method::POST,
            "/call_center/agents".into(),
            json!({}),
            400,
            "app.agent.valid.user",
        ),
        (
            Method::POST,
            "/call_center/agents".into(),
            json!({"user": {"id": "999999"}}),
            400,
            "app.agent.valid.user",
        ),
        (
            Method::POST,
            "/call_center/agents".into(),
            json!({"user": {"id": "abc"}}),
            400,
            "app.agent.valid.user",
        ),
        (
            Method::POST,
            "/call_center/agents".into(),
            json!({"user": {"id": uid}}),
            409,
            "app.agent.valid.user",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}"),
            json!({"team": {"id": "999999"}}),
            400,
            "app.agent.valid.team",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}"),
            json!({"chat_count": 0}),
            400,
            "model.Agent.valid.ChatCount",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}"),
            json!({"task_count": -2}),
            400,
            "model.Agent.valid.TaskCount",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}"),
            json!({"progressive_count": 0}),
            400,
            "model.Agent.valid.ProgressiveCount",
        ),
        (
            Method::PATCH,
            "/call_center/agents/999999".into(),
            json!({}),
            404,
            "app.agent.not_found",
        ),
        (
            Method::GET,
            "/call_center/agents/abc".into(),
            Value::Null,
            400,
            "app.agent.valid.id",
        ),
        (
            Method::POST,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": skill_id}, "capacity": 101}),
            400,
            "agent_skill.valid.capacity",
        ),
        (
            Method::POST,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": skill_id}, "capacity": -1}),
            400,
            "agent_skill.valid.capacity",
        ),
        (
            Method::POST,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": "999999"}}),
            400,
            "app.agent_skill.valid.skill",
        ),
        (
            Method::POST,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"capacity": 5}),
            400,
            "app.agent_skill.valid.skill",
        ),
        (
            Method::POST,
            "/call_center/agents/999999/skills".into(),
            json!({"skill": {"id": skill_id}}),
            404,
            "app.agent.not_found",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"capacity": 500}),
            400,
            "agent_skill.valid.capacity",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "type": 11}),
            400,
            "app.queue.valid.type",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "type": -1}),
            400,
            "app.queue.valid.type",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "strategy": "random"}),
            400,
            "app.queue.valid.strategy",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "payload": [1, 2]}),
            400,
            "app.queue.valid.payload",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "team": {"id": "999999"}}),
            400,
            "app.queue.valid.team",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "timeout": -5}),
            400,
            "app.queue.valid.timeout",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"name": "X", "variables": {"a": 1}}),
            400,
            "api.request.bad_json",
        ),
        (
            Method::POST,
            "/call_center/queues".into(),
            json!({"type": 1}),
            400,
            "app.queue.valid.name",
        ),
        (
            Method::PATCH,
            format!("/call_center/queues/{queue_id}"),
            json!({"strategy": "lifo!", "name": "Renamed"}),
            400,
            "app.queue.valid.strategy",
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}, "min_capacity": 60, "max_capacity": 40}),
            400,
            "app.queue_skill.valid.max_capacity",
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}, "max_capacity": 101}),
            400,
            "app.queue_skill.valid.max_capacity",
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}, "lvl": 1001}),
            400,
            "app.queue_skill.valid.lvl",
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}, "buckets": [{"id": 1}]}),
            400,
            "app.queue_skill.valid.buckets",
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": "999999"}}),
            400,
            "app.queue_skill.valid.skill",
        ),
        (
            Method::POST,
            "/call_center/queues/999999/skills".into(),
            json!({"skill": {"id": skill_id}}),
            404,
            "app.queue.not_found",
        ),
        // Status changes: bad input is refused before the contact center sees it.
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}/status"),
            json!({"status": "busy"}),
            400,
            "grpc.agent.update_status",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}/status"),
            json!({}),
            400,
            "grpc.agent.update_status",
        ),
        (
            Method::PATCH,
            format!("/call_center/agents/{agent_id}/status"),
            json!({"status": 5}),
            400,
            "api.request.bad_json",
        ),
        (
            Method::PATCH,
            "/call_center/agents/999999/status".into(),
            json!({"status": "online"}),
            404,
            "app.agent.not_found",
        ),
        (
            Method::PATCH,
            "/call_center/agents/x/status".into(),
            json!({"status": "online"}),
            400,
            "app.agent.valid.id",
        ),
        (
            Method::DELETE,
            format!("/call_center/teams/{team_id}"),
            Value::Null,
            409,
            "app.team.in_use",
        ),
    ];
    for (method, path, body, want, id) in cases {
        let body = (!body.is_null()).then_some(body);
        let (st, e) = call(method.clone(), &api.url(&path), &api.token, body.clone()).await;
        assert_eq!(error_id(st, want, &e), id, "{method} {path} {body:?}: {e}");
    }

    // A second skill of the same kind, after a good one.
    api.create(
        &format!("/call_center/agents/{agent_id}/skills"),
        json!({"skill": {"id": skill_id}, "capacity": 5}),
    )
    .await;
    let (st, e) = api
        .post(
            &format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": skill_id}}),
        )
        .await;
    assert_eq!(error_id(st, 409, &e), "app.agent_skill.valid.skill");
    api.create(
        &format!("/call_center/queues/{queue_id}/skills"),
        json!({"skill": {"id": skill_id}}),
    )
    .await;
    let (st, e) = api
        .post(
            &format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}}),
        )
        .await;
    assert_eq!(error_id(st, 409, &e), "app.queue_skill.valid.skill");

    // Nothing changed.
    assert_eq!(api.items("/call_center/teams").await.len(), 1);
    assert_eq!(api.items("/call_center/skills").await.len(), 1);
    assert_eq!(api.items("/call_center/queues").await.len(), 1);
    let agents = api.items("/call_center/agents").await;
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["team"]["id"], team_id.as_str());
    assert_eq!(agents[0]["chat_count"], 1);
    let (_, q) = api.get(&format!("/call_center/queues/{queue_id}")).await;
    assert_eq!(
        (q["name"].as_str(), q["strategy"].as_str()),
        (Some("Q"), Some("fifo"))
    );
    let skills = api
        .items(&format!("/call_center/agents/{agent_id}/skills"))
        .await;
    assert_eq!((skills.len(), skills[0]["capacity"].as_i64()), (1, Some(5)));
}

#[tokio::test]
async fn deletes_cascade_and_a_team_in_use_stays() {
    let s = Server::start();
    let api = admin(&s);
    let (uid, _) = user_with_role(&s, "dave", "agent", "2301").await;
    let team = api
        .create(
            "/call_center/teams",
            json!({"name": "T", "strategy": "top-down"}),
        )
        .await;
    let team_id = sid(&team);
    let s1 = sid(&api
        .create("/call_center/skills", json!({"name": "One"}))
        .await);
    let s2 = sid(&api
        .create("/call_center/skills", json!({"name": "Two"}))
        .await);
    let agent_id = sid(&api
        .create(
            "/call_center/agents",
            json!({"user": {"id": uid}, "team": {"id": team_id}}),
        )
        .await);
    let queue_id = sid(&api
        .create(
            "/call_center/queues",
            json!({"name": "Q", "type": 1, "team": {"id": team_id}}),
        )
        .await);
    for sk in [&s1, &s2] {
        api.create(
            &format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": sk}, "capacity": 50}),
        )
        .await;
        api.create(
            &format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": sk}}),
        )
        .await;
    }

    // A skill goes from every agent and queue.
    let (st, gone) = api.delete(&format!("/call_center/skills/{s1}")).await;
    assert_eq!((st, gone["name"].as_str()), (200, Some("One")), "{gone}");
    let left = api
        .items(&format!("/call_center/agents/{agent_id}/skills"))
        .await;
    assert_eq!(
        left.iter()
            .map(|x| x["skill"]["id"].clone())
            .collect::<Vec<_>>(),
        [json!(s2)]
    );
    let left = api
        .items(&format!("/call_center/queues/{queue_id}/skills"))
        .await;
    assert_eq!(
        left.iter()
            .map(|x| x["skill"]["id"].clone())
            .collect::<Vec<_>>(),
        [json!(s2)]
    );

    // A team in use cannot go; once nobody is in it, it can.
    let (st, e) = api.delete(&format!("/call_center/teams/{team_id}")).await;
    assert_eq!(error_id(st, 409, &e), "app.team.in_use");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("agent {agent_id}")),
        "{e}"
    );
    api.patch(
        &format!("/call_center/agents/{agent_id}"),
        json!({"team": {}}),
    )
    .await;
    let (st, e) = api.delete(&format!("/call_center/teams/{team_id}")).await;
    assert_eq!(error_id(st, 409, &e), "app.team.in_use");
    assert!(e["detail"].as_str().unwrap().contains("queue"), "{e}");
    api.patch(
        &format!("/call_center/queues/{queue_id}"),
        json!({"team": {"id": ""}}),
    )
    .await;
    assert_eq!(
        api.delete(&format!("/call_center/teams/{team_id}")).await.0,
        200
    );
    assert_eq!(
        api.get(&format!("/call_center/teams/{team_id}")).await.0,
        404
    );

    // Single and bulk removal of agent skills.
    let (st, removed) = api
        .delete(&format!(
            "/call_center/agents/{agent_id}/skills?skill_id={s2}"
        ))
        .await;
    assert_eq!(
        (st, removed["items"].as_array().unwrap().len()),
        (200, 1),
        "{removed}"
    );
    assert!(api
        .items(&format!("/call_center/agents/{agent_id}/skills"))
        .await
        .is_empty());
    let (st, e) = api
        .delete(&format!("/call_center/agents/{agent_id}/skills"))
        .await;
    assert_eq!(error_id(st, 400, &e), "app.agent_skill.valid.id");

    // A queue takes its skills with it.
    let qs = api
        .items(&format!("/call_center/queues/{queue_id}/skills"))
        .await;
    let qs_id = qs[0]["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/call_center/queues/{queue_id}"))
            .await
            .0,
        200
    );
    assert_eq!(
        api.get(&format!("/call_center/queues/{queue_id}/skills/{qs_id}"))
            .await
            .0,
        404
    );
    assert_eq!(
        api.get(&format!("/call_center/queues/{queue_id}")).await.0,
        404
    );

    // Deleting the user deletes its agent; a new agent for another user is fine.
    let sk = api
        .create(
            &format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": s2}}),
        )
        .await;
    let (st, _) = api.delete(&format!("/users/{uid}")).await;
    assert_eq!(st, 200);
    let (st, e) = api.get(&format!("/call_center/agents/{agent_id}")).await;
    assert_eq!(error_id(st, 404, &e), "app.agent.not_found");
    assert_eq!(
        api.get(&format!(
            "/call_center/agents/{agent_id}/skills/{}",
            sid(&sk)
        ))
        .await
        .0,
        404
    );
    assert!(api.items("/call_center/agents").await.is_empty());
    let (uid2, _) = user_with_role(&s, "erin", "agent", "2302").await;
    let a2 = sid(&api
        .create("/call_center/agents", json!({"user": {"id": uid2}}))
        .await);
    let (st, deleted) = api.delete(&format!("/call_center/agents/{a2}")).await;
    assert_eq!(
        (st, deleted["user"]["id"].as_str()),
        (200, Some(uid2.as_str()))
    );
    let (st, _) = api.get(&format!("/users/{uid2}")).await;
    assert_eq!(st, 200, "the user outlives its agent");
    let (_, skill) = api.get(&format!("/call_center/skills/{s2}")).await;
    assert_eq!(skill["total_agents"], 0);
}

#[tokio::test]
async fn roles_decide_access_and_other_domains_see_nothing() {
    let s = Server::start();
    let api = admin(&s);
    let (_, plain) = user_with_role(&s, "plain", "user", "2401").await;
    let (agent_uid, agent_tok) = user_with_role(&s, "agnes", "agent", "2402").await;
    let team_id = sid(&api
        .create(
            "/call_center/teams",
            json!({"name": "T", "strategy": "random"}),
        )
        .await);
    let skill_id = sid(&api
        .create("/call_center/skills", json!({"name": "S"}))
        .await);
    let agent_id = sid(&api
        .create("/call_center/agents", json!({"user": {"id": agent_uid}}))
        .await);
    let queue_id = sid(&api
        .create("/call_center/queues", json!({"name": "Q"}))
        .await);
    let paths = [
        "/call_center/agents".to_string(),
        "/call_center/teams".to_string(),
        "/call_center/skills".to_string(),
        "/call_center/queues".to_string(),
        format!("/call_center/agents/{agent_id}/skills"),
        format!("/call_center/queues/{queue_id}/skills"),
        "/call_center/queues/attempts/history".to_string(),
    ];

    // A plain user has neither cc_agent nor cc_queue.
    let user = Api {
        s: &s,
        token: plain,
    };
    for p in &paths {
        let (st, e) = user.get(p).await;
        assert_eq!(
            error_id(st, 403, &e),
            "api.context.permissions.app_error",
            "{p}"
        );
    }
    let (st, _) = user
        .post(
            "/call_center/teams",
            json!({"name": "X", "strategy": "random"}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = user
        .patch(
            &format!("/call_center/agents/{agent_id}/status"),
            json!({"status": "online"}),
        )
        .await;
    assert_eq!(st, 403);

    // The agent role reads and writes agents (no create or delete) and reads queues.
    let agent = Api {
        s: &s,
        token: agent_tok,
    };
    for p in &paths {
        assert_eq!(agent.get(p).await.0, 200, "{p}");
    }
    let (st, a) = agent
        .patch(
            &format!("/call_center/agents/{agent_id}"),
            json!({"description": "me"}),
        )
        .await;
    assert_eq!((st, a["description"].as_str()), (200, Some("me")), "{a}");
    let denied = [
        (
            Method::POST,
            "/call_center/teams".to_string(),
            json!({"name": "X", "strategy": "random"}),
        ),
        (
            Method::DELETE,
            format!("/call_center/teams/{team_id}"),
            Value::Null,
        ),
        (
            Method::DELETE,
            format!("/call_center/agents/{agent_id}"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/call_center/agents/{agent_id}/skills"),
            json!({"skill": {"id": skill_id}}),
        ),
        (
            Method::POST,
            "/call_center/queues".to_string(),
            json!({"name": "X"}),
        ),
        (
            Method::PATCH,
            format!("/call_center/queues/{queue_id}"),
            json!({"name": "X"}),
        ),
        (
            Method::DELETE,
            format!("/call_center/queues/{queue_id}"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/call_center/queues/{queue_id}/skills"),
            json!({"skill": {"id": skill_id}}),
        ),
    ];
    for (method, path, body) in denied {
        let body = (!body.is_null()).then_some(body);
        let (st, e) = call(method.clone(), &agent.url(&path), &agent.token, body).await;
        assert_eq!(
            error_id(st, 403, &e),
            "api.context.permissions.app_error",
            "{method} {path}"
        );
    }
    // Its own status needs only read access; bad input is still a 400.
    let (st, e) = agent
        .patch(
            &format!("/call_center/agents/{agent_id}/status"),
            json!({"status": "lunch"}),
        )
        .await;
    assert_eq!(error_id(st, 400, &e), "grpc.agent.update_status");

    // Another domain's administrator sees nothing of this one and cannot touch it.
    let out = s
        .command()
        .args(["domain", "add", "second.lo"])
        .stdin(Stdio::null())
        .output()
        .expect("domain add");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let other = Api {
        s: &s,
        token: common::stdout(&out).trim().to_string(),
    };
    for p in &paths[..4] {
        assert!(other.items(p).await.is_empty(), "{p}");
    }
    for p in [
        format!("/call_center/agents/{agent_id}"),
        format!("/call_center/teams/{team_id}"),
        format!("/call_center/skills/{skill_id}"),
        format!("/call_center/queues/{queue_id}"),
        format!("/call_center/agents/{agent_id}/skills"),
        format!("/call_center/queues/{queue_id}/skills"),
    ] {
        assert_eq!(other.get(&p).await.0, 404, "GET {p}");
        assert_eq!(other.delete(&p).await.0 / 100, 4, "DELETE {p}");
    }
    // Nor can it point its objects at this domain's.
    let (st, e) = other
        .post("/call_center/agents", json!({"user": {"id": agent_uid}}))
        .await;
    assert_eq!(error_id(st, 400, &e), "app.agent.valid.user");
    let (st, e) = other
        .post(
            "/call_center/queues",
            json!({"name": "Q", "team": {"id": team_id}}),
        )
        .await;
    assert_eq!(error_id(st, 400, &e), "app.queue.valid.team");
    let (st, _) = other
        .patch(
            &format!("/call_center/agents/{agent_id}/status"),
            json!({"status": "online"}),
        )
        .await;
    assert_eq!(st, 404);
    // Everything here is intact.
    assert_eq!(api.items("/call_center/agents").await.len(), 1);
    assert_eq!(api.items("/call_center/queues").await.len(), 1);
}
