//! Do-not-call lists through the real server: lists and their numbers in Webitel's shapes,
//! bad numbers and duplicates refused clearly, bulk reporting failures by index and writing
//! the good items, a queue's `dnc_list` checked against the domain, and the CSV import
//! refusing rows with a barred number. SQLite, or PostgreSQL when SWITCHBOARD_TEST_PG is set.

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Stdio;

struct Rest<'a> {
    s: &'a Server,
    token: String,
}

impl Rest<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .s
            .http()
            .request(method, format!("{}{path}", self.s.api()))
            .header("X-Webitel-Access", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let code = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (code, v) = self.send(method.clone(), path, body).await;
        assert_eq!(code, 200, "{method} {path}: {v}");
        v
    }

    /// Asserts `code` in Webitel's error shape; answers `(id, detail)`.
    async fn fails(
        &self,
        code: u16,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (String, String) {
        let (got, v) = self.send(method.clone(), path, body).await;
        assert_eq!(got, code, "{method} {path}: {v}");
        assert_eq!(v["code"], code, "{v}");
        assert!(v["id"].is_string() && v["status"].is_string(), "{v}");
        (
            v["id"].as_str().unwrap_or_default().to_string(),
            v["detail"].as_str().unwrap_or_default().to_string(),
        )
    }

    async fn items(&self, path: &str) -> Vec<Value> {
        self.ok(Method::GET, path, None).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("string id: {v}"))
        .to_string()
}

