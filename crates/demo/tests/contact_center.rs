//! The demo backend's contact-center side against a fake platform that records what it is
//! asked: the agent step of user provisioning (and its undoing), the call-center pages'
//! passage to `/api/call_center/…`, a queue's number (schema + route) and the board relayed
//! from the platform's WebSocket as Server-Sent Events.

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_demo::{Demo, DemoConfig, Settings};
use tower::ServiceExt;

/// One request the fake platform received: method, path with query, JSON body.
type Seen = (String, String, Value);

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `POST /call_center/agents` answers 400.
    refuse_agent: Arc<Mutex<bool>>,
    /// `POST /routing/outbound/calls` answers 400.
    refuse_route: Arc<Mutex<bool>>,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn calls(&self, method: &str, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|(m, p, _)| m == method && p.starts_with(prefix))
            .collect()
    }
    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn error(code: u16, id: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    let body = json!({ "id": id, "code": code, "detail": "refused by the fake", "status": "" });
    (status, Json(body)).into_response()
}

async fn rest(State(f): State<Fake>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().trim_start_matches("/api").to_string();
    let full = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    f.seen
        .lock()
        .unwrap()
        .push((method.to_string(), full, v.clone()));
    let reply = match (method.as_str(), path.as_str()) {
        ("GET", "/users") => json!({ "items": [] }),
        ("GET", "/roles") => {
            json!({ "items": [{ "id": "2", "name": "user" }, { "id": "3", "name": "agent" }] })
        }
        ("POST", "/devices") => json!({ "id": "d1", "name": v["name"] }),
        ("POST", "/users") => json!({ "id": "u1", "device": { "id": "d1" } }),
        ("POST", "/users/u1/tokens") => json!({ "id": "t1", "token": "user-token" }),
        ("GET", "/users/u1/tokens") => json!({ "items": [{ "id": "t1" }] }),
        ("POST", "/call_center/agents") if *f.refuse_agent.lock().unwrap() => {
            return error(400, "app.agent.valid.user")
        }
        ("POST", "/call_center/agents") => {
            json!({ "id": "5", "user": v["user"], "team": v["team"] })
        }
        ("GET", "/call_center/teams") => {
            json!({ "items": [{ "id": "9", "name": "Support team" }] })
        }
        ("GET", "/call_center/queues/7") => json!({ "id": "7", "name": "Support" }),
        ("POST", "/routing/schema") => json!({ "id": "3", "name": v["name"] }),
        ("POST", "/routing/outbound/calls") if *f.refuse_route.lock().unwrap() => {
            return error(400, "app.routing.valid.pattern")
        }
        ("POST", "/routing/outbound/calls") => json!({ "id": "4", "name": v["name"] }),
        ("DELETE", _) => json!({}),
        _ => return error(404, "fake.not_found"),
    };
    Json(reply).into_response()
}

/// The platform's WebSocket as far as the board needs it: sign-in, one `cc_queue_board`
/// reply, then one pushed `cc_queue_board` event.
async fn ws(State(f): State<Fake>, up: WebSocketUpgrade) -> Response {
    up.on_upgrade(move |mut sock: WebSocket| async move {
        let board = |wait: u64| {
            json!({ "domain_id": 1, "queues": [{ "queue_id": 7, "name": "Support",
                "waiting": [{ "attempt_id": 11, "number": "1002", "name": "Bob", "wait_sec": wait }],
                "agents": { "online": 1, "items": [] } }] })
        };
        while let Some(Ok(Message::Text(t))) = sock.recv().await {
            let req: Value = serde_json::from_str(t.as_str()).unwrap();
            let action = req["action"].as_str().unwrap_or_default().to_string();
            f.seen
                .lock()
                .unwrap()
                .push(("WS".into(), action.clone(), req["data"].clone()));
            let data = if action == "cc_queue_board" {
                board(3)
            } else {
                json!({})
            };
            let reply = json!({ "status": "OK", "seq_reply": req["seq"], "data": data });
            sock.send(Message::text(reply.to_string())).await.unwrap();
            if action == "cc_queue_board" {
                let ev = json!({ "event": "cc_queue_board", "seq": 9, "data": board(4) });
                sock.send(Message::text(ev.to_string())).await.unwrap();
            }
        }
    })
}

async fn platform() -> (Fake, String) {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/ws/websocket", axum::routing::get(ws))
        .fallback(rest)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, base)
}

