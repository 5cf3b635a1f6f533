//! Call history: records written by the call engine, searched the way Webitel's API does.

mod common;

use axum::http::StatusCode;
use common::{error_id, TestApp};
use serde_json::json;
use switchboard_store::HistoryRecord;

fn leg(
    id: &str,
    user: Option<i64>,
    dir: &str,
    from: &str,
    to: &str,
    created: i64,
) -> HistoryRecord {
    HistoryRecord {
        id: id.into(),
        domain_id: 1,
        user_id: user,
        direction: dir.into(),
        destination: to.into(),
        from_type: "user".into(),
        from_number: from.into(),
        to_number: to.into(),
        created_at: created,
        stored_at: created,
        ..Default::default()
    }
}

#[tokio::test]
async fn history_is_searchable_by_time_user_number_and_direction() {
    let app = TestApp::new().await;
    let (uid, _, token) = app.provision("2020").await;
    let uid: i64 = uid.parse().unwrap();
    let store = &app.state.store;
    let t0 = 1_790_000_000_000;
    let mut a = leg("a-leg", Some(uid), "outbound", "2020", "2021", t0);
    store.upsert_history(&a).await.unwrap();
    // The same leg written again as the call progresses: one row, latest state.
    a.answered_at = t0 + 2_000;
    a.hangup_at = t0 + 12_000;
    a.duration = 12;
    a.bill_sec = 10;
    a.cause = "NORMAL_CLEARING".into();
    store.upsert_history(&a).await.unwrap();
    let mut b = leg("b-leg", Some(1), "inbound", "2020", "2021", t0 + 100);
    b.parent_id = "a-leg".into();
    store.upsert_history(&b).await.unwrap();
    store
        .upsert_history(&leg(
            "old",
            Some(uid),
            "outbound",
            "2020",
            "555",
            t0 - 86_400_000,
        ))
        .await
        .unwrap();

    let q = format!(
        "/api/calls/history?created_at.from={}&created_at.to={}",
        t0 - 1000,
        t0 + 60_000
    );
    let (s, all) = app.get(&q, &app.admin).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let ids: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![json!("b-leg"), json!("a-leg")],
        "newest first, old call outside the range"
    );
    assert_eq!(all["next"], false);
    let a_json = &all["items"][1];
    assert_eq!(a_json["answered_at"], (t0 + 2000).to_string());
    assert_eq!(a_json["hangup_at"], (t0 + 12000).to_string());
    assert_eq!(a_json["duration"], 12);
    assert_eq!(a_json["bill_sec"], 10);
    assert_eq!(a_json["cause"], "NORMAL_CLEARING");
    assert_eq!(a_json["user"]["id"], uid.to_string());
    assert_eq!(a_json["from"]["number"], "2020");
    assert_eq!(all["items"][0]["parent_id"], "a-leg");

    let (_, by_dir) = app
        .post(
            "/api/calls/history",
            &app.admin,
            json!({"created_at": {"from": t0 - 1000}, "direction": "inbound"}),
        )
        .await;
    assert_eq!(by_dir["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_dir["items"][0]["id"], "b-leg");
    let (_, by_num) = app.get("/api/calls/history?number=555", &app.admin).await;
    assert_eq!(by_num["items"][0]["id"], "old");
    let (_, paged) = app
        .post(
            "/api/calls/history",
            &app.admin,
            json!({"q": "2020", "size": 2, "page": 1, "sort": "+created_at"}),
        )
        .await;
    assert_eq!(paged["next"], true);
    assert_eq!(paged["items"][0]["id"], "old");

    // A plain user sees only its own legs.
    let (s, own) = app.get(&q, &token).await;
    assert_eq!(s, StatusCode::OK, "{own}");
    let ids: Vec<_> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("a-leg")]);

    // Like Webitel, a search must be narrowed.
    let (s, e) = app.get("/api/calls/history", &app.admin).await;
    assert_eq!(error_id(s, &e), "grpc.call.search_history");
}

#[tokio::test]
async fn calls_live_at_startup_are_closed_with_a_system_cause() {
    let app = TestApp::new().await;
    let store = &app.state.store;
    let t0 = 1_790_000_000_000;
    let mut live = leg("live", Some(1), "outbound", "1", "2", t0);
    live.answered_at = t0 + 1_000;
    live.stored_at = t0 + 31_000;
    store.upsert_history(&live).await.unwrap();
    let mut done = leg("done", Some(1), "outbound", "1", "2", t0);
    done.hangup_at = t0 + 5_000;
    done.cause = "NORMAL_CLEARING".into();
    store.upsert_history(&done).await.unwrap();
    assert_eq!(store.close_live_calls("SYSTEM_SHUTDOWN").await.unwrap(), 1);
    let rec = store.get_history(1, "live").await.unwrap();
    assert_eq!(rec.hangup_at, t0 + 31_000);
    assert_eq!(rec.cause, "SYSTEM_SHUTDOWN");
    assert_eq!(rec.duration, 31);
    assert_eq!(rec.bill_sec, 30);
    assert_eq!(
        store.get_history(1, "done").await.unwrap().cause,
        "NORMAL_CLEARING"
    );
}
