//! WebSocket benchmark: idle authenticated sockets (count and memory per socket) and the
//! latency of a `user_state` event fanned out to subscribed sockets.
//!
//! Run through `bench/ws/run.sh`, which raises the descriptor limit and builds this example.
//! Usage: ws_bench <switchboard binary> [idle sockets] [subscribers] [rounds]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Api {
    base: String,
    admin: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method, format!("{}/api{path}", self.base))
            .header("X-Webitel-Access", &self.admin)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// A licensed user with a token (the guide's flow, without a device: not needed here).
    async fn user(&self, n: usize, role: &str, license: &str) -> (i64, String) {
        let u = self
            .call(
                reqwest::Method::POST,
                "/users",
                json!({"name": format!("Bench {n}"), "username": format!("bench{n}"),
                       "password": "bench-password-1", "extension": format!("{}", 20000 + n),
                       "roles": [{"id": role}], "license": [{"id": license}]}),
            )
            .await;
        let id: i64 = u["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("user id");
        let t = self
            .call(
                reqwest::Method::POST,
                &format!("/users/{id}/tokens"),
                json!({"usage": "bench"}),
            )
            .await;
        (id, t["token"].as_str().expect("token").to_string())
    }
}

/// Opens a socket and authenticates it; returns it after the OK reply.
async fn open(url: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let auth = json!({"seq": 1, "action": "authentication_challenge", "data": {"token": token}});
    ws.send(Message::Text(auth.to_string()))
        .await
        .expect("send");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"seq_reply\":1") => {
                assert!(t.contains("\"OK\""), "auth failed: {t}");
                return ws;
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended during auth: {other:?}"),
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.9),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .expect("usage: ws_bench <switchboard binary> [idle] [subscribers] [rounds]");
    let idle: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let subscribers: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let rounds: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20);
    let users = 100usize;

    let data = tempfile::tempdir().expect("tempdir");
    let admin = format!("bench-admin-{}", std::process::id());
    let mut child = tokio::process::Command::new(bin)
        .arg("serve")
        .env("SWITCHBOARD_DATA", data.path())
        .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
        .env("SWITCHBOARD_SIP_LISTEN", "off")
        .env("SWITCHBOARD_BOOTSTRAP_TOKEN", &admin)
        .env("SWITCHBOARD_LICENSE_SEATS", "100000")
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn switchboard");
    let pid = child.id().expect("pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines
            .next_line()
            .await
            .expect("stdout")
            .expect("server exited");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim().to_string();
        }
    };
    let url = format!("{}/ws/websocket", base.replacen("http", "ws", 1));
    let api = Api {
        base,
        admin,
        http: reqwest::Client::new(),
    };
    let roles = api
        .call(reqwest::Method::GET, "/roles?size=100", Value::Null)
        .await;
    let role = roles["items"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "user"))
        .and_then(|r| r["id"].as_str())
        .expect("user role")
        .to_string();
    let lic = api
        .call(reqwest::Method::GET, "/license", Value::Null)
        .await;
    let license = lic["items"][0]["id"].as_str().expect("licence").to_string();
    let mut tokens = Vec::new();
    for n in 0..users {
        tokens.push(api.user(n, &role, &license).await);
    }
    let mut triggers = Vec::new();
    for n in 0..rounds {
        triggers.push(api.user(users + n, &role, &license).await);
    }
    println!("server pid {pid}; {users} users provisioned");

    // Phase 1: idle authenticated sockets.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = rss_kib(pid);
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel::<Instant>();
    let received = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(idle);
    for i in 0..idle {
        let token = tokens[i % users].1.clone();
        let url = url.clone();
        let gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            open(&url, &token).await
        }));
    }
    let mut sockets = Vec::with_capacity(idle);
    for h in handles {
        sockets.push(h.await.expect("open task"));
    }
    let open_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = rss_kib(pid);
    println!(
        "idle: {idle} authenticated sockets opened in {open_secs:.1} s; server RSS {} MiB -> {} MiB; {:.1} KiB per socket",
        rss0 / 1024,
        rss1 / 1024,
        (rss1.saturating_sub(rss0)) as f64 / idle as f64
    );

    // Phase 2: the first `subscribers` sockets subscribe to user_state; every socket keeps a
    // reader (which also answers the server's pings).
    let mut subs = 0;
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let subscribe = i < subscribers;
        if subscribe {
            let req = json!({"seq": 2, "action": "subscribe_users_status"});
            ws.send(Message::Text(req.to_string()))
                .await
                .expect("subscribe");
            subs += 1;
        }
        let tx = lat_tx.clone();
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    if t.contains("\"event\":\"user_state\"") {
                        let _ = tx.send(Instant::now());
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("fan-out: {subs} subscribers, {rounds} rounds");

    let mut online = Vec::new();
    let mut offline = Vec::new();
    for (_, token) in &triggers {
        // Online: from the trigger's auth request (includes the token lookup) to each receipt.
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        let auth =
            json!({"seq": 1, "action": "authentication_challenge", "data": {"token": token}});
        let t0 = Instant::now();
        ws.send(Message::Text(auth.to_string()))
            .await
            .expect("send");
        collect(&mut lat_rx, subs, t0, &mut online).await;
        // Offline: from the trigger's close to each receipt: the fan-out alone.
        let t0 = Instant::now();
        ws.close(None).await.expect("close");
        collect(&mut lat_rx, subs, t0, &mut offline).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report("user_state online  (auth + fan-out)", online);
    report("user_state offline (fan-out)       ", offline);
    println!("server RSS at end {} MiB", rss_kib(pid) / 1024);
    let _ = child.kill().await;
}

async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Instant>,
    n: usize,
    t0: Instant,
    out: &mut Vec<f64>,
) {
    for _ in 0..n {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(at)) => out.push(at.duration_since(t0).as_secs_f64() * 1000.0),
            _ => {
                eprintln!("missing events: got {} of {n}", out.len() % n.max(1));
                return;
            }
        }
    }
}