#[tokio::test]
async fn dnc_lists_and_their_numbers_in_webitels_shapes() {
    let s = Server::start();
    let r = Rest {
        s: &s,
        token: s.token.clone(),
    };
    let list = r
        .ok(
            Method::POST,
            "/call_center/list",
            Some(json!({"name": " Opt-outs ", "description": "asked not to be called"})),
        )
        .await;
    let lid = id(&list);
    assert_eq!(list["name"], "Opt-outs");
    assert_eq!(list["count"], "0");
    assert!(list["created_at"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert!(list["created_by"]["id"].is_string(), "{list}");
    let (eid, _) = r
        .fails(
            400,
            Method::POST,
            "/call_center/list",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(eid, "app.list.valid.name");
    r.fails(
        409,
        Method::POST,
        "/call_center/list",
        Some(json!({"name": "Opt-outs"})),
    )
    .await;

    // Numbers: one at a time, a number once per list.
    let base = format!("/call_center/list/{lid}/communication");
    let first = r
        .ok(
            Method::POST,
            &base,
            Some(json!({"number": " +15550100 ", "description": "called in"})),
        )
        .await;
    assert_eq!(first["number"], "+15550100");
    assert_eq!(first["list_id"], lid.as_str());
    assert!(first.get("expire_at").is_none(), "{first}");
    for bad in [json!({"number": ""}), json!({}), json!({"number": "55 5"})] {
        let (eid, detail) = r.fails(400, Method::POST, &base, Some(bad)).await;
        assert_eq!(eid, "app.list_communication.valid.number", "{detail}");
    }
    let (_, detail) = r
        .fails(
            409,
            Method::POST,
            &base,
            Some(json!({"number": "+15550100"})),
        )
        .await;
    assert!(detail.contains("+15550100"), "{detail}");
    r.fails(
        404,
        Method::POST,
        "/call_center/list/999999/communication",
        Some(json!({"number": "1"})),
    )
    .await;

    // Bulk: broken items and duplicates are reported by index, the good ones written.
    let res = r
        .ok(
            Method::POST,
            &format!("{base}/bulk"),
            Some(json!({"items": [
                {"number": "+15550200", "expire_at": "1900000000000"},
                {"number": ""},
                {"number": "+15550100"},
                {"number": "+15550300", "description": "lawyer"},
                {"number": "+15550300"},
                {"number": "+15550400", "expire_at": "later"},
            ]})),
        )
        .await;
    let data = res["data"].as_array().unwrap();
    let numbers: Vec<&str> = data.iter().map(|c| c["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["+15550200", "+15550300"]);
    assert_eq!(data[0]["expire_at"], "1900000000000");
    let failures = res["failures"].as_array().unwrap();
    let at: Vec<(i64, i64)> = failures
        .iter()
        .map(|f| {
            (
                f["index"].as_i64().unwrap(),
                f["error"]["code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(at, vec![(1, 3), (2, 6), (4, 6), (5, 3)], "{res}");
    assert_eq!(failures[1]["item"]["number"], "+15550100");
    assert!(failures[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("number is required"));
    assert_eq!(
        r.ok(Method::GET, &format!("/call_center/list/{lid}"), None)
            .await["count"],
        "3"
    );

    // Search: q, id, expire_at range; lists by q.
    let all = r.items(&base).await;
    assert_eq!(all.len(), 3);
    assert_eq!(r.items(&format!("{base}?q=555030")).await.len(), 1);
    let one = r.items(&format!("{base}?id={}", id(&first))).await;
    assert_eq!(one.len(), 1);
    let expiring = r
        .items(&format!(
            "{base}?expire_at.from=1800000000000&expire_at.to=2000000000000"
        ))
        .await;
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0]["number"], "+15550200");
    assert_eq!(r.items("/call_center/list?q=opt").await.len(), 1);

    // Read, replace, delete a number.
    let cid = id(&first);
    let path = format!("{base}/{cid}");
    assert_eq!(
        r.ok(Method::GET, &path, None).await["description"],
        "called in"
    );
    r.fails(
        409,
        Method::PUT,
        &path,
        Some(json!({"number": "+15550300"})),
    )
    .await;
    let changed = r
        .ok(
            Method::PUT,
            &path,
            Some(json!({"number": "+15550101", "expire_at": "1900000000000"})),
        )
        .await;
    assert_eq!(changed["number"], "+15550101");
    r.ok(Method::DELETE, &path, None).await;
    r.fails(404, Method::GET, &path, None).await;

    // A queue names a list of its domain: a missing one is a 400 and nothing is written.
    let (eid, _) = r
        .fails(
            400,
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Campaign", "type": 4, "dnc_list": {"id": "999999"}})),
        )
        .await;
    assert_eq!(eid, "app.queue.valid.dnc_list");
    assert!(r.items("/call_center/queues").await.is_empty());
    let queue = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Campaign", "type": 4, "dnc_list": {"id": lid}})),
        )
        .await;
    let qid = id(&queue);
    assert_eq!(queue["dnc_list"]["id"], lid.as_str());
    assert_eq!(queue["dnc_list"]["name"], "Opt-outs");
    let read = r
        .ok(Method::GET, &format!("/call_center/queues/{qid}"), None)
        .await;
    assert_eq!(read["dnc_list"]["name"], "Opt-outs");
    // A list in use cannot go.
    r.fails(
        409,
        Method::DELETE,
        &format!("/call_center/list/{lid}"),
        None,
    )
    .await;

    // Another domain neither sees the list nor can name it.
    let out = s
        .command()
        .args(["domain", "add", "second.lo"])
        .stdin(Stdio::null())
        .output()
        .expect("domain add");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let other = Rest {
        s: &s,
        token: common::stdout(&out).trim().to_string(),
    };
    assert!(other.items("/call_center/list").await.is_empty());
    other
        .fails(404, Method::GET, &format!("/call_center/list/{lid}"), None)
        .await;
    other.fails(404, Method::GET, &base, None).await;
    let (eid, _) = other
        .fails(
            400,
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Theirs", "type": 4, "dnc_list": {"id": lid}})),
        )
        .await;
    assert_eq!(eid, "app.queue.valid.dnc_list");
    assert!(other.items("/call_center/queues").await.is_empty());

    // PATCH keeps the list; `{}` clears it, and then the list may go.
    let kept = r
        .ok(
            Method::PATCH,
            &format!("/call_center/queues/{qid}"),
            Some(json!({"priority": 3})),
        )
        .await;
    assert_eq!(kept["dnc_list"]["id"], lid.as_str());
    let cleared = r
        .ok(
            Method::PATCH,
            &format!("/call_center/queues/{qid}"),
            Some(json!({"dnc_list": {}})),
        )
        .await;
    assert!(cleared.get("dnc_list").is_none(), "{cleared}");
    r.ok(Method::DELETE, &format!("/call_center/list/{lid}"), None)
        .await;
    assert!(r.items("/call_center/list").await.is_empty());
}

#[tokio::test]
async fn members_import_refuses_rows_with_a_barred_number() {
    let s = Server::start();
    let r = Rest {
        s: &s,
        token: s.token.clone(),
    };
    let list = r
        .ok(
            Method::POST,
            "/call_center/list",
            Some(json!({"name": "DNC"})),
        )
        .await;
    let lid = id(&list);
    r.ok(
        Method::POST,
        &format!("/call_center/list/{lid}/communication/bulk"),
        Some(json!({"items": [
            {"number": "+15550200"},
            {"number": "+15550301"},
            // An expired bar no longer bars.
            {"number": "+15550400", "expire_at": "1000"},
        ]})),
    )
    .await;
    let queue = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Campaign", "type": 4, "dnc_list": {"id": lid}})),
        )
        .await;
    let qid = id(&queue);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "name,destination\n\
         Ann,+15550100\n\
         Bob,+15550200\n\
         Cy,+15550300|+15550301\n\
         Dee,+15550400\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["members", "import", "--api", &s.api(), "--token", &s.token])
        .args(["--queue", &qid])
        .arg(&csv)
        .env_remove("SWITCHBOARD_API")
        .env_remove("SWITCHBOARD_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run switchboard members import");
    let (stdout, stderr) = (common::stdout(&out), common::stderr(&out));
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("2 imported"), "{stdout}");
    assert!(stdout.contains("2 failed"), "{stdout}");
    for (line, number) in [("line 3:", "+15550200"), ("line 4:", "+15550301")] {
        let l = stderr
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("{line} in {stderr}"));
        assert!(l.contains(number) && l.contains("do-not-call"), "{l}");
    }
    let members = r.items(&format!("/call_center/queues/{qid}/members")).await;
    let mut names: Vec<&str> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec!["Ann", "Dee"]);
}
