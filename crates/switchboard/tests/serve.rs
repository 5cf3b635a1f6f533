//! The platform process itself: first start, restarts, crashes, domains, TLS.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::process::Stdio;

async fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("X-Webitel-Access", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn first_start_prints_the_admin_token_once_and_keeps_it_private() {
    let mut s = Server::start();
    let path = s.data.path().join("admin.token");
    let saved = std::fs::read_to_string(&path).expect("admin.token written");
    assert_eq!(saved.trim(), s.token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read the token");
    }
    s.restart();
    let printed = s.logs().matches(&s.token).count();
    assert_eq!(printed, 1, "printed on the first start only:\n{}", s.logs());
    let (status, info) = call(
        reqwest::Method::GET,
        &format!("{}/userinfo", s.api()),
        &s.token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["domain"], "my-company.lo");
    assert_eq!(info["username"], "admin");
}

#[tokio::test]
async fn provisioned_users_survive_restart_and_kill_9() {
    let mut s = Server::start();
    let api = s.api();
    let (st, dev) = call(
        reqwest::Method::POST,
        &format!("{api}/devices"),
        &s.token,
        Some(
            json!({"name": "device for user 1", "account": "sipUser1", "password": "BNZdVLryFwcB"}),
        ),
    )
    .await;
    assert_eq!(st, 200, "{dev}");
    let (st, user) = call(
        reqwest::Method::POST,
        &format!("{api}/users"),
        &s.token,
        Some(json!({"name": "User1", "username": "2020", "password": "dl75lfLcOLLL", "extension": "2020",
                    "roles": [{"id": 2}], "device": {"id": dev["id"]}, "license": [{"prod": "CALL_CENTER"}]})),
    )
    .await;
    assert_eq!(st, 200, "{user}");
    let uid = user["id"].as_str().unwrap().to_string();
    let (_, tok) = call(
        reqwest::Method::POST,
        &format!("{api}/users/{uid}/tokens"),
        &s.token,
        None,
    )
    .await;
    let user_token = tok["token"].as_str().unwrap().to_string();

    // A crash right after the replies: everything acknowledged is there afterwards.
    s.kill9();
    s.restart();
    let (st, again) = call(
        reqwest::Method::GET,
        &format!("{api}/users/{uid}"),
        &s.token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["user"]["device"]["id"], dev["id"]);
    let (st, info) = call(
        reqwest::Method::GET,
        &format!("{api}/userinfo"),
        &user_token,
        None,
    )
    .await;
    assert_eq!(st, 200, "the user's token survives: {info}");
    assert_eq!(info["user_id"], uid.as_str());

    s.restart();
    let (st, _) = call(
        reqwest::Method::GET,
        &format!("{api}/devices/{}", dev["id"].as_str().unwrap()),
        &s.token,
        None,
    )
    .await;
    assert_eq!(st, 200);
}

/// Runs a subcommand that prints a token: the token, and what the command logged.
fn printed_token(s: &Server, args: &[&str]) -> (String, String) {
    let out = s
        .command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run switchboard");
    assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    let token = common::stdout(&out).trim().to_string();
    assert!(token.len() >= 32, "{token}");
    (token, common::stderr(&out))
}

#[tokio::test]
async fn domain_add_prints_a_token_that_sees_only_its_domain() {
    let s = Server::start();
    let (token, _) = printed_token(&s, &["domain", "add", "second.lo"]);
    let (st, info) = call(
        reqwest::Method::GET,
        &format!("{}/userinfo", s.api()),
        &token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["domain"], "second.lo");
    let (_, users) = call(
        reqwest::Method::GET,
        &format!("{}/users", s.api()),
        &token,
        None,
    )
    .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let again = s
        .command()
        .args(["domain", "add", "second.lo"])
        .output()
        .expect("domain add again");
    assert!(!again.status.success(), "an existing domain is refused");
}

#[tokio::test]
async fn admin_reset_token_recovers_a_domain_on_the_machine() {
    let s = Server::start();
    let (token, log) = printed_token(&s, &["admin", "reset-token", "--domain", "my-company.lo"]);
    assert!(log.contains("administrator token reset"), "{log}");
    assert!(!log.contains(&token), "the token stays out of the log");
    let (st, info) = call(
        reqwest::Method::GET,
        &format!("{}/userinfo", s.api()),
        &token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["domain"], "my-company.lo");
    assert_eq!(info["username"], "admin");
    let (st, _) = call(
        reqwest::Method::GET,
        &format!("{}/users", s.api()),
        &s.token,
        None,
    )
    .await;
    assert_eq!(st, 200, "the old token still works");
    let unknown = s
        .command()
        .args(["admin", "reset-token", "--domain", "nowhere.lo"])
        .output()
        .expect("admin reset-token");
    assert!(!unknown.status.success());
    assert!(common::stderr(&unknown).contains("app.domain.not_found"));
}

#[tokio::test]
async fn tls_serves_https_on_the_same_listener() {
    let dir = tempfile::tempdir().unwrap();
    let certs = common::tls::private_ca();
    let (ca, cert, key) = (&certs.ca, &certs.cert, &certs.key);
    let port = common::free_port();
    let mut child = std::process::Command::new(common::bin())
        .arg("serve")
        .env("SWITCHBOARD_DATA", dir.path().join("data"))
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_SIP_LISTEN", "off")
        .env("SWITCHBOARD_BOOTSTRAP_TOKEN", "tls-admin-token")
        .env("SWITCHBOARD_TLS_CERT", cert)
        .env("SWITCHBOARD_TLS_KEY", key)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let line = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("listening on "))
    })
    .join()
    .unwrap();
    assert_eq!(
        line.as_deref(),
        Some(format!("listening on https://127.0.0.1:{port}").as_str())
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let res = client
        .get(format!("https://127.0.0.1:{port}/api/userinfo"))
        .header("X-Webitel-Access", "tls-admin-token")
        .send()
        .await
        .expect("https request");
    assert_eq!(res.status().as_u16(), 200);
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "no plain HTTP on a TLS listener"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn calls_left_open_by_a_crash_are_closed_at_start_up() {
    if std::env::var("SWITCHBOARD_TEST_PG").is_ok_and(|v| !v.is_empty()) {
        return; // writes the crash's leftovers straight into the SQLite file
    }
    let mut s = Server::start();
    s.kill9();
    // What a crash mid-call leaves: a leg answered, never hung up.
    let store = switchboard_store::Store::open_sqlite(s.data.path())
        .await
        .unwrap();
    let t0 = switchboard_store::now_ms() - 60_000;
    store
        .upsert_history(&switchboard_store::HistoryRecord {
            id: "crashed-leg".into(),
            domain_id: 1,
            user_id: Some(1),
            direction: "outbound".into(),
            destination: "2021".into(),
            created_at: t0,
            answered_at: t0 + 2_000,
            stored_at: t0 + 20_000,
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    s.restart();
    let (st, h) = call(
        reqwest::Method::GET,
        &format!("{}/calls/history?id=crashed-leg", s.api()),
        &s.token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{h}");
    let leg = &h["items"][0];
    assert_eq!(leg["cause"], "SYSTEM_SHUTDOWN", "{h}");
    assert_eq!(leg["hangup_at"], (t0 + 20_000).to_string());
    assert_eq!(leg["duration"], 20);
    assert_eq!(leg["bill_sec"], 18);
}
