//! `switchboard provision` against the real server binary: the guide's flow, idempotency by
//! extension, CSV batches with a failing row that a re-run completes, and no orphan devices.

mod common;

use common::{stderr, stdout, Server};
use serde_json::Value;
use switchboard_client::{Client, Search};

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

async fn users_with_extension(api: &Client, ext: &str) -> usize {
    api.search_users(&Search::new().size(100).filter("extension", ext))
        .await
        .expect("search users")
        .items
        .iter()
        .filter(|u| u.extension.as_deref() == Some(ext))
        .count()
}

/// Devices whose generated account belongs to `ext` (`<ext>-<suffix>`).
async fn devices_of(api: &Client, ext_account_prefix: &str) -> Vec<String> {
    api.search_devices(&Search::new().size(1000))
        .await
        .expect("search devices")
        .items
        .into_iter()
        .filter_map(|d| d.account)
        .filter(|a| a.starts_with(&format!("{ext_account_prefix}-")))
        .collect()
}

#[tokio::test]
async fn provision_runs_the_guide_flow_and_reuses_on_rerun() {
    let srv = Server::start();
    let api = srv.client();

    let first = srv.provision(&[
        "--name",
        "User1",
        "--extension",
        "2020",
        "--email",
        "user1@gmail.com",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let a = json(&stdout(&first));
    let user_id = a["user_id"].as_str().expect("user_id").to_string();
    let device_id = a["device_id"].as_str().expect("device_id").to_string();
    let token = a["token"].as_str().expect("token").to_string();
    assert_eq!(
        a.as_object().unwrap().len(),
        3,
        "exactly user_id, device_id, token"
    );

    // The user is what the guide asks for: role, licence, default device, login = extension.
    let u = api.user(&user_id).await.unwrap();
    assert_eq!(u.username.as_deref(), Some("2020"));
    assert_eq!(u.email.as_deref(), Some("user1@gmail.com"));
    assert_eq!(u.device.unwrap().id.as_deref(), Some(device_id.as_str()));
    assert_eq!(
        u.devices.unwrap()[0].id.as_deref(),
        Some(device_id.as_str())
    );
    let roles: Vec<_> = u
        .roles
        .unwrap()
        .into_iter()
        .filter_map(|r| r.name)
        .collect();
    assert_eq!(roles, ["user"]);
    assert_eq!(u.license.unwrap().len(), 1);
    let d = api.device(&device_id).await.unwrap();
    assert!(d.account.unwrap().starts_with("2020-"));

    // The token is the user's own and works.
    let me = api.with_token(&token).userinfo().await.unwrap();
    assert_eq!(me.user_id.as_deref(), Some(user_id.as_str()));
    assert!(!me.license.is_empty());

    // Again, this time configured through the environment: same user and device, a new token.
    let again = std::process::Command::new(common::bin())
        .args(["provision", "--name", "User1", "--extension", "2020"])
        .env("SWITCHBOARD_API", format!("{}/", srv.api()))
        .env("SWITCHBOARD_TOKEN", &srv.token)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let b = json(&stdout(&again));
    assert_eq!(b["user_id"].as_str(), Some(user_id.as_str()));
    assert_eq!(b["device_id"].as_str(), Some(device_id.as_str()));
    let token2 = b["token"].as_str().unwrap();
    assert_ne!(token2, token);
    assert!(
        stderr(&again).contains("already belongs to user"),
        "{}",
        stderr(&again)
    );
    let me = api.with_token(token2).userinfo().await.unwrap();
    assert_eq!(me.user_id.as_deref(), Some(user_id.as_str()));

    assert_eq!(users_with_extension(&api, "2020").await, 1);
    assert_eq!(devices_of(&api, "2020").await.len(), 1);
}

#[tokio::test]
async fn explicit_licence_and_role_and_no_orphan_device_on_failure() {
    let srv = Server::start();
    let api = srv.client();

    let out = srv.provision(&[
        "--name",
        "Agent",
        "--extension",
        "4001",
        "--license",
        "call_center",
        "--role",
        "agent",
        "--username",
        "agent4001",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = json(&stdout(&out))["user_id"].as_str().unwrap().to_string();
    let u = api.user(&id).await.unwrap();
    assert_eq!(u.username.as_deref(), Some("agent4001"));
    let roles: Vec<_> = u
        .roles
        .unwrap()
        .into_iter()
        .filter_map(|r| r.name)
        .collect();
    assert_eq!(roles, ["agent"]);
    assert_eq!(u.license.unwrap()[0].prod.as_deref(), Some("CALL_CENTER"));

    // The username is taken: user creation fails after the device was made; the device goes.
    let out = srv.provision(&[
        "--name",
        "Clash",
        "--extension",
        "4002",
        "--username",
        "agent4001",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("username"), "{err}");
    assert!(stdout(&out).is_empty());
    assert!(devices_of(&api, "4002").await.is_empty(), "orphan device");
    assert_eq!(users_with_extension(&api, "4002").await, 0);

    // An unknown role is refused before anything is created.
    let out = srv.provision(&["--name", "X", "--extension", "4003", "--role", "nosuch"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
    assert!(devices_of(&api, "4003").await.is_empty(), "orphan device");

    // A bad token is a clear error.
    let out = std::process::Command::new(common::bin())
        .args(["provision", "--api", &srv.api(), "--token", "wrong"])
        .args(["--name", "Y", "--extension", "4004"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}

#[tokio::test]
async fn csv_batch_reports_a_bad_row_and_a_rerun_completes_it() {
    let srv = Server::start();
    let api = srv.client();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    let results = dir.path().join("results.jsonl");
    let rows = |bad: &str| {
        format!(
            "name,extension,email\n\
             Ann,3001,ann@example.com\n\
             Bob,3002,\n\
             Cid,{bad},cid@example.com\n\
             Dee,3004,\n\
             Eve,3005,eve@example.com\n"
        )
    };
    std::fs::write(&csv, rows("30 03")).unwrap();

    let out = srv.provision(&[
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(!out.status.success(), "a failed row fails the run: {err}");
    assert!(
        err.contains("5 rows: 4 created, 0 reused, 1 failed"),
        "{err}"
    );
    assert!(
        err.contains("line 4") && err.contains("app.user.valid.extension"),
        "{err}"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    assert_eq!(lines.len(), 5);
    let failed: Vec<_> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["extension"], "30 03");
    assert!(failed[0]["error"].as_str().unwrap().contains("extension"));
    assert!(devices_of(&api, "30_03").await.is_empty(), "orphan device");
    let first_ids: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["status"] == "created")
        .map(|l| {
            (
                l["extension"].as_str().unwrap().to_string(),
                l["user_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(first_ids.len(), 4);

    // Fix the row and run again, CSV results on stdout this time.
    std::fs::write(&csv, rows("3003")).unwrap();
    let out = srv.provision(&["--csv", csv.to_str().unwrap(), "--format", "csv"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("5 rows: 1 created, 4 reused, 0 failed"),
        "{err}"
    );
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 5);
    for r in &recs {
        let ext = &r[col("extension")];
        assert!(!r[col("token")].is_empty());
        if ext == "3003" {
            assert_eq!(&r[col("status")], "created");
        } else {
            assert_eq!(&r[col("status")], "reused");
            let before = first_ids.iter().find(|(e, _)| e == ext).unwrap();
            assert_eq!(r[col("user_id")], before.1, "same user for {ext}");
        }
    }
    for ext in ["3001", "3002", "3003", "3004", "3005"] {
        assert_eq!(users_with_extension(&api, ext).await, 1, "{ext}");
        assert_eq!(devices_of(&api, ext).await.len(), 1, "{ext}");
    }

    // A duplicate extension inside one file is reported, not merged into the first row.
    std::fs::write(&csv, "Fay,3006\nGus,3006\n").unwrap();
    let out = srv.provision(&["--csv", csv.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("also on line 1"), "{err}");
    assert_eq!(users_with_extension(&api, "3006").await, 1);
}
