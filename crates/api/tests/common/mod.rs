//! In-process harness: the real router over a real store (SQLite in a temp folder, or a fresh
//! PostgreSQL database when SWITCHBOARD_TEST_PG is set, e.g. postgres://postgres@127.0.0.1/test).

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use switchboard_api::{bootstrap, ApiConfig, AppState};
use switchboard_store::Store;
use tower::ServiceExt;

pub const DOMAIN: &str = "my-company.lo";

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub admin: String,
    pub license_id: String,
    _dir: tempfile::TempDir,
}

/// A store on the backend the test run selects.
pub async fn test_store(dir: &std::path::Path) -> Store {
    match std::env::var("SWITCHBOARD_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            let name = format!("sb_test_{}", uuid_like());
            switchboard_store::create_postgres_database(&url, &name)
                .await
                .expect("create test database");
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            Store::connect(&format!("{base}/{name}"))
                .await
                .expect("connect test database")
        }
        _ => Store::open_sqlite(dir).await.expect("sqlite"),
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(100, ApiConfig::default()).await
    }

    pub async fn with(seats: i64, config: ApiConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(test_store(dir.path()).await);
        let seeded = bootstrap::seed_domain(&store, DOMAIN, seats, Some("admin-token".into()))
            .await
            .expect("seed")
            .expect("new domain");
        let state = AppState::new(store, config);
        Self {
            router: switchboard_api::router(state.clone()),
            state,
            admin: seeded.admin_token,
            license_id: seeded.license_id,
            _dir: dir,
        }
    }

    /// Sends one request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("X-Webitel-Access", t);
        }
        let body = match body {
            Some(v) => {
                req = req.header("Content-Type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(req.body(body).expect("request")).await
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// The guide's three requests for one user; returns (user id, device id, user token).
    pub async fn provision(&self, ext: &str) -> (String, String, String) {
        let (s, dev) = self
            .post(
                "/api/devices",
                &self.admin,
                serde_json::json!({"name": format!("device for {ext}"), "account": format!("sip{ext}"), "password": "BNZdVLryFwcB"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{dev}");
        let dev_id = dev["id"].as_str().expect("device id").to_string();
        let (s, user) = self
            .post(
                "/api/users",
                &self.admin,
                serde_json::json!({
                    "name": format!("User {ext}"), "email": format!("u{ext}@example.com"),
                    "username": ext, "password": "dl75lfLcOLLL", "extension": ext,
                    "roles": [{"id": 2}], "device": {"id": dev_id}, "devices": [{"id": dev_id}],
                    "license": [{"id": self.license_id}]
                }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{user}");
        let user_id = user["id"].as_str().expect("user id").to_string();
        let (s, tok) = self
            .call(
                Method::POST,
                &format!("/api/users/{user_id}/tokens"),
                Some(&self.admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{tok}");
        (
            user_id,
            dev_id,
            tok["token"].as_str().expect("token").to_string(),
        )
    }
}

/// Asserts Webitel's error shape and returns its id.
pub fn error_id(status: StatusCode, body: &Value) -> String {
    assert_eq!(
        body["code"].as_u64(),
        Some(status.as_u16() as u64),
        "{body}"
    );
    assert!(body["status"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    body["id"].as_str().expect("error id").to_string()
}