struct App {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

impl App {
    async fn new(platform: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let (demo, _) = Demo::open(DemoConfig {
            data: dir.path().to_path_buf(),
            defaults: Some(Settings {
                rest_endpoint: format!("http://{platform}/api/"),
                ws_endpoint: format!("ws://{platform}/ws/"),
                integration_token: "integration-token".into(),
                domain: "my-company.lo".into(),
                use_stun: false,
            }),
            admin_password: Some("admin-password".into()),
            sip_server: None,
        })
        .await
        .unwrap();
        App {
            app: demo.router(),
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.app.clone().oneshot(req).await.unwrap()
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let resp = self.send(method, uri, cookie, body).await;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn login(&self, uri: &str, body: Value) -> String {
        let resp = self.send("POST", uri, None, Some(body)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let c = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        c.split(';').next().unwrap().to_string()
    }

    async fn admin(&self) -> String {
        self.login(
            "/demo/api/admin/login",
            json!({ "password": "admin-password" }),
        )
        .await
    }
}

fn agent_user() -> Value {
    json!({ "name": "Alice", "extension": "1001", "login": "alice", "password": "alice-pass",
            "license": "L1", "create_agent": true, "agent_team": "9" })
}

#[tokio::test]
async fn a_user_gets_an_agent_and_loses_it_with_the_user() {
    let (fake, platform) = platform().await;
    let app = App::new(&platform).await;
    let admin = app.admin().await;

    let (s, u) = app
        .call("POST", "/demo/api/users", Some(&admin), Some(agent_user()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["agent_id"], "5");
    // The guide's optional step, after the token, with the chosen team.
    let agents = fake.calls("POST", "/call_center/agents");
    assert_eq!(agents.len(), 1);
    assert_eq!(
        agents[0].2,
        json!({ "user": { "id": "u1" }, "team": { "id": "9" } })
    );
    let order: Vec<String> = fake
        .seen()
        .iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    let token = order
        .iter()
        .position(|c| c == "POST /users/u1/tokens")
        .unwrap();
    let agent = order
        .iter()
        .position(|c| c == "POST /call_center/agents")
        .unwrap();
    assert!(token < agent, "{order:?}");

    // An agent gets the platform's agent role.
    let (_, _, user) = fake.calls("POST", "/users").remove(0);
    assert_eq!(user["roles"], json!([{ "id": "3" }]));

    let (_, list) = app.call("GET", "/demo/api/users", Some(&admin), None).await;
    assert_eq!(list["items"][0]["agent_id"], "5");

    // The user's browser learns it is an agent, with the SDK's numeric agent id.
    let user = app
        .login(
            "/demo/api/login",
            json!({ "username": "alice", "password": "alice-pass" }),
        )
        .await;
    let (_, session) = app
        .call("GET", "/demo/api/session", Some(&user), None)
        .await;
    assert_eq!(session["agent"], true);
    let (_, me) = app.call("GET", "/demo/api/me", Some(&user), None).await;
    assert_eq!(me["agent_id"], 5);

    // Deleting the user deletes the agent first, then tokens, user and device.
    fake.clear();
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/demo/api/users/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let deletes: Vec<String> = fake
        .calls("DELETE", "/")
        .into_iter()
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(
        deletes,
        [
            "/call_center/agents/5",
            "/users/u1/tokens/t1",
            "/users/u1",
            "/devices/d1"
        ]
    );
}

#[tokio::test]
async fn a_refused_agent_leaves_nothing_behind() {
    let (fake, platform) = platform().await;
    *fake.refuse_agent.lock().unwrap() = true;
    let app = App::new(&platform).await;
    let admin = app.admin().await;
    let (s, v) = app
        .call("POST", "/demo/api/users", Some(&admin), Some(agent_user()))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("creating the contact-center agent: app.agent.valid.user"),
        "{v}"
    );
    let deletes: Vec<String> = fake
        .calls("DELETE", "/")
        .into_iter()
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(deletes, ["/users/u1/tokens/t1", "/users/u1", "/devices/d1"]);
    let (_, list) = app.call("GET", "/demo/api/users", Some(&admin), None).await;
    assert_eq!(list, json!({ "items": [] }));
    // Without the agent step the same user is created.
    *fake.refuse_agent.lock().unwrap() = false;
    let mut plain = agent_user();
    plain["create_agent"] = false.into();
    let (s, u) = app
        .call("POST", "/demo/api/users", Some(&admin), Some(plain))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["agent_id"], Value::Null);
}

#[tokio::test]
async fn call_center_pages_reach_only_call_center_resources() {
    let (fake, platform) = platform().await;
    let app = App::new(&platform).await;
    let admin = app.admin().await;

    let (s, _) = app.call("GET", "/demo/api/cc/teams", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .call(
            "GET",
            "/demo/api/cc/teams?size=100&q=S*",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"][0]["name"], "Support team");
    let (_, path, _) = fake.calls("GET", "/call_center/teams").pop().unwrap();
    assert_eq!(path, "/call_center/teams?size=100&q=S*");

    for (m, uri) in [
        ("GET", "/demo/api/cc/users"),
        ("GET", "/demo/api/cc/queues/../../users"),
    ] {
        let (s, _) = app.call(m, uri, Some(&admin), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
    }
    // Agents come and go with their SPA users only.
    let (s, _) = app
        .call("POST", "/demo/api/cc/agents", Some(&admin), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, _) = app
        .call("DELETE", "/demo/api/cc/agents/5", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(fake.calls("POST", "/call_center/agents").is_empty());
    // A platform error keeps its status and says what failed.
    let (s, v) = app
        .call("GET", "/demo/api/cc/skills/1", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("GET /call_center/skills/1: fake.not_found"));
}

#[tokio::test]
async fn a_queue_number_is_a_schema_and_a_route() {
    let (fake, platform) = platform().await;
    let app = App::new(&platform).await;
    let admin = app.admin().await;

    for bad in [
        json!({ "queue_id": "7", "number": "7x0" }),
        json!({ "queue_id": "", "number": "700" }),
    ] {
        let (s, _) = app
            .call("POST", "/demo/api/queue-numbers", Some(&admin), Some(bad))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let body = json!({ "queue_id": "7", "number": "700" });
    let (s, n) = app
        .call(
            "POST",
            "/demo/api/queue-numbers",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    assert_eq!(
        n,
        json!({ "queue_id": "7", "number": "700", "schema_id": "3", "route_id": "4" })
    );
    let (_, _, schema) = fake.calls("POST", "/routing/schema").pop().unwrap();
    assert_eq!(schema["type"], "voice");
    assert_eq!(
        schema["schema"],
        json!([{ "joinQueue": { "queue": { "id": 7, "name": "Support" } } },
               { "hangup": "NO_ANSWER" }])
    );
    let (_, _, route) = fake.calls("POST", "/routing/outbound/calls").pop().unwrap();
    assert_eq!(route["pattern"], "^700$");
    assert_eq!(route["schema"]["id"], "3");
    let (s, _) = app
        .call("POST", "/demo/api/queue-numbers", Some(&admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one number per queue");
    let (_, list) = app
        .call("GET", "/demo/api/queue-numbers", Some(&admin), None)
        .await;
    assert_eq!(list["items"][0]["number"], "700");

    // Deleting the queue removes its number: the route, then the schema.
    fake.clear();
    let (s, _) = app
        .call("DELETE", "/demo/api/cc/queues/7", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let deletes: Vec<String> = fake
        .calls("DELETE", "/")
        .into_iter()
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(
        deletes,
        [
            "/call_center/queues/7",
            "/routing/outbound/calls/4",
            "/routing/schema/3"
        ]
    );
    let (_, list) = app
        .call("GET", "/demo/api/queue-numbers", Some(&admin), None)
        .await;
    assert_eq!(list, json!({ "items": [] }));

    // A refused route takes its schema with it.
    *fake.refuse_route.lock().unwrap() = true;
    fake.clear();
    let (s, v) = app
        .call(
            "POST",
            "/demo/api/queue-numbers",
            Some(&admin),
            Some(json!({ "queue_id": "7", "number": "701" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(fake.calls("DELETE", "/routing/schema/3").len(), 1);
}

/// The next SSE event of the body: (event name, data).
async fn next_event(body: &mut Body) -> (String, Value) {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .unwrap();
        if let Some(d) = frame.data_ref() {
            text.push_str(std::str::from_utf8(d).unwrap());
        }
        if let Some(end) = text.find("\n\n") {
            let block = &text[..end];
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            if event.is_empty() {
                // A keep-alive comment.
                text.drain(..end + 2);
                continue;
            }
            return (event, serde_json::from_str(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn the_board_is_relayed_from_the_platform_socket() {
    let (fake, platform) = platform().await;
    let app = App::new(&platform).await;
    let (s, _) = app.call("GET", "/demo/api/board", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let admin = app.admin().await;
    let resp = app.send("GET", "/demo/api/board", Some(&admin), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = resp.into_body();
    // The reply to cc_queue_board, then the pushed event.
    let (event, board) = next_event(&mut body).await;
    assert_eq!(event, "board");
    assert_eq!(board["queues"][0]["waiting"][0]["wait_sec"], 3);
    let (event, board) = next_event(&mut body).await;
    assert_eq!(event, "board");
    assert_eq!(board["queues"][0]["waiting"][0]["wait_sec"], 4);
    // Signed in with the integration token; the board request subscribes.
    let ws: Vec<(String, Value)> = fake
        .calls("WS", "")
        .into_iter()
        .map(|(_, a, d)| (a, d))
        .collect();
    assert_eq!(
        ws,
        [
            (
                "authentication_challenge".into(),
                json!({ "token": "integration-token" })
            ),
            ("cc_queue_board".into(), json!({})),
        ]
    );
}
