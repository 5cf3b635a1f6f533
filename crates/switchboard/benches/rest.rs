//! REST benchmark (not a timed test). Starts the real `switchboard serve` (the bench build,
//! i.e. release) on a temporary data folder and measures, from this separate process:
//!
//! 1. provisioning flows per second: the integration guide's three requests (device → user →
//!    user token) with the guide's bodies, a unique account/extension per flow, several flows
//!    in flight;
//! 2. authenticated `GET /api/users/{id}` requests per second next to the unauthenticated
//!    `GET /healthz` of the same binary, over keep-alive connections at a fixed concurrency for a
//!    fixed time, and their ratio (target ≥ 0.5); `GET /api/devices/{id}` (one store query) and
//!    `GET /api/userinfo` (authenticated, no store access) are measured too, to tell the cost of
//!    authentication from that of the store.
//!
//! Run with `bench/rest/run.sh` or `cargo bench -p switchboard --bench rest`. Knobs (environment):
//! `BENCH_FLOWS` (default 200), `BENCH_FLOW_WORKERS` (8), `BENCH_CONCURRENCY` (32),
//! `BENCH_SECS` (5).

#[path = "../tests/common/mod.rs"]
mod common;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> Value {
        let res = self
            .http
            .post(format!("{}/api{path}", self.base))
            .header("X-Webitel-Access", &self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let v: Value = res.json().await.expect("JSON reply");
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}/api{path}", self.base))
            .header("X-Webitel-Access", &self.token)
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.expect("JSON reply")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One guide flow; returns the new user's id.
async fn flow(api: &Api, n: u64, role_id: &str, license_id: &str) -> String {
    let device = api
        .post(
            "/devices",
            &json!({"name": format!("device for user {n}"), "account": format!("sipUser{n}"),
                    "password": "BNZdVLryFwcB"}),
        )
        .await;
    let device = device.get("device").unwrap_or(&device);
    let device_id = device["id"].as_str().expect("device id").to_string();
    let user = api
        .post(
            "/users",
            &json!({
                "name": format!("User{n}"), "email": format!("user{n}@gmail.com"),
                "username": format!("{}", 100000 + n), "password": "dl75lfLcOLLL",
                "extension": format!("{}", 100000 + n),
                "roles": [{"id": role_id}], "device": {"id": device_id},
                "license": [{"id": license_id}], "devices": [{"id": device_id}]
            }),
        )
        .await;
    let user_id = user["id"].as_str().expect("user id").to_string();
    let token = api
        .post(
            &format!("/users/{user_id}/tokens"),
            &json!({"usage": "bench"}),
        )
        .await;
    assert!(token["token"].as_str().is_some_and(|t| !t.is_empty()));
    user_id
}

/// Requests per second of `GET url` at `concurrency` for `secs`, after a short warm-up.
async fn hammer(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    concurrency: u64,
    secs: u64,
) -> (f64, u64) {
    let run = |dur: Duration| {
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (http, url, token) = (http.clone(), url.to_string(), token.map(str::to_string));
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut req = http.get(&url);
                    if let Some(t) = &token {
                        req = req.header("X-Webitel-Access", t);
                    }
                    // Read the body so the connection goes back to the pool.
                    let good = match req.send().await {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        async move {
            let start = Instant::now();
            tokio::time::sleep(dur).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                let _ = t.await;
            }
            let elapsed = start.elapsed().as_secs_f64();
            (
                ok.load(Ordering::Relaxed) as f64 / elapsed,
                failed.load(Ordering::Relaxed),
            )
        }
    };
    run(Duration::from_secs(1)).await;
    run(Duration::from_secs(secs)).await
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes its settings from the environment.
    let flows = knob("BENCH_FLOWS", 200).max(1);
    let workers = knob("BENCH_FLOW_WORKERS", 8).max(1);
    let concurrency = knob("BENCH_CONCURRENCY", 32).max(1);
    let secs = knob("BENCH_SECS", 5).max(1);

    let srv = common::Server::start_with(&[("SWITCHBOARD_LICENSE_SEATS", "10000000")]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "switchboard REST bench: server {} ({}), load from this process, {cores} cores shared",
        srv.base,
        common::bin()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency as usize * 2)
            .tcp_nodelay(true)
            .build()
            .expect("http client");
        let api = Arc::new(Api {
            http: http.clone(),
            base: srv.base.clone(),
            token: srv.token.clone(),
        });
        let roles = api.get("/roles").await;
        let role_id = roles["items"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == "user"))
            .and_then(|r| r["id"].as_str())
            .expect("role user")
            .to_string();
        let licenses = api.get("/license").await;
        let license_id = licenses["items"][0]["id"]
            .as_str()
            .expect("a licence")
            .to_string();

        // 1. Provisioning flows.
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let (api, next) = (api.clone(), next.clone());
            let (role_id, license_id) = (role_id.clone(), license_id.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut last = String::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= flows {
                        break;
                    }
                    let t = Instant::now();
                    last = flow(&api, n + 1, &role_id, &license_id).await;
                    lat.push(t.elapsed());
                }
                (lat, last)
            }));
        }
        let mut lat = Vec::new();
        let mut user_id = String::new();
        for t in tasks {
            let (l, u) = t.await.expect("flow worker");
            lat.extend(l);
            if !u.is_empty() {
                user_id = u;
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        lat.sort();
        println!(
            "provisioning: {flows} flows (device → user → token), {workers} in flight: \
             {:.1} flows/s; flow latency p50 {:.1} ms, p99 {:.1} ms",
            flows as f64 / elapsed,
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
        );

        // 2. Authenticated read next to the trivial route.
        let health = format!("{}/healthz", srv.base);
        let user = format!("{}/api/users/{user_id}", srv.base);
        let (h_rps, h_fail) = hammer(&http, &health, None, concurrency, secs).await;
        let (u_rps, u_fail) = hammer(&http, &user, Some(&srv.token), concurrency, secs).await;
        // Diagnostics: a one-query store read, and authentication alone (no store access).
        let read = api.get(&format!("/users/{user_id}")).await;
        let device_id = read["user"]["device"]["id"].as_str().expect("device id");
        let dev = format!("{}/api/devices/{device_id}", srv.base);
        let (d_rps, d_fail) = hammer(&http, &dev, Some(&srv.token), concurrency, secs).await;
        let info = format!("{}/api/userinfo", srv.base);
        let (i_rps, i_fail) = hammer(&http, &info, Some(&srv.token), concurrency, secs).await;
        println!(
            "GET /healthz (no auth):          {h_rps:>9.0} req/s ({concurrency} concurrent, {secs} s, {h_fail} failed)"
        );
        println!(
            "GET /api/users/{{id}} (X-Webitel-Access): {u_rps:>9.0} req/s ({concurrency} concurrent, {secs} s, {u_fail} failed)"
        );
        println!(
            "GET /api/devices/{{id}} (X-Webitel-Access, 1 query): {d_rps:>9.0} req/s ({concurrency} concurrent, {secs} s, {d_fail} failed)"
        );
        println!(
            "GET /api/userinfo (X-Webitel-Access, no store): {i_rps:>9.0} req/s ({concurrency} concurrent, {secs} s, {i_fail} failed)"
        );
        let ratio = u_rps / h_rps.max(1.0);
        println!(
            "ratio users/healthz: {ratio:.2} (target >= 0.5: {})",
            if ratio >= 0.5 { "met" } else { "NOT met" }
        );
    });
}
