//! Dialer members through the real server: CRUD, bulk, reset and the cross-queue search in
//! Webitel's shapes, the dialer's queue payload keys, and bad input refused with a 400 that
//! writes nothing. SQLite, or PostgreSQL when SWITCHBOARD_TEST_PG is set.

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

struct Rest<'a>(&'a Server);

impl Rest<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .0
            .http()
            .request(method, format!("{}{path}", self.0.api()))
            .header("X-Webitel-Access", &self.0.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let code = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Asserts 200 and answers the body.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (code, v) = self.send(method.clone(), path, body).await;
        assert_eq!(code, 200, "{method} {path}: {v}");
        v
    }

    /// Asserts a 400 in Webitel's error shape; answers its detail.
    async fn bad(&self, method: Method, path: &str, body: Value) -> String {
        let (code, v) = self.send(method.clone(), path, Some(body)).await;
        assert_eq!(code, 400, "{method} {path}: {v}");
        assert_eq!(v["code"], 400, "{v}");
        assert!(v["id"].is_string() && v["status"].is_string(), "{v}");
        v["detail"].as_str().unwrap_or_default().to_string()
    }

    async fn members(&self, path: &str) -> Vec<Value> {
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
async fn members_of_a_dialer_queue_in_webitels_shapes() {
    let s = Server::start();
    let r = Rest(&s);
    let gw = r
        .ok(
            Method::POST,
            "/sip/gateways",
            Some(
                json!({"name": "Carrier", "register": false, "host": "carrier.test",
                        "proxy": "127.0.0.1:5999", "enable": true}),
            ),
        )
        .await;
    // The dialer's payload keys are checked; a gateway must be the domain's.
    for payload in [
        json!({"gateway_id": 999999}),
        json!({"max_attempts": -1}),
        json!({"wait_between_retries": "soon"}),
        json!({"max_calls": -5}),
        json!({"retry_abandoned": "yes"}),
    ] {
        r.bad(
            Method::POST,
            "/call_center/queues",
            json!({"name": "Bad", "type": 4, "payload": payload}),
        )
        .await;
    }
    let queue = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Renewals", "type": 4, "payload": {
                "gateway_id": id(&gw), "max_attempts": 3, "wait_between_retries": 60,
                "originate_timeout": 20, "max_calls": 5, "retry_abandoned": false}})),
        )
        .await;
    let qid = id(&queue);
    let other = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Winback", "type": 5})),
        )
        .await;
    let oid = id(&other);
    let inbound = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Hotline", "type": 1})),
        )
        .await;
    let base = format!("/call_center/queues/{qid}/members");

    let ann = r
        .ok(
            Method::POST,
            &base,
            Some(json!({"name": "Ann", "priority": 10,
                "timezone": {"name": "America/New_York"},
                "variables": {"plan": "gold"},
                "expire_at": "4102444800000",
                "communications": [{"destination": "+15550100", "type": {"id": "1", "name": "Phone"},
                                    "priority": 2, "display": "+15559999"},
                                   {"destination": "+15550101"}]})),
        )
        .await;
    let ann_id = id(&ann);
    assert_eq!(ann["queue"], json!({"id": qid, "name": "Renewals"}));
    assert_eq!(ann["priority"], 10);
    assert_eq!(ann["timezone"], json!({"name": "America/New_York"}));
    assert_eq!(ann["variables"], json!({"plan": "gold"}));
    assert_eq!(ann["expire_at"], "4102444800000");
    assert_eq!(ann["attempts"], 0);
    assert!(ann.get("stop_cause").is_none(), "{ann}");
    assert_eq!(ann["communications"][0]["destination"], "+15550100");
    assert_eq!(
        ann["communications"][0]["type"],
        json!({"id": "1", "name": "Phone"})
    );
    assert_eq!(ann["communications"][0]["display"], "+15559999");
    assert_eq!(ann["communications"][1]["destination"], "+15550101");
    assert!(ann["created_at"]
        .as_str()
        .is_some_and(|t| t.parse::<i64>().is_ok()));

    // Bad input: 400, nothing written.
    for body in [
        json!({"name": "No numbers"}),
        json!({"name": "Empty", "communications": [{"destination": "  "}]}),
        json!({"name": "Spaces", "communications": [{"destination": "555 0100"}]}),
        json!({"name": "Zone", "timezone": {"name": "Mars/Olympus_Mons"},
               "communications": [{"destination": "1"}]}),
        json!({"name": "Expiry", "expire_at": "tomorrow", "communications": [{"destination": "1"}]}),
        json!({"name": "Agent", "agent": {"id": "abc"}, "communications": [{"destination": "1"}]}),
        json!({"name": "Agent", "agent": {"id": "424242"}, "communications": [{"destination": "1"}]}),
    ] {
        let detail = r.bad(Method::POST, &base, body.clone()).await;
        assert!(!detail.is_empty(), "{body}");
    }
    r.bad(
        Method::POST,
        &format!("/call_center/queues/{}/members", id(&inbound)),
        json!({"communications": [{"destination": "1"}]}),
    )
    .await;
    let (code, _) = r
        .send(
            Method::POST,
            "/call_center/queues/abc/members",
            Some(json!({"communications": [{"destination": "1"}]})),
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(r.members(&base).await.len(), 1, "only Ann");

    // Bulk: ids in order; one bad item refuses them all, naming it.
    let detail = r
        .bad(
            Method::POST,
            &format!("{base}/bulk"),
            json!({"items": [{"name": "B", "communications": [{"destination": "+15550200"}]},
                             {"name": "C", "communications": [{"destination": ""}]}]}),
        )
        .await;
    assert!(detail.contains("items[1]"), "{detail}");
    assert_eq!(
        r.members(&base).await.len(),
        1,
        "nothing of the refused bulk"
    );
    let ids = r
        .ok(
            Method::POST,
            &format!("{base}/bulk"),
            Some(json!({"file_name": "leads.csv", "items": [
                {"name": "Bob", "communications": [{"destination": "+15550200"}]},
                {"name": "Cy", "priority": "20", "timezone": {"name": "Europe/Kyiv"},
                 "communications": [{"destination": "+380440000"}]}]})),
        )
        .await;
    let ids: Vec<String> = ids["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("string id").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    r.ok(
        Method::POST,
        &format!("/call_center/queues/{oid}/members"),
        Some(json!({"name": "Dee", "communications": [{"destination": "+15550300"}]})),
    )
    .await;

    // Lists: highest priority first, default fields, filters, across queues.
    let list = r.members(&base).await;
    let names: Vec<&str> = list.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Cy", "Ann", "Bob"]);
    assert!(list[0].get("communications").is_some() && list[0].get("queue").is_some());
    let by_number = r.members(&format!("{base}?destination=%2B15550101")).await;
    assert_eq!(by_number.len(), 1);
    assert_eq!(by_number[0]["name"], "Ann");
    let fields = r.members(&format!("{base}?fields=name&size=1")).await;
    assert_eq!(fields.len(), 1);
    let mut keys: Vec<&String> = fields[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "name"]);
    assert_eq!(r.members("/call_center/members").await.len(), 4);
    assert_eq!(
        r.members(&format!("/call_center/members?queue_id={oid}"))
            .await
            .len(),
        1
    );
    assert_eq!(r.members("/call_center/members?q=cy").await.len(), 1);

    // Read, patch (merge), put (replace), stop and start over.
    let one = format!("{base}/{ann_id}");
    assert_eq!(r.ok(Method::GET, &one, None).await["name"], "Ann");
    let (code, _) = r
        .send(
            Method::GET,
            &format!("/call_center/queues/{oid}/members/{ann_id}"),
            None,
        )
        .await;
    assert_eq!(code, 404, "a member is read through its own queue");
    let patched = r
        .ok(
            Method::PATCH,
            &one,
            Some(json!({"priority": 1, "stop_cause": "success"})),
        )
        .await;
    assert_eq!(patched["priority"], 1);
    assert_eq!(patched["name"], "Ann");
    assert_eq!(patched["stop_cause"], "success");
    assert_eq!(patched["communications"][1]["destination"], "+15550101");
    r.bad(
        Method::PATCH,
        &one,
        json!({"timezone": {"name": "Nowhere/Land"}}),
    )
    .await;
    assert_eq!(
        r.ok(Method::GET, &one, None).await["timezone"]["name"],
        "America/New_York",
        "a refused patch changes nothing"
    );
    let stopped = r.members(&format!("{base}?stop_cause=success")).await;
    assert_eq!(stopped.len(), 1);
    let reset = r
        .ok(Method::PATCH, &format!("{base}/reset"), Some(json!({})))
        .await;
    assert_eq!(reset["count"], "1");
    let again = r.ok(Method::GET, &one, None).await;
    assert!(again.get("stop_cause").is_none(), "{again}");
    assert_eq!(again["attempts"], 0);
    r.bad(
        Method::PATCH,
        &format!("{base}/reset"),
        json!({"ids": ["x"]}),
    )
    .await;
    let put = r
        .ok(
            Method::PUT,
            &one,
            Some(json!({"name": "Ann B", "communications": [{"destination": "+15550111"}]})),
        )
        .await;
    assert_eq!(put["name"], "Ann B");
    assert_eq!(put["priority"], 0, "PUT replaces");
    assert!(put.get("timezone").is_none(), "{put}");
    assert_eq!(put["communications"].as_array().unwrap().len(), 1);

    // Delete.
    let gone = r.ok(Method::DELETE, &one, None).await;
    assert_eq!(gone["name"], "Ann B");
    let (code, body) = r.send(Method::GET, &one, None).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(r.members(&base).await.len(), 2);

    // Deleting the queue takes its members along.
    r.ok(Method::DELETE, &format!("/call_center/queues/{oid}"), None)
        .await;
    assert_eq!(r.members("/call_center/members").await.len(), 2);
}

