//! REST call control (`/api/calls/active…`, `POST /api/calls`) against a fake `CallControl`:
//! routing to the one call-control interface, validation, permissions.

mod common;

use axum::http::{Method, StatusCode};
use common::{error_id, TestApp};
use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use switchboard_api::error::{ApiError, ApiResult};
use switchboard_api::ws::calls::{CallContext, CallControl, CallReply, CallRequest};

/// Records what it is asked (as `user_id action detail`) and knows one live leg, `leg-1`.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<String>>,
}

impl CallControl for Fake {
    fn execute(&self, ctx: CallContext, req: CallRequest) -> BoxFuture<'_, ApiResult<CallReply>> {
        let u = ctx.session.user_id;
        let (line, leg) = match &req {
            CallRequest::Hold(r) => (format!("{u} hold {}", r.id), Some(r.id.clone())),
            CallRequest::Unhold(r) => (format!("{u} unhold {}", r.id), Some(r.id.clone())),
            CallRequest::Dtmf(r) => (
                format!("{u} dtmf {} {}", r.call.id, r.dtmf),
                Some(r.call.id.clone()),
            ),
            CallRequest::BlindTransfer(r) => (
                format!("{u} transfer {} {}", r.call.id, r.destination),
                Some(r.call.id.clone()),
            ),
            CallRequest::Hangup(r) => (
                format!(
                    "{u} hangup {} {}",
                    r.call.id,
                    r.cause.clone().unwrap_or_default()
                ),
                Some(r.call.id.clone()),
            ),
            CallRequest::Invite(r) => (
                format!(
                    "{u} invite {} {} auto={}",
                    ctx.session.extension,
                    r.destination,
                    !r.params.disable_auto_answer.unwrap_or(false)
                ),
                None,
            ),
            other => (format!("{u} {other:?}"), None),
        };
        self.seen.lock().unwrap().push(line);
        Box::pin(async move {
            if leg.is_some_and(|l| l != "leg-1") {
                return Err(ApiError::new(404, "app.call.not_found", "no such call"));
            }
            let mut m = Map::new();
            m.insert("id".into(), json!("new-leg"));
            Ok(m)
        })
    }

    fn active_calls(&self, ctx: CallContext) -> BoxFuture<'_, ApiResult<Vec<Value>>> {
        let u = ctx.session.user_id;
        Box::pin(async move {
            Ok(vec![
                json!({"id": "leg-1", "state": "active", "user": {"id": u.to_string()}}),
            ])
        })
    }
}

async fn app_with_fake() -> (TestApp, Arc<Fake>) {
    let mut app = TestApp::new().await;
    let fake = Arc::new(Fake::default());
    app.router = switchboard_api::router(app.state.clone().with_call_control(fake.clone()));
    (app, fake)
}

