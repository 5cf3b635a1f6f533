//! The demo backend's own rules, without a platform: sign-in, cookies, who may read what.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use switchboard_demo::{Demo, DemoConfig, Settings};
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
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
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let set_cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, set_cookie, v)
}

#[tokio::test]
async fn admin_sign_in_sessions_and_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        data: dir.path().to_path_buf(),
        defaults: Some(Settings {
            rest_endpoint: "http://127.0.0.1:9/api/".into(),
            ws_endpoint: "ws://127.0.0.1:9/ws/".into(),
            integration_token: "integration-secret-token".into(),
            domain: "my-company.lo".into(),
            use_stun: false,
        }),
        admin_password: None,
        sip_server: None,
    };
    let (demo, generated) = Demo::open(config.clone()).await.unwrap();
    let password = generated.expect("a password is generated on first start");
    let saved = std::fs::read_to_string(dir.path().join("demo-admin.password")).unwrap();
    assert_eq!(saved.trim(), password);
    // Not again on the next start.
    assert!(Demo::open(config).await.unwrap().1.is_none());
    let app = demo.router();

    let (s, _, v) = call(&app, "GET", "/demo/api/session", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({ "role": null, "configured": true }));
    for uri in ["/demo/api/settings", "/demo/api/users", "/demo/api/me"] {
        assert_eq!(
            call(&app, "GET", uri, None, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let wrong = json!({ "password": "nope" });
    let (s, c, _) = call(&app, "POST", "/demo/api/admin/login", None, Some(wrong)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(c.is_none());

    let right = json!({ "password": password });
    let (s, c, _) = call(&app, "POST", "/demo/api/admin/login", None, Some(right)).await;
    assert_eq!(s, StatusCode::OK);
    let c = c.unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
    let cookie = c.split(';').next().unwrap().to_string();

    let (s, _, v) = call(&app, "GET", "/demo/api/settings", Some(&cookie), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["rest_endpoint"], "http://127.0.0.1:9/api/");
    assert_eq!(v["token_hint"], "…oken");
    assert!(!v.to_string().contains("integration-secret-token"));
    // An administrator is not an SPA user.
    let (s, _, _) = call(&app, "GET", "/demo/api/me", Some(&cookie), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, _, v) = call(&app, "GET", "/demo/api/users", Some(&cookie), None).await;
    assert_eq!(v, json!({ "items": [] }));
    // Bad input is refused before the platform is asked anything.
    let bad = json!({ "name": "A", "extension": "12x", "login": "a", "password": "secret1" });
    let (s, _, v) = call(&app, "POST", "/demo/api/users", Some(&cookie), Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // So is a desk phone's SIP password that is too short.
    let bad = json!({ "name": "A", "extension": "12", "login": "a", "password": "secret1",
                      "phone": "sip", "sip_password": "short12" });
    let (s, _, v) = call(&app, "POST", "/demo/api/users", Some(&cookie), Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("SIP password"), "{v}");
    let bad = json!({ "name": "A", "extension": "12", "login": "a", "password": "secret1",
                      "phone": "fax" });
    let (s, _, _) = call(&app, "POST", "/demo/api/users", Some(&cookie), Some(bad)).await;
    assert!(s.is_client_error(), "an unknown kind of phone is refused");

    let (s, c, _) = call(&app, "POST", "/demo/api/logout", Some(&cookie), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(c.unwrap().contains("Max-Age=0"));
    let (s, _, _) = call(&app, "GET", "/demo/api/settings", Some(&cookie), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The SPA itself is served at `/`.
    let (s, _, _) = call(&app, "GET", "/", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_configured_password_replaces_the_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = DemoConfig {
        data: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.admin_password = Some("first-password".into());
    let (_, generated) = Demo::open(config.clone()).await.unwrap();
    assert!(generated.is_none());
    config.admin_password = Some("second-password".into());
    let (demo, _) = Demo::open(config).await.unwrap();
    let app = demo.router();
    let old = json!({ "password": "first-password" });
    assert_eq!(
        call(&app, "POST", "/demo/api/admin/login", None, Some(old))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let new = json!({ "password": "second-password" });
    assert_eq!(
        call(&app, "POST", "/demo/api/admin/login", None, Some(new))
            .await
            .0,
        StatusCode::OK
    );
    // Without settings the demo says so.
    let (_, _, v) = call(&app, "GET", "/demo/api/session", None, None).await;
    assert_eq!(v["configured"], false);
}
