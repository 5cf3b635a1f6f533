//! WebSocket API over a real listener with shortened timings: the parts the webitel-sdk tests
//! (tests/sdk) cannot reach quickly: timeouts, dropped peers, domain isolation, the call seam.

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_api::ws::calls::{CallContext, CallControl, CallReply, CallRequest};
use switchboard_api::ws::WsConfig;
use switchboard_api::{bootstrap, ApiConfig, ApiResult, AppState};
use switchboard_store::Store;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Server {
    url: String,
    tokens: Vec<String>,
    second_user: i64,
    _dir: tempfile::TempDir,
}

/// Two domains, each with its licensed administrator (tokens 0 and 1), plus a second
/// licensed user in domain one (token 2).
async fn serve(cfg: WsConfig, calls: Option<Arc<dyn CallControl>>) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open_sqlite(dir.path()).await.expect("sqlite"));
    let mut tokens = Vec::new();
    let mut first = None;
    for (name, tok) in [("one.lo", "token-one"), ("two.lo", "token-two")] {
        let seeded = bootstrap::seed_domain(&store, name, 10, Some(tok.into()))
            .await
            .expect("seed")
            .expect("new");
        first.get_or_insert(seeded);
        tokens.push(tok.to_string());
    }
    let one = first.expect("domain one");
    let roles = store.user_roles(one.admin_user_id).await.expect("roles");
    let user = store
        .create_user(
            one.domain_id,
            &switchboard_store::UserInput {
                username: "second".into(),
                name: "Second".into(),
                profile: "{}".into(),
                role_ids: roles.iter().map(|r| r.id).collect(),
                license_ids: vec![one.license_id.clone()],
                ..Default::default()
            },
            None,
        )
        .await
        .expect("user");
    store
        .create_token(
            one.domain_id,
            user.id,
            "second-key",
            &switchboard_api::auth::token_hash("token-one-b"),
            "token",
            "test",
            0,
            None,
        )
        .await
        .expect("token");
    tokens.push("token-one-b".into());
    let mut state = AppState::new(store, ApiConfig::default()).with_ws_config(cfg);
    if let Some(c) = calls {
        state = state.with_call_control(c);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, switchboard_api::router(state))
            .await
            .expect("serve")
    });
    Server {
        url: format!("ws://{addr}/ws/websocket"),
        tokens,
        second_user: user.id,
        _dir: dir,
    }
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connect")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string())).await.expect("send");
}

/// The next JSON frame, or None when the socket ends first (or nothing comes in `ms`).
async fn next_json(ws: &mut Ws, ms: u64) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn authed(url: &str, token: &str) -> Ws {
    let mut ws = connect(url).await;
    send(
        &mut ws,
        json!({"seq": 1, "action": "authentication_challenge", "data": {"token": token}}),
    )
    .await;
    let hello = next_json(&mut ws, 2000).await.expect("hello");
    assert_eq!(hello["event"], "hello");
    let ok = next_json(&mut ws, 2000).await.expect("reply");
    assert_eq!(ok["status"], "OK", "{ok}");
    ws
}