fn import(s: &Server, queue: &str, file: &std::path::Path) -> (bool, String, String) {
    let out = std::process::Command::new(common::bin())
        .args(["members", "import", "--api", &s.api(), "--token", &s.token])
        .args(["--queue", queue, "--batch", "2"])
        .arg(file)
        .env_remove("SWITCHBOARD_API")
        .env_remove("SWITCHBOARD_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run switchboard members import");
    (
        out.status.success(),
        common::stdout(&out),
        common::stderr(&out),
    )
}

#[tokio::test]
async fn members_import_reports_bad_rows_by_line_and_is_safe_to_rerun() {
    let s = Server::start();
    let r = Rest(&s);
    let queue = r
        .ok(
            Method::POST,
            "/call_center/queues",
            Some(json!({"name": "Campaign", "type": 4})),
        )
        .await;
    let qid = id(&queue);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "name,destination,priority,timezone,expire_at,plan\n\
         Ann,+15550100,5,America/New_York,,gold\n\
         Bob,+15550200|+15550201,,,2030-01-01T00:00:00Z,\n\
         Nobody,,,,,\n\
         Cy,+15550300,,Nowhere/City,,\n\
         Dee,+15550400,,,,\n\
         Eve,+15550500,x,,,\n\
         Fay,+15550600,,Europe/Kyiv,,silver\n",
    )
    .unwrap();
    let (ok, out, err) = import(&s, &qid, &csv);
    assert!(!ok, "bad rows make the run fail: {out}{err}");
    assert!(out.contains("4 imported"), "{out}");
    assert!(out.contains("3 failed"), "{out}");
    for line in ["line 4:", "line 5:", "line 7:"] {
        assert!(err.contains(line), "{line} in {err}");
    }
    assert!(err.contains("unknown time zone"), "{err}");
    let base = format!("/call_center/queues/{qid}/members");
    let all = r.members(&format!("{base}?size=100")).await;
    assert_eq!(all.len(), 4);
    let ann = all.iter().find(|m| m["name"] == "Ann").expect("Ann");
    assert_eq!(ann["priority"], 5);
    assert_eq!(ann["timezone"]["name"], "America/New_York");
    assert_eq!(ann["variables"]["plan"], "gold");
    let bob = all.iter().find(|m| m["name"] == "Bob").expect("Bob");
    assert_eq!(bob["communications"].as_array().unwrap().len(), 2);
    assert_eq!(bob["expire_at"], "1893456000000");

    // Re-run after fixing the file: the imported rows are skipped, the fixed ones added.
    std::fs::write(
        &csv,
        "name,destination,priority,timezone,expire_at,plan\n\
         Ann,+15550100,5,America/New_York,,gold\n\
         Bob,+15550200|+15550201,,,2030-01-01T00:00:00Z,\n\
         Nobody,+15550000,,,,\n\
         Cy,+15550300,,America/Chicago,,\n\
         Dee,+15550400,,,,\n\
         Eve,+15550500,1,,,\n\
         Fay,+15550600,,Europe/Kyiv,,silver\n\
         Fay,+15550600,,Europe/Kyiv,,silver\n",
    )
    .unwrap();
    let (ok, out, err) = import(&s, &qid, &csv);
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 imported, 4 skipped"), "{out}");
    assert!(out.contains("1 repeated"), "{out}");
    assert_eq!(r.members(&format!("{base}?size=100")).await.len(), 7);
    let (ok, out, _) = import(&s, &qid, &csv);
    assert!(ok && out.contains("0 imported, 7 skipped"), "{out}");
    assert_eq!(r.members(&format!("{base}?size=100")).await.len(), 7);

    // A queue that does not exist: a clear error, nothing sent.
    let (ok, _, err) = import(&s, "999999", &csv);
    assert!(!ok && err.contains("queue"), "{err}");
}
