//! A domain cannot lock itself out through its own API: the last administrator keeps its
//! roles, licence and last token, and nobody gives or takes a role granting more than they
//! hold. Each refusal changes nothing; the same request is accepted once it would not lock
//! anyone out.

mod common;

use axum::http::{Method, StatusCode};
use common::{error_id, TestApp};
use serde_json::{json, Value};

const ADMIN_ROLE: u64 = 1;

impl TestApp {
    async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// A user with `roles` and the domain's licence, and a token of its own: (id, token).
    async fn user_with(&self, username: &str, roles: &[u64]) -> (String, String) {
        let roles: Vec<Value> = roles.iter().map(|r| json!({"id": r})).collect();
        let (s, u) = self
            .post(
                "/api/users",
                &self.admin,
                json!({"username": username, "password": "dl75lfLcOLLL", "roles": roles,
                       "license": [{"id": self.license_id}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        let token = self.new_token(&id).await;
        (id, token)
    }

    /// A new token for user `id`, issued with the administrator's.
    async fn new_token(&self, id: &str) -> String {
        let (s, t) = self
            .call(
                Method::POST,
                &format!("/api/users/{id}/tokens"),
                Some(&self.admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        t["token"].as_str().unwrap().to_string()
    }

    /// Revokes user 1's token `key` with the administrator's token.
    async fn revoke_admin_token(&self, key: &str) -> (StatusCode, Value) {
        self.call(
            Method::DELETE,
            &format!("/api/users/1/tokens/{key}"),
            Some(&self.admin),
            None,
        )
        .await
    }

    /// A role granting `access` on users only; its id.
    async fn users_role(&self, name: &str, access: &str) -> u64 {
        let (s, r) = self
            .post(
                "/api/roles",
                &self.admin,
                json!({"name": name, "scope": [{"class": "users", "access": access}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        r["created"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// The ids of a user's roles.
    async fn role_ids(&self, id: &str) -> Vec<String> {
        let (_, u) = self.get(&format!("/api/users/{id}"), &self.admin).await;
        u["user"]["roles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn the_last_administrator_cannot_strip_itself() {
    let app = TestApp::new().await;
    // The request from the issue: a PUT with only a username drops roles and licence.
    let (s, e) = app
        .put("/api/users/1", &app.admin, json!({"username": "admin"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(error_id(s, &e), "app.user.last_admin");
    let (s, e) = app
        .patch("/api/users/1", &app.admin, json!({"license": []}))
        .await;
    assert_eq!(error_id(s, &e), "app.user.last_admin");
    let (s, e) = app
        .patch("/api/users/1", &app.admin, json!({"roles": [{"id": 2}]}))
        .await;
    assert_eq!(error_id(s, &e), "app.user.last_admin");
    // Nothing changed, and the token still manages the domain.
    assert_eq!(app.role_ids("1").await, vec![ADMIN_ROLE.to_string()]);
    let (s, u) = app.get("/api/users/1", &app.admin).await;
    assert_eq!(
        u["user"]["license"].as_array().map(Vec::len),
        Some(1),
        "{u}"
    );
    let (s2, _) = app.get("/api/users", &app.admin).await;
    assert_eq!((s, s2), (StatusCode::OK, StatusCode::OK));
    // Changing what does not touch its rights is fine.
    let (s, u) = app
        .patch("/api/users/1", &app.admin, json!({"name": "Chief"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
}

#[tokio::test]
async fn with_a_second_administrator_the_first_may_step_down() {
    let app = TestApp::new().await;
    let (second, second_token) = app.user_with("deputy", &[ADMIN_ROLE]).await;
    let (s, u) = app
        .patch("/api/users/1", &app.admin, json!({"roles": [{"id": 2}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(app.role_ids("1").await, vec!["2".to_string()]);
    // Now the deputy is the last one: it cannot step down.
    let (s, e) = app
        .patch(
            &format!("/api/users/{second}"),
            &second_token,
            json!({"roles": [{"id": 2}]}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.user.last_admin");
    assert_eq!(app.role_ids(&second).await, vec![ADMIN_ROLE.to_string()]);
    // It can make user 1 an administrator again, then step down.
    let (s, u) = app
        .patch(
            "/api/users/1",
            &second_token,
            json!({"roles": [{"id": ADMIN_ROLE}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let (s, u) = app
        .patch(
            &format!("/api/users/{second}"),
            &second_token,
            json!({"roles": [{"id": 2}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
}

#[tokio::test]
async fn deleting_the_last_administrator_is_refused() {
    let app = TestApp::new().await;
    // A role that may delete users but not create them: not an administrator itself.
    let remover_role = app.users_role("remover", "rd").await;
    let (_, remover) = app.user_with("remover", &[remover_role]).await;
    let (s, e) = app
        .call(Method::DELETE, "/api/users/1", Some(&remover), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(error_id(s, &e), "app.user.last_admin");
    let (s, _) = app.get("/api/users/1", &app.admin).await;
    assert_eq!(s, StatusCode::OK, "still there");
    // With a second administrator, the first may go.
    app.user_with("deputy", &[ADMIN_ROLE]).await;
    let (s, d) = app
        .call(Method::DELETE, "/api/users/1", Some(&remover), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
}

#[tokio::test]
async fn the_last_administrators_last_token_stays() {
    let app = TestApp::new().await;
    let (_, list) = app.get("/api/users/1/tokens", &app.admin).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let first = items[0]["id"].as_str().unwrap().to_string();
    let (s, e) = app.revoke_admin_token(&first).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(error_id(s, &e), "app.token.last_admin");
    let (s, _) = app.get("/api/users", &app.admin).await;
    assert_eq!(s, StatusCode::OK, "the token still works");
    // With a second token the first can go, and the second works.
    let second = app.new_token("1").await;
    let (s, e) = app.revoke_admin_token(&first).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, _) = app.get("/api/users", &second).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/api/users", &app.admin).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "revoked");
}

#[tokio::test]
async fn rights_one_does_not_hold_cannot_be_given_or_taken() {
    let app = TestApp::new().await;
    let hr_role = app.users_role("hr", "xrwd").await;
    let (_, hr) = app.user_with("hr-person", &[hr_role]).await;
    let (target, _) = app.user_with("target", &[]).await;
    // The admin role grants every class; HR holds only users.
    let (s, e) = app
        .patch(
            &format!("/api/users/{target}"),
            &hr,
            json!({"roles": [{"id": ADMIN_ROLE}]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(error_id(s, &e), "app.user.roles.not_held");
    let (s, e) = app.patch("/api/users/1", &hr, json!({"roles": []})).await;
    assert_eq!(error_id(s, &e), "app.user.roles.not_held");
    let (s, e) = app
        .post(
            "/api/users",
            &hr,
            json!({"username": "escalated", "roles": [{"id": ADMIN_ROLE}]}),
        )
        .await;
    assert_eq!(error_id(s, &e), "app.user.roles.not_held");
    assert!(app.role_ids(&target).await.is_empty());
    assert_eq!(app.role_ids("1").await, vec![ADMIN_ROLE.to_string()]);
    // A role within its own rights it may give.
    let (s, u) = app
        .patch(
            &format!("/api/users/{target}"),
            &hr,
            json!({"roles": [{"id": hr_role}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
}