/// True when the server ends the connection within `ms`.
async fn ends_within(ws: &mut Ws, ms: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn an_unauthenticated_socket_is_closed_after_the_auth_timeout() {
    let srv = serve(
        WsConfig {
            auth_timeout: Duration::from_millis(300),
            ..WsConfig::default()
        },
        None,
    )
    .await;
    let mut ws = connect(&srv.url).await;
    assert!(ends_within(&mut ws, 2000).await);
    // An authenticated one outlives it.
    let mut ok = authed(&srv.url, &srv.tokens[0]).await;
    assert!(!ends_within(&mut ok, 600).await);
}

#[tokio::test]
async fn a_peer_that_answers_no_ping_is_dropped() {
    let srv = serve(
        WsConfig {
            ping_period: Duration::from_millis(100),
            pong_wait: Duration::from_millis(400),
            ..WsConfig::default()
        },
        None,
    )
    .await;
    // This client keeps reading, so its WebSocket layer answers each Ping.
    let mut alive = authed(&srv.url, &srv.tokens[0]).await;
    // This one reads nothing, so it never sends a Pong.
    let mut silent = authed(&srv.url, &srv.tokens[0]).await;
    assert!(!ends_within(&mut alive, 1200).await, "a ponging peer stays");
    assert!(
        ends_within(&mut silent, 100).await,
        "a silent peer is dropped"
    );
    send(&mut alive, json!({"seq": 2, "action": "ping"})).await;
    assert_eq!(
        next_json(&mut alive, 1000).await.expect("pong")["data"]["pong"],
        1
    );
}

#[tokio::test]
async fn user_state_events_stay_inside_their_domain() {
    let srv = serve(WsConfig::default(), None).await;
    let mut watchers = Vec::new();
    for token in &srv.tokens[..2] {
        let mut w = authed(&srv.url, token).await;
        send(
            &mut w,
            json!({"seq": 2, "action": "subscribe_users_status"}),
        )
        .await;
        assert_eq!(
            next_json(&mut w, 1000).await.expect("reply")["seq_reply"],
            2
        );
        watchers.push(w);
    }
    let (one, two) = watchers.split_at_mut(1);
    let (one, two) = (&mut one[0], &mut two[0]);
    let mut second = authed(&srv.url, &srv.tokens[2]).await;
    let ev = next_json(one, 1000).await.expect("online event");
    assert_eq!(ev["event"], "user_state");
    assert_eq!(ev["user_id"], srv.second_user);
    assert_eq!(ev["data"]["state"]["id"], srv.second_user.to_string());
    assert_eq!(ev["data"]["state"]["status"], "online");
    second.close(None).await.expect("close");
    let ev = next_json(one, 1000).await.expect("offline event");
    assert_eq!(ev["data"]["state"]["status"], "offline");
    assert!(
        next_json(two, 300).await.is_none(),
        "leaked to another domain"
    );
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl CallControl for Recorder {
    fn execute(&self, ctx: CallContext, req: CallRequest) -> BoxFuture<'_, ApiResult<CallReply>> {
        Box::pin(async move {
            let mut out = CallReply::new();
            if let CallRequest::Invite(r) = req {
                self.0.lock().expect("lock").push(format!(
                    "{}>{}@{}",
                    ctx.session.user_id, r.destination, ctx.sock_id
                ));
                out.insert("id".into(), "call-1".into());
            }
            Ok(out)
        })
    }

    fn active_calls(&self, _: CallContext) -> BoxFuture<'_, ApiResult<Vec<Value>>> {
        Box::pin(async { Ok(vec![json!({"id": "call-1", "state": "active"})]) })
    }
}

#[tokio::test]
async fn call_actions_reach_the_call_engine_typed() {
    let rec = Arc::new(Recorder::default());
    let srv = serve(WsConfig::default(), Some(rec.clone())).await;
    let mut ws = connect(&srv.url).await;
    send(
        &mut ws,
        json!({"seq": 1, "action": "authentication_challenge", "data": {"token": srv.tokens[0]}}),
    )
    .await;
    let hello = next_json(&mut ws, 2000).await.expect("hello");
    let sock_id = hello["data"]["sock_id"]
        .as_str()
        .expect("sock_id")
        .to_string();
    let _ = next_json(&mut ws, 2000).await;
    send(&mut ws, json!({"seq": 2, "action": "subscribe_call"})).await;
    let r = next_json(&mut ws, 2000).await.expect("reply");
    assert_eq!(r["data"]["items"][0]["id"], "call-1");
    send(
        &mut ws,
        json!({"seq": 3, "action": "call_invite", "data": {"destination": "1002"}}),
    )
    .await;
    let r = next_json(&mut ws, 2000).await.expect("reply");
    assert_eq!(r["data"]["id"], "call-1", "{r}");
    assert_eq!(
        rec.0.lock().expect("lock").as_slice(),
        [format!("1>1002@{sock_id}")]
    );
    // An action with no reply data answers without `data`.
    send(
        &mut ws,
        json!({"seq": 4, "action": "call_hold", "data": {"id": "call-1", "app_id": "n"}}),
    )
    .await;
    let r = next_json(&mut ws, 2000).await.expect("reply");
    assert_eq!(r, json!({"status": "OK", "seq_reply": 4}));
}