#[tokio::test]
async fn active_call_actions_route_to_call_control() {
    let (app, fake) = app_with_fake().await;
    let (uid, _, token) = app.provision("3001").await;
    let t = Some(token.as_str());

    let (s, v) = app.get("/api/calls/active", &token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"][0]["id"], "leg-1");
    assert_eq!(v["next"], false);
    let (s, v) = app.get("/api/calls/active/leg-1", &token).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("active")));
    let (s, v) = app.get("/api/calls/active/other", &token).await;
    assert_eq!(error_id(s, &v), "app.call.not_found");

    let patch = |path: &'static str, body: Option<Value>| app.call(Method::PATCH, path, t, body);
    let (s, v) = patch("/api/calls/active/leg-1/hold", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"state": "hold"})));
    let (s, v) = patch(
        "/api/calls/active/leg-1/unhold",
        Some(json!({"app_id": "n"})),
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"state": "active"})));
    let (s, _) = patch("/api/calls/active/leg-1/dtmf", Some(json!({"digit": "#"}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = patch("/api/calls/active/leg-1/dtmf", Some(json!({"digit": 7}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = patch("/api/calls/active/leg-1/dtmf", Some(json!({"digit": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = patch("/api/calls/active/leg-1/dtmf", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = patch(
        "/api/calls/active/leg-1/transfer",
        Some(json!({"destination": "3002"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = patch(
        "/api/calls/active/leg-1/transfer",
        Some(json!({"destination": ""})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = patch("/api/calls/active/gone/hold", None).await;
    assert_eq!(error_id(s, &v), "app.call.not_found");
    let (s, v) = app
        .call(
            Method::DELETE,
            "/api/calls/active/leg-1",
            t,
            Some(json!({"cause": "USER_BUSY"})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (s, _) = app
        .call(Method::DELETE, "/api/calls/active/leg-1", t, None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, _) = app
        .call(Method::PATCH, "/api/calls/active/leg-1/hold", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            format!("{uid} hold leg-1"),
            format!("{uid} unhold leg-1"),
            format!("{uid} dtmf leg-1 #"),
            format!("{uid} dtmf leg-1 7"),
            format!("{uid} transfer leg-1 3002"),
            format!("{uid} hold gone"),
            format!("{uid} hangup leg-1 USER_BUSY"),
            format!("{uid} hangup leg-1 "),
        ]
    );
}

#[tokio::test]
async fn create_call_rings_the_chosen_user_first() {
    let (app, fake) = app_with_fake().await;
    let (uid, _, token) = app.provision("3011").await;
    let (other, _, _) = app.provision("3012").await;

    // No `from`: the caller's own phone, auto-answered; the destination is stripped to digits.
    let (s, v) = app
        .post(
            "/api/calls",
            &token,
            json!({"destination": "+38 (044) 1234", "params": {"timeout": 30}}),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"id": "new-leg"})));
    // Another user by extension: needs the `write` permission, which the admin has.
    let (s, v) = app
        .post("/api/calls", &app.admin, json!({"from": {"extension": "3012"}, "destination": "3011", "params": {"disable_auto_answer": true}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/api/calls",
            &token,
            json!({"from": {"id": other}, "destination": "3011"}),
        )
        .await;
    assert_eq!(error_id(s, &v), "api.context.permissions.app_error");
    // Oneself by id is fine.
    let (s, _) = app
        .post(
            "/api/calls",
            &token,
            json!({"from": {"id": uid}, "destination": "3012"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .post(
            "/api/calls",
            &token,
            json!({"from": {"type": "user"}, "destination": "3012"}),
        )
        .await;
    assert_eq!(error_id(s, &v), "app.call.create.valid.from");
    let (s, v) = app
        .post("/api/calls", &token, json!({"destination": "abc"}))
        .await;
    assert_eq!(error_id(s, &v), "app.call.create.valid.destination");
    let (s, v) = app
        .post(
            "/api/calls",
            &token,
            json!({"from": {"extension": "9999"}, "destination": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            format!("{uid} invite 3011 +380441234 auto=true"),
            format!("{other} invite 3012 3011 auto=false"),
            format!("{uid} invite 3011 3012 auto=true"),
        ]
    );
}

#[tokio::test]
async fn call_control_checks_rights_before_reading_the_body() {
    let (app, fake) = app_with_fake().await;
    let (uid, _, token) = app.provision("3021").await;
    // A role that may see calls but not control them.
    let (s, r) = app
        .post(
            "/api/roles",
            &app.admin,
            json!({"role": {"name": "listener", "scope": [{"class": "calls", "access": "r"}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let role = r["created"]["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{uid}"),
            Some(&app.admin),
            Some(json!({"roles": [{"id": role}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (method, path) in [
        (Method::DELETE, "/api/calls/active/leg-1"),
        (Method::PATCH, "/api/calls/active/leg-1/dtmf"),
        (Method::PATCH, "/api/calls/active/leg-1/transfer"),
    ] {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("X-Webitel-Access", &token)
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        let (s, v) = app.raw(req).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(error_id(s, &v), "api.context.permissions.app_error");
    }
    assert!(
        fake.seen.lock().unwrap().is_empty(),
        "nothing reached call control"
    );
}
