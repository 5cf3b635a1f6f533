//! The integration guide's provisioning flow and the directory REST API, as an SPA sees them.

mod common;

use axum::http::{Method, StatusCode};
use common::{error_id, TestApp};
use serde_json::{json, Value};

fn is_ms_string(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|ms| ms > 1_600_000_000_000)
}

#[tokio::test]
async fn guide_flow_verbatim_device_user_token() {
    let app = TestApp::new().await;
    let (s, dev) = app
        .post(
            "/api/devices",
            &app.admin,
            json!({ "name": "device for user 1", "account": "sipUser1", "password": "BNZdVLryFwcB" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{dev}");
    assert!(dev["id"].is_string(), "id is an int64 string: {dev}");
    assert_eq!(dev["name"], "device for user 1");
    assert_eq!(dev["account"], "sipUser1");
    assert_eq!(dev["user"], json!({}));
    for f in ["created_at", "updated_at", "logged_in"] {
        assert!(is_ms_string(&dev[f]), "{f} is epoch ms as a string: {dev}");
    }
    assert_eq!(dev["created_by"]["name"], "Administrator");
    assert!(dev["created_by"]["id"].is_string());
    assert_eq!(dev["updated_by"]["name"], "Administrator");

    let dev_id = dev["id"].as_str().unwrap();
    let (s, user) = app
        .post(
            "/api/users",
            &app.admin,
            json!({ "name": "User1", "email": "user1@gmail.com", "username": "2020",
                "password": "dl75lfLcOLLL", "extension": "2020", "roles": [ { "id": 2 } ],
                "device": { "id": dev_id }, "license": [ { "id": app.license_id } ],
                "devices": [ { "id": dev_id } ] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{user}");
    let user_id = user["id"].as_str().expect("user id string").to_string();
    assert_eq!(user["device"]["id"], dev_id);
    assert_eq!(user["devices"][0]["id"], dev_id);
    assert_eq!(user["roles"][0]["name"], "user");
    assert_eq!(user["license"][0]["id"], app.license_id.as_str());
    assert!(user.get("password").is_none(), "password never returned");

    let (s, tok) = app
        .call(
            Method::POST,
            &format!("/api/users/{user_id}/tokens"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    let token = tok["token"].as_str().expect("bearer");
    assert_eq!(tok["user"]["id"], user_id.as_str());

    // The device now names its owner, and the user's own token works.
    let (_, dev) = app.get(&format!("/api/devices/{dev_id}"), &app.admin).await;
    assert_eq!(dev["device"]["user"]["id"], user_id.as_str());
    let (s, info) = app.get("/api/userinfo", token).await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["user_id"], user_id.as_str());
    assert_eq!(info["domain"], "my-company.lo");
    assert_eq!(info["username"], "2020");
    assert_eq!(info["roles"][0]["name"], "user");
    assert!(info["scope"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["class"] == "calls"));
    assert_eq!(info["license"][0]["prod"], "CALL_CENTER");
    assert!(info["permissions"].is_array());
    assert!(info["dc"].is_string());
    // A token from /tokens does not expire.
    assert!(info.get("expires_at").is_none());
    // Listing tokens never reveals the bearer.
    let (_, list) = app
        .get(&format!("/api/users/{user_id}/tokens"), &app.admin)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("token").is_none());
}

#[tokio::test]
async fn search_paging_sort_fields_and_q() {
    let app = TestApp::new().await;
    for i in 0..5 {
        let (s, _) = app
            .post(
                "/api/devices",
                &app.admin,
                json!({"name": format!("desk {i}"), "account": format!("acc{i}"), "password": "pw"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, page1) = app
        .get("/api/devices?page=1&size=2&sort=-name", &app.admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page1["page"], 1);
    assert_eq!(page1["size"], 2);
    assert_eq!(page1["next"], true);
    let names: Vec<_> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("desk 4"), json!("desk 3")]);
    let (_, page3) = app
        .get("/api/devices?page=3&size=2&sort=-name", &app.admin)
        .await;
    assert_eq!(page3["next"], false);
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    let (_, q) = app.get("/api/devices?q=ACC3", &app.admin).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q["items"][0]["account"], "acc3");
    let (_, f) = app.get("/api/devices?fields=name&size=1", &app.admin).await;
    let item = f["items"][0].as_object().unwrap();
    let mut keys: Vec<_> = item.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "name"]);
    let (_, star) = app.get("/api/devices?q=desk*", &app.admin).await;
    assert_eq!(star["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn put_patch_and_delete_devices_and_users() {
    let app = TestApp::new().await;
    let (uid, did, _) = app.provision("3001").await;
    // PATCH keeps what it does not name.
    let (s, d) = app
        .call(
            Method::PATCH,
            &format!("/api/devices/{did}"),
            Some(&app.admin),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["device"]["name"], "renamed");
    assert_eq!(d["device"]["account"], "sip3001");
    // Changing the account without the password cannot keep a valid HA1.
    let (s, e) = app
        .call(
            Method::PATCH,
            &format!("/api/devices/{did}"),
            Some(&app.admin),
            Some(json!({"account": "other"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(s, &e), "app.device.valid.password");
    // PUT replaces.
    let (s, d) = app
        .call(
            Method::PUT,
            &format!("/api/devices/{did}"),
            Some(&app.admin),
            Some(json!({"account": "sip3001b", "password": "new"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(
        d["device"]["name"], "sip3001b",
        "name falls back to the account"
    );

    let (s, u) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{uid}"),
            Some(&app.admin),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["name"], "Renamed");
    assert_eq!(u["extension"], "3001");
    assert_eq!(u["device"]["id"], did.as_str(), "PATCH keeps the device");
    let (s, u) = app
        .call(Method::PUT, &format!("/api/users/{uid}"), Some(&app.admin),
              Some(json!({"username": "3001", "extension": "3002", "license": [{"prod": "CALL_CENTER"}]})))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert!(
        u.get("device").is_none(),
        "PUT without device clears it: {u}"
    );
    assert_eq!(u["license"][0]["prod"], "CALL_CENTER");

    let (s, del) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{uid}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{del}");
    assert_eq!(del["deleted"][0]["id"], uid.as_str());
    let (s, e) = app.get(&format!("/api/users/{uid}"), &app.admin).await;
    assert_eq!(error_id(s, &e), "app.user.not_found");
    let (s, del) = app
        .call(
            Method::DELETE,
            "/api/devices",
            Some(&app.admin),
            Some(json!({"ids": [did]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{del}");
    let (s, _) = app.get(&format!("/api/devices/{did}"), &app.admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uniqueness_is_per_domain_and_names_the_field() {
    let app = TestApp::new().await;
    let (_, did, _) = app.provision("2020").await;
    let (s, e) = app
        .post(
            "/api/devices",
            &app.admin,
            json!({"account": "sip2020", "password": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(error_id(s, &e), "app.account.conflict");
    assert!(e["detail"].as_str().unwrap().contains("sip2020"));
    let (_, before) = app.get("/api/users", &app.admin).await;
    let (s, e) = app
        .post(
            "/api/users",
            &app.admin,
            json!({"username": "new", "extension": "2020"}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.extension.conflict");
    let (s, e) = app
        .post(
            "/api/users",
            &app.admin,
            json!({"username": "2020", "extension": "9999"}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.username.conflict");
    // A device belongs to one user.
    let (s, e) = app
        .post(
            "/api/users",
            &app.admin,
            json!({"username": "thief", "device": {"id": did}}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.device.conflict");
    let (_, after) = app.get("/api/users", &app.admin).await;
    assert_eq!(
        before["items"], after["items"],
        "failed requests change nothing"
    );
}

#[tokio::test]
async fn licence_rules_seats_sign_in_and_token_use() {
    // Two seats: the administrator holds one.
    let app = TestApp::with(2, Default::default()).await;
    let (uid, _, token) = app.provision("4001").await;
    let (s, _) = app.get("/api/userinfo", &token).await;
    assert_eq!(s, StatusCode::OK);
    let (_, lic) = app.get("/api/license", &app.admin).await;
    assert_eq!(lic["items"][0]["limit"], 2);
    assert_eq!(lic["items"][0]["remain"], 0);
    assert_eq!(lic["items"][0]["users"].as_array().unwrap().len(), 2);

    // No seat left: the user is not created at all.
    let (_, before) = app.get("/api/users", &app.admin).await;
    let (s, e) = app
        .post("/api/users", &app.admin,
              json!({"username": "4002", "password": "pw", "extension": "4002", "license": [{"id": app.license_id}]}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["detail"].as_str().unwrap().contains("no free seats"),
        "{e}"
    );
    let (_, after) = app.get("/api/users", &app.admin).await;
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len()
    );

    // An unlicensed user can neither sign in nor use a token.
    let (s, u) = app
        .post("/api/users", &app.admin, json!({"username": "nolic", "password": "pw", "extension": "4003", "roles": [{"id": 2}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let nolic = u["id"].as_str().unwrap();
    let (s, e) = app
        .call(
            Method::POST,
            "/api/login",
            None,
            Some(json!({"domain": "my-company.lo", "username": "nolic", "password": "pw"})),
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    assert_eq!(error_id(s, &e), "api.context.permissions.license");
    let (_, t) = app
        .call(
            Method::POST,
            &format!("/api/users/{nolic}/tokens"),
            Some(&app.admin),
            None,
        )
        .await;
    let (s, e) = app.get("/api/userinfo", t["token"].as_str().unwrap()).await;
    assert_eq!(error_id(s, &e), "api.context.permissions.license");

    // Taking the licence away from the first user frees the seat and locks the user out.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{uid}"),
            Some(&app.admin),
            Some(json!({"license": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app.get("/api/userinfo", &token).await;
    assert_eq!(error_id(s, &e), "api.context.permissions.license");
    let (_, lic) = app.get("/api/license", &app.admin).await;
    assert_eq!(lic["items"][0]["remain"], 1);
}

#[tokio::test]
async fn user_token_cannot_manage_the_directory() {
    let app = TestApp::new().await;
    let (uid, _, token) = app.provision("5001").await;
    let (s, e) = app
        .post("/api/users", &token, json!({"username": "x"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(error_id(s, &e), "api.context.permissions.app_error");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("permission=users access=create"),
        "{e}"
    );
    let (s, _) = app
        .post(
            "/api/devices",
            &token,
            json!({"account": "a", "password": "b"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // …but may read itself and manage its own tokens.
    let (s, _) = app.get(&format!("/api/users/{uid}"), &token).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/users/{uid}/tokens"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(Method::POST, "/api/users/1/tokens", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not the administrator's tokens");
}

#[tokio::test]
async fn domains_are_isolated() {
    let app = TestApp::new().await;
    let (uid, did, _) = app.provision("6001").await;
    let other = switchboard_api::bootstrap::seed_domain(&app.state.store, "other.lo", 10, None)
        .await
        .unwrap()
        .unwrap()
        .admin_token;
    let (s, e) = app.get(&format!("/api/users/{uid}"), &other).await;
    assert_eq!(error_id(s, &e), "app.user.not_found");
    let (s, _) = app.get(&format!("/api/devices/{did}"), &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/users", &other).await;
    let names: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("admin")], "only its own administrator");
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{uid}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get(&format!("/api/users/{uid}"), &app.admin).await;
    assert_eq!(s, StatusCode::OK, "still there");
    // The same account and extension may exist in another domain.
    let (s, _) = app
        .post(
            "/api/devices",
            &other,
            json!({"account": "sip6001", "password": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // A device of another domain cannot be attached.
    let (s, _) = app
        .post(
            "/api/users",
            &other,
            json!({"username": "u", "device": {"id": did}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn errors_have_webitels_shape_and_change_nothing() {
    let app = TestApp::new().await;
    let (s, e) = app.call(Method::GET, "/api/users", None, None).await;
    assert_eq!(error_id(s, &e), "app.session.unauthenticated");
    let (s, e) = app.get("/api/users", "not-a-token").await;
    assert_eq!(error_id(s, &e), "app.session.unauthenticated");
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/devices")
        .header("X-Webitel-Access", &app.admin)
        .header("Content-Type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    let (s, e) = app.raw(req).await;
    assert_eq!(error_id(s, &e), "api.request.bad_json");
    let (s, e) = app
        .post("/api/devices", &app.admin, json!({"name": "no account"}))
        .await;
    assert_eq!(error_id(s, &e), "app.device.valid.account");
    let (s, e) = app
        .post("/api/devices", &app.admin, json!({"account": "a"}))
        .await;
    assert_eq!(error_id(s, &e), "app.device.valid.password");
    let (s, e) = app
        .post(
            "/api/devices",
            &app.admin,
            json!({"account": 5, "password": "x"}),
        )
        .await;
    assert_eq!(error_id(s, &e), "api.request.bad_json", "wrong type");
    let (s, e) = app.get("/api/devices/999", &app.admin).await;
    assert_eq!(error_id(s, &e), "app.device.not_found");
    let (s, e) = app.get("/api/devices/abc", &app.admin).await;
    assert_eq!(error_id(s, &e), "app.device.valid.id");
    let (s, e) = app
        .post(
            "/api/users",
            &app.admin,
            json!({"username": "u", "roles": [{"id": 999}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (_, list) = app.get("/api/devices", &app.admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (_, list) = app.get("/api/users", &app.admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the administrator"
    );
}

#[tokio::test]
async fn sign_in_sign_out_revoke_and_expiry() {
    let app = TestApp::with(
        100,
        switchboard_api::ApiConfig {
            session_ttl_secs: 1,
            ..Default::default()
        },
    )
    .await;
    let (uid, _, token) = app.provision("7001").await;
    let login = json!({"domain": "my-company.lo", "username": "7001", "password": "dl75lfLcOLLL"});
    let (s, l) = app
        .call(Method::POST, "/api/login", None, Some(login.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["authorization"]["token_type"], "bearer");
    assert_eq!(l["authorization"]["expires_in"], 1);
    let session = l["authorization"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, info) = app.get("/api/userinfo", &session).await;
    assert_eq!(s, StatusCode::OK);
    assert!(is_ms_string(&info["expires_at"]));
    let (s, _) = app
        .call(
            Method::POST,
            "/api/users/logout",
            Some(&session),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app.get("/api/userinfo", &session).await;
    assert_eq!(error_id(s, &e), "app.session.revoked");

    let (_, l) = app
        .call(Method::POST, "/api/login", None, Some(login))
        .await;
    let session = l["authorization"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, e) = app.get("/api/userinfo", &session).await;
    assert_eq!(error_id(s, &e), "app.session.expired");

    let (s, e) = app
        .call(
            Method::POST,
            "/api/login",
            None,
            Some(json!({"domain": "my-company.lo", "username": "7001", "password": "wrong"})),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.login.invalid_credentials");

    // Revoking a long-lived token stops it at once, even though sessions are cached.
    let (s, _) = app.get("/api/userinfo", &token).await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = app
        .get(&format!("/api/users/{uid}/tokens"), &app.admin)
        .await;
    let key = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{uid}/tokens/{key}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(is_ms_string(&r["deleted_at"]));
    let (s, e) = app.get("/api/userinfo", &token).await;
    assert_eq!(error_id(s, &e), "app.session.revoked");
}

#[tokio::test]
async fn passwords_are_argon2_and_the_device_keeps_only_ha1() {
    let app = TestApp::new().await;
    let (_, did, _) = app.provision("8001").await;
    let user = app
        .state
        .store
        .user_by_username("my-company.lo", "8001")
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    assert!(!user.password_hash.contains("dl75lfLcOLLL"));
    let dev = app
        .state
        .store
        .get_device(1, did.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        dev.ha1,
        switchboard_api::auth::ha1("sip8001", "my-company.lo", "BNZdVLryFwcB")
    );
    let (_, read) = app.get(&format!("/api/devices/{did}"), &app.admin).await;
    assert!(read["device"].get("password").is_none());
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = TestApp::new().await;
    let (s, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/devices", &["get", "post", "delete"][..]),
        ("/api/devices/{id}", &["get", "put", "patch", "delete"]),
        ("/api/users", &["get", "post", "delete"]),
        ("/api/users/{id}", &["get", "put", "patch", "delete"]),
        ("/api/users/{user_id}/tokens", &["get", "post"]),
        ("/api/users/{user_id}/tokens/{id}", &["get", "delete"]),
        ("/api/roles", &["get", "post"]),
        ("/api/roles/{id}", &["get", "delete"]),
        ("/api/license", &["get"]),
        ("/api/userinfo", &["get", "post"]),
        ("/api/login", &["post"]),
        ("/api/logout", &["post"]),
        ("/api/users/logout", &["post"]),
        ("/api/users/{id}/logout", &["post"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "{m} {path} documented"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["AccessToken"].is_object());
}

#[tokio::test]
async fn roles_can_be_created_listed_and_deleted() {
    let app = TestApp::new().await;
    let (s, r) = app
        .post(
            "/api/roles",
            &app.admin,
            json!({"role": {"name": "supervisor", "scope": [{"class": "calls", "access": "rw"}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["created"]["id"].as_str().unwrap().to_string();
    let (_, list) = app.get("/api/roles?q=super", &app.admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (s, e) = app
        .post(
            "/api/roles",
            &app.admin,
            json!({"name": "bad", "scope": [{"class": "nope", "access": "r"}]}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.role.valid.scope");
    let (s, e) = app
        .call(Method::DELETE, "/api/roles/1", Some(&app.admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "built-in roles stay: {e}");
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/roles/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn reads_follow_every_write_to_a_users_device_and_roles() {
    let app = TestApp::new().await;
    let (uid, did, _) = app.provision("9001").await;
    let path = format!("/api/users/{uid}");
    let (_, u) = app.get(&path, &app.admin).await;
    assert_eq!(u["user"]["devices"][0]["name"], "device for 9001");
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/api/devices/{did}"),
            Some(&app.admin),
            Some(json!({"name": "desk phone"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, u) = app.get(&path, &app.admin).await;
    assert_eq!(
        u["user"]["devices"][0]["name"], "desk phone",
        "a renamed device shows at once"
    );
    let (s, r) = app
        .post(
            "/api/roles",
            &app.admin,
            json!({"role": {"name": "temp", "scope": [{"class": "calls", "access": "r"}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let rid = r["created"]["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin),
            Some(json!({"roles": [{"id": 2}, {"id": rid}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, u) = app.get(&path, &app.admin).await;
    assert_eq!(u["user"]["roles"].as_array().unwrap().len(), 2);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/roles/{rid}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, u) = app.get(&path, &app.admin).await;
    assert_eq!(
        u["user"]["roles"].as_array().unwrap().len(),
        1,
        "a deleted role is gone from the user"
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/devices/{did}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, u) = app.get(&path, &app.admin).await;
    assert!(
        u["user"].get("device").is_none(),
        "a deleted device is gone from the user: {u}"
    );
}
