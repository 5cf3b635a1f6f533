//! Recordings over REST: history points to them, byte ranges, domain isolation, audited delete.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt;
use serde_json::json;
use switchboard_store::{FileRow, HistoryRecord};
use tower::ServiceExt;

async fn get_raw(
    app: &TestApp,
    uri: &str,
    range: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn recordings_stream_with_ranges_stay_in_their_domain_and_delete_audited() {
    let app = TestApp::new().await;
    let (_, _, token) = app.provision("4001").await;
    let store = &app.state.store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call-1.ogg");
    let content: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    store
        .upsert_history(&HistoryRecord {
            id: "call-1".into(),
            domain_id: 1,
            direction: "outbound".into(),
            created_at: 1_790_000_000_000,
            stored_at: 1_790_000_000_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let f = store
        .create_file(&FileRow {
            domain_id: 1,
            call_id: "call-1".into(),
            name: "call-1.ogg".into(),
            mime_type: "audio/ogg".into(),
            start_at: 1_790_000_000_000,
            path: path.to_string_lossy().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .finish_file(f.id, content.len() as i64, 1_790_000_010_000)
        .await
        .unwrap();

    // History shows the file.
    let (s, v) = app.get("/api/calls/history?id=call-1", &app.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"][0]["files"][0]["id"], f.id.to_string());
    assert_eq!(v["items"][0]["files"][0]["size"], "1000");

    let url = format!("/api/storage/file/{}/stream?access_token={token}", f.id);
    let (s, h, body) = get_raw(&app, &url, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(body, content);
    let (s, h, body) = get_raw(&app, &url, Some("bytes=100-199")).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(h["content-range"], "bytes 100-199/1000");
    assert_eq!(body, &content[100..200]);
    let (s, h, body) = get_raw(&app, &url, Some("bytes=-10")).await;
    assert_eq!(
        (s, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &content[990..])
    );
    assert_eq!(h["content-range"], "bytes 990-999/1000");
    let (s, _, _) = get_raw(&app, &url, Some("bytes=2000-")).await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    let dl = format!("/api/storage/file/{}/download?access_token={token}", f.id);
    let (s, h, _) = get_raw(&app, &dl, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));

    // Another domain's token: not found.
    let other = switchboard_api::bootstrap::seed_domain(store, "other.lo", 5, None)
        .await
        .unwrap()
        .unwrap();
    let foreign = format!(
        "/api/storage/file/{}/stream?access_token={}",
        f.id, other.admin_token
    );
    let (s, _, _) = get_raw(&app, &foreign, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.get("/api/calls/call-1/files", &other.admin_token).await;
    assert_eq!(
        (s, v["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, v) = app
        .call(
            axum::http::Method::DELETE,
            "/api/calls/call-1/files",
            Some(&other.admin_token),
            None,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    assert!(path.exists(), "another domain cannot delete it");

    let (s, v) = app.get("/api/calls/call-1/files", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"][0]["id"], f.id.to_string());

    // Delete (the admin): gone from lists and storage, row kept with who and when.
    let (s, _) = app
        .call(
            axum::http::Method::DELETE,
            "/api/calls/call-1/files",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!path.exists());
    let (_, v) = app.get("/api/calls/call-1/files", &app.admin).await;
    assert_eq!(v["items"], json!([]));
    let (s, _, _) = get_raw(&app, &url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(store.get_file(1, f.id).await.is_err());
}
