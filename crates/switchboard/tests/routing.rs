//! Trunks and routing through the real server: SIP gateways (passwords sealed at rest, never in
//! a reply), outbound routes (matching, positions, move) and routing schemas; permissions and
//! domain scoping. Runs on SQLite, or on PostgreSQL when SWITCHBOARD_TEST_PG is set.

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Stdio;
use switchboard_store::{SecretKey, Store};

async fn call(method: Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("X-Webitel-Access", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The admin's REST calls against one server.
struct Api<'a> {
    s: &'a Server,
    token: String,
}

impl Api<'_> {
    async fn get(&self, path: &str) -> (u16, Value) {
        call(Method::GET, &self.url(path), &self.token, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::POST, &self.url(path), &self.token, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::PUT, &self.url(path), &self.token, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        call(Method::PATCH, &self.url(path), &self.token, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        call(Method::DELETE, &self.url(path), &self.token, None).await
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.s.api())
    }
    /// Creates and answers a JSON object, asserting 200.
    async fn create(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.post(path, body).await;
        assert_eq!(st, 200, "POST {path}: {v}");
        v
    }
}

fn admin(s: &Server) -> Api<'_> {
    Api {
        s,
        token: s.token.clone(),
    }
}

fn id(v: &Value) -> i64 {
    v["id"]
        .as_str()
        .expect("string id")
        .parse()
        .expect("int id")
}

/// The database the server uses: its PostgreSQL URL, or the SQLite file in its data folder.
fn database_url(s: &Server) -> String {
    s.command()
        .get_envs()
        .find(|(k, _)| *k == "SWITCHBOARD_DATABASE_URL")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        .unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                s.data.path().join("switchboard.db").display()
            )
        })
}

/// A second handle on the server's store, with the key from its data folder, as the
/// telephony runtime has.
async fn runtime_store(s: &Server) -> Store {
    let key = SecretKey::load_or_create(&s.data.path().join("secret.key")).expect("key");
    Store::connect(&database_url(s))
        .await
        .expect("store")
        .with_secret_key(key)
}

/// The sealed password column of a gateway, read with plain SQL.
async fn raw_password_column(s: &Server, gateway_id: i64) -> String {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&database_url(s))
        .await
        .expect("pool");
    let row = sqlx::query("SELECT password_sealed FROM sip_gateways WHERE id = $1")
        .bind(gateway_id)
        .fetch_one(&pool)
        .await
        .expect("gateway row");
    let v: String = row.try_get("password_sealed").expect("column");
    pool.close().await;
    v
}

/// A user holding only the built-in `user` role, and a token of theirs.
async fn plain_user_token(s: &Server) -> String {
    let api = admin(s);
    let (_, roles) = api.get("/roles?size=100").await;
    let role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "user")
        .expect("built-in user role")
        .clone();
    let user = api
        .create(
            "/users",
            json!({"username": "plain", "name": "Plain", "password": "Secret-123",
                   "roles": [{"id": role["id"]}], "license": [{"prod": "CALL_CENTER"}]}),
        )
        .await;
    let uid = user["id"].as_str().unwrap();
    let tok = api.create(&format!("/users/{uid}/tokens"), json!({})).await;
    tok["token"].as_str().expect("token").to_string()
}

async fn new_schema(api: &Api<'_>, name: &str) -> Value {
    api.create(
        "/routing/schema",
        json!({"name": name, "type": "voice", "schema": [{"answer": ""}, {"hangup": "200"}]}),
    )
    .await
}

const PASSWORD: &str = "Pr0vider-Pass_1.x~";

fn register_gateway(schema_id: &str) -> Value {
    json!({
        "name": "provider", "description": "upstream", "register": true,
        "account": "sip:1001@sip.provider.example", "username": "1001",
        "password": PASSWORD, "proxy": "sip:203.0.113.10:5060", "expires": 300,
        "registrar": "sip:sip.provider.example", "schema": {"id": schema_id},
        "usage": "outbound", "enable": true
    })
}

fn assert_no_password(v: &Value) {
    let text = v.to_string();
    assert!(
        !text.contains(PASSWORD),
        "a reply carries the password: {text}"
    );
    assert!(v.get("password").is_none(), "{v}");
}

#[tokio::test]
async fn gateways_round_trip_and_the_password_is_sealed_never_returned_and_survives_restart() {
    let mut s = Server::start();
    let api = admin(&s);
    let schema = new_schema(&api, "inbound").await;
    let sid = schema["id"].as_str().unwrap().to_string();

    // Register mode: create, read, list, replace and patch; no reply carries the password.
    let gw = api.create("/sip/gateways", register_gateway(&sid)).await;
    assert_no_password(&gw);
    let gid = id(&gw);
    assert_eq!(gw["name"], "provider");
    assert_eq!(gw["register"], true);
    assert_eq!(gw["expires"], 300);
    assert_eq!(gw["r_state"], 0);
    assert_eq!(gw["schema"]["id"], sid.as_str());
    assert_eq!(gw["schema"]["name"], "inbound");
    assert_eq!(gw["created_by"]["name"], "Administrator");
    assert!(gw["created_at"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    let (st, read) = api.get(&format!("/sip/gateways/{gid}")).await;
    assert_eq!(st, 200, "{read}");
    assert_no_password(&read);
    // The runtime may have started registering it (r_state) in between.
    let settled = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().map(|o| o.remove("r_state"));
        v
    };
    assert_eq!(settled(&read), settled(&gw));
    let (st, list) = api.get("/sip/gateways?q=prov&page=1&size=10").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (list["page"].clone(), list["next"].clone()),
        (json!(1), json!(false))
    );
    assert_no_password(&list);
    let (_, by_id) = api
        .get(&format!("/sip/gateways?id={gid}&fields=name"))
        .await;
    assert_eq!(
        by_id["items"][0],
        json!({"id": gid.to_string(), "name": "provider"})
    );

    // PUT without a password keeps the stored one; absent fields take their defaults.
    let mut body = register_gateway(&sid);
    body.as_object_mut().unwrap().remove("password");
    body.as_object_mut().unwrap().remove("expires");
    body["description"] = json!("replaced");
    body["r_state"] = json!(3); // read only: ignored
    let (st, put) = api.put(&format!("/sip/gateways/{gid}"), body).await;
    assert_eq!(st, 200, "{put}");
    assert_no_password(&put);
    assert_eq!(put["description"], "replaced");
    assert_eq!(put["expires"], 600, "the default lifetime");
    assert_eq!(put["r_state"], 0);
    let (st, patched) = api
        .patch(&format!("/sip/gateways/{gid}"), json!({"enable": false}))
        .await;
    assert_eq!(st, 200, "{patched}");
    assert_no_password(&patched);
    assert_eq!(patched["enable"], false);
    assert_eq!(patched["description"], "replaced", "PATCH keeps the rest");

    // Stored sealed: the raw column is not the plaintext, yet the runtime opens it.
    let sealed = raw_password_column(&s, gid).await;
    assert!(!sealed.is_empty() && !sealed.contains(PASSWORD), "{sealed}");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    let key_path = s.data.path().join("secret.key");
    let key_bytes = std::fs::read(&key_path).expect("secret.key in the data folder");
    assert_eq!(key_bytes.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read the key");
    }
    if !database_url(&s).starts_with("postgres") {
        // Nowhere in the database files either.
        for f in ["switchboard.db", "switchboard.db-wal"] {
            if let Ok(bytes) = std::fs::read(s.data.path().join(f)) {
                let hit = bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes());
                assert!(!hit, "{f} holds the plaintext password");
            }
        }
    }
    let store = runtime_store(&s).await;
    let creds = store
        .gateway_credentials(1, gid)
        .await
        .expect("credentials");
    assert_eq!(creds.password, PASSWORD);
    assert_eq!(creds.username, "1001");
    assert_eq!(creds.account, "sip:1001@sip.provider.example");
    assert_eq!(creds.proxy, "sip:203.0.113.10:5060");
    assert!(!format!("{creds:?}").contains(PASSWORD), "Debug hides it");
    assert!(
        store.registering_gateways().await.unwrap().is_empty(),
        "a disabled gateway does not register"
    );
    let (st, _) = api
        .patch(&format!("/sip/gateways/{gid}"), json!({"enable": true}))
        .await;
    assert_eq!(st, 200);
    let work = store.registering_gateways().await.unwrap();
    assert_eq!(work.len(), 1);
    assert_eq!(
        (work[0].gateway_id, work[0].password.as_str()),
        (gid, PASSWORD)
    );
    assert_eq!(work[0].domain_name, "my-company.lo");
    store.set_gateway_state(1, gid, 3).await.unwrap();
    let (_, now) = api.get(&format!("/sip/gateways/{gid}")).await;
    assert_eq!(now["r_state"], 3, "the registration client's state shows");
    store.close().await;

    // A restart over the same data folder keeps the key and still opens the password.
    s.restart();
    assert_eq!(
        std::fs::read(&key_path).unwrap(),
        key_bytes,
        "the key is kept"
    );
    let api = admin(&s);
    let (st, again) = api.get(&format!("/sip/gateways/{gid}")).await;
    assert_eq!(st, 200, "{again}");
    assert_no_password(&again);
    let store = runtime_store(&s).await;
    assert_eq!(
        store.gateway_credentials(1, gid).await.unwrap().password,
        PASSWORD
    );
    // A new password replaces the old one.
    let (st, _) = api
        .patch(
            &format!("/sip/gateways/{gid}"),
            json!({"password": "Next-Pass-2"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        store.gateway_credentials(1, gid).await.unwrap().password,
        "Next-Pass-2"
    );
    // With another key the sealed value does not open.
    let stranger = Store::connect(&database_url(&s))
        .await
        .unwrap()
        .with_secret_key(SecretKey::generate());
    assert!(stranger.gateway_credentials(1, gid).await.is_err());
    stranger.close().await;

    // Trunk mode with an access list, found by the source of a packet.
    let trunk = api
        .create(
            "/sip/gateways",
            json!({"name": "trunk", "register": false, "host": "trunk.example.com",
                   "proxy": "sip:198.51.100.20", "schema": {"id": sid},
                   "ipacl": [{"ip": "198.51.100.0/24", "proto": "udp", "port": null},
                             {"ip": "192.0.2.7", "proto": "any", "port": 5080}]}),
        )
        .await;
    let tid = id(&trunk);
    assert_eq!(
        trunk["ipacl"],
        json!([{"ip": "198.51.100.0/24", "proto": "udp", "port": null},
               {"ip": "192.0.2.7", "proto": "any", "port": 5080}])
    );
    let src = |ip: &str| ip.parse::<std::net::IpAddr>().unwrap();
    let hit = store
        .trunk_for_source(src("198.51.100.99"), 5060, "udp", Some("trunk.example.com"))
        .await
        .unwrap()
        .expect("admitted");
    assert_eq!((hit.gateway.id, hit.domain_id), (tid, 1));
    assert_eq!(hit.domain_name, "my-company.lo");
    let miss = |ip: &'static str, port: u16, proto: &'static str| {
        let store = &store;
        async move {
            store
                .trunk_for_source(src(ip), port, proto, None)
                .await
                .unwrap()
        }
    };
    assert!(
        miss("198.51.100.99", 5060, "tcp").await.is_none(),
        "udp only"
    );
    assert!(
        miss("198.51.101.1", 5060, "udp").await.is_none(),
        "outside the block"
    );
    assert!(
        miss("192.0.2.7", 5060, "tcp").await.is_none(),
        "port 5080 only"
    );
    assert!(miss("192.0.2.7", 5080, "tcp").await.is_some());
    let (st, _) = api
        .patch(&format!("/sip/gateways/{tid}"), json!({"enable": false}))
        .await;
    assert_eq!(st, 200);
    assert!(
        miss("192.0.2.7", 5080, "tcp").await.is_none(),
        "a disabled trunk admits nothing"
    );

    // A schema in use cannot go; gateways delete; then the schema can.
    let (st, e) = api.delete(&format!("/routing/schema/{sid}")).await;
    assert_eq!(
        (st, e["id"].as_str()),
        (409, Some("app.schema.in_use")),
        "{e}"
    );
    for g in [gid, tid] {
        let (st, gone) = api.delete(&format!("/sip/gateways/{g}")).await;
        assert_eq!(st, 200, "{gone}");
        assert_no_password(&gone);
        let (st, e) = api.get(&format!("/sip/gateways/{g}")).await;
        assert_eq!((st, e["id"].as_str()), (404, Some("app.gateway.not_found")));
    }
    let (st, _) = api.delete(&format!("/routing/schema/{sid}")).await;
    assert_eq!(st, 200);
    store.close().await;
}

#[tokio::test]
async fn invalid_gateways_are_refused_with_their_reason_and_change_nothing() {
    let s = Server::start();
    let api = admin(&s);
    let schema = new_schema(&api, "in").await;
    let sid = schema["id"].as_str().unwrap().to_string();
    let base = register_gateway(&sid);
    let with = |changes: Value| {
        let mut b = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let trunk = json!({"name": "t", "register": false, "host": "10.1.1.1", "proxy": "10.1.1.1",
                       "ipacl": [{"ip": "10.1.1.0/24", "proto": "any"}]});
    let with_trunk = |changes: Value| {
        let mut b = trunk.clone();
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (with(json!({"name": ""})), "app.gateway.valid.name"),
        (
            with(json!({"password": null})),
            "sip.gateway.password.invalid",
        ),
        (
            with(json!({"password": "has space"})),
            "sip.gateway.password.invalid",
        ),
        (
            with(json!({"password": "quote'"})),
            "sip.gateway.password.invalid",
        ),
        (with(json!({"account": ""})), "app.gateway.valid.account"),
        (
            with(json!({"account": "a b@host"})),
            "app.gateway.valid.account",
        ),
        (
            with(json!({"account": "user@host:99999"})),
            "app.gateway.valid.account",
        ),
        (with(json!({"proxy": null})), "app.gateway.valid.proxy"),
        (
            with(json!({"proxy": "sip:bad host"})),
            "app.gateway.valid.proxy",
        ),
        (
            with(json!({"proxy": "300.1.1.1"})),
            "app.gateway.valid.proxy",
        ),
        (
            with(json!({"proxy": "sip:10.0.0.1;transport=sctp"})),
            "app.gateway.valid.proxy",
        ),
        (with(json!({"expires": 31})), "app.gateway.valid.expires"),
        (with(json!({"expires": 3601})), "app.gateway.valid.expires"),
        (
            with(json!({"schema": {"id": "999999"}})),
            "app.gateway.valid.schema",
        ),
        (with_trunk(json!({"host": ""})), "app.gateway.valid.host"),
        (with_trunk(json!({"proxy": ""})), "app.gateway.valid.proxy"),
        (
            with_trunk(json!({"ipacl": [{"ip": "10.0.0.0/33"}]})),
            "app.gateway.valid.ipacl",
        ),
        (
            with_trunk(json!({"ipacl": [{"ip": "example.com"}]})),
            "app.gateway.valid.ipacl",
        ),
        (
            with_trunk(json!({"ipacl": [{"ip": "10.0.0.1", "proto": "tls"}]})),
            "app.gateway.valid.ipacl",
        ),
        (
            with_trunk(json!({"ipacl": [{"ip": "10.0.0.1", "port": 70000}]})),
            "app.gateway.valid.ipacl",
        ),
    ];
    for (body, want) in &cases {
        let (st, e) = api.post("/sip/gateways", body.clone()).await;
        assert_eq!(st, 400, "{body} → {e}");
        assert_eq!(e["id"], *want, "{body} → {e}");
        assert_eq!(e["code"], 400);
        assert_eq!(e["status"], "Bad Request");
        assert!(!e["detail"].as_str().unwrap_or("").is_empty(), "{e}");
    }
    let (_, list) = api.get("/sip/gateways").await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    // Bad updates leave the stored gateway as it was.
    let gw = api.create("/sip/gateways", base.clone()).await;
    let gid = id(&gw);
    let url = format!("/sip/gateways/{gid}");
    for bad in [
        json!({"expires": 5}),
        json!({"password": "no spaces please"}),
        json!({"register": false}), // trunk mode needs a host
        json!({"name": "  "}),
    ] {
        let (st, e) = api.patch(&url, bad.clone()).await;
        assert_eq!(st, 400, "{bad} → {e}");
    }
    let (st, e) = api.put(&url, json!({"name": "only a name"})).await;
    assert_eq!(
        (st, e["id"].as_str()),
        (400, Some("app.gateway.valid.proxy")),
        "{e}"
    );
    // `r_state` is the live registration, which the runtime may start meanwhile.
    let stored = |mut g: Value| {
        if let Some(o) = g.as_object_mut() {
            o.remove("r_state");
        }
        g
    };
    let (_, after) = api.get(&url).await;
    assert_eq!(stored(after), stored(gw.clone()), "unchanged");
    let store = runtime_store(&s).await;
    assert_eq!(
        store.gateway_credentials(1, gid).await.unwrap().password,
        PASSWORD
    );
    store.close().await;
    // Names are unique in a domain.
    let (st, e) = api.post("/sip/gateways", base).await;
    assert_eq!(
        (st, e["id"].as_str()),
        (409, Some("app.name.conflict")),
        "{e}"
    );
    // Malformed ids and bodies.
    let (st, e) = api.get("/sip/gateways/abc").await;
    assert_eq!((st, e["id"].as_str()), (400, Some("app.gateway.valid.id")));
    let (st, _) = api.get("/sip/gateways/987654").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn outbound_routes_match_unanchored_highest_position_first_and_move_by_swapping() {
    let s = Server::start();
    let api = admin(&s);
    let local = new_schema(&api, "local").await;
    let intl = new_schema(&api, "international").await;
    let (lid, iid) = (id(&local), id(&intl));

    // Positions grow with each new route: the newest sits on top.
    let any_digits = api
        .create(
            "/routing/outbound/calls",
            json!({"name": "any", "pattern": r"\d+", "schema": {"id": lid.to_string()},
                   "description": "catch-all"}),
        )
        .await;
    let international = api
        .create(
            "/routing/outbound/calls",
            json!({"name": "intl", "pattern": "^00", "schema": {"id": iid}}),
        )
        .await;
    let off = api
        .create(
            "/routing/outbound/calls",
            json!({"name": "off", "pattern": "^0049", "schema": {"id": lid}, "disabled": true}),
        )
        .await;
    assert_eq!(
        any_digits["schema"],
        json!({"id": lid.to_string(), "name": "local"})
    );
    assert_eq!(any_digits["disabled"], false);
    assert_eq!(off["disabled"], true);
    let (any_id, intl_id, off_id) = (id(&any_digits), id(&international), id(&off));

    let (st, list) = api.get("/routing/outbound/calls").await;
    assert_eq!(st, 200, "{list}");
    let order = |list: &Value| -> Vec<(String, i64)> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["position"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        order(&list),
        [
            ("off".to_string(), 3),
            ("intl".into(), 2),
            ("any".into(), 1)
        ]
    );

    let store = runtime_store(&s).await;
    let matched = |dest: &'static str| {
        let store = &store;
        async move {
            store
                .match_outbound_route(1, dest)
                .await
                .unwrap()
                .map(|r| (r.id, r.schema.0))
        }
    };
    // "off" would match first but is disabled; "intl" is above "any".
    assert_eq!(matched("004930123456").await, Some((intl_id, iid)));
    // Unanchored: `\d+` finds digits anywhere.
    assert_eq!(matched("call 2021 now").await, Some((any_id, lid)));
    assert_eq!(matched("no digits").await, None);
    // Only the first 50 characters count.
    let far = "x".repeat(50) + "123";
    assert_eq!(
        store
            .match_outbound_route(1, &far)
            .await
            .unwrap()
            .map(|r| r.id),
        None
    );
    let near = "x".repeat(49) + "123";
    assert_eq!(
        store
            .match_outbound_route(1, &near)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(any_id)
    );

    // Move swaps the two positions; the catch-all now wins over "intl".
    let (st, moved) = api
        .patch(
            &format!("/routing/outbound/calls/{any_id}/to/{intl_id}"),
            json!({}),
        )
        .await;
    assert_eq!((st, moved), (200, json!({"success": true})));
    let (_, list) = api.get("/routing/outbound/calls").await;
    assert_eq!(
        order(&list),
        [
            ("off".to_string(), 3),
            ("any".into(), 2),
            ("intl".into(), 1)
        ]
    );
    assert_eq!(matched("004930123456").await, Some((any_id, lid)));
    let (st, e) = api
        .patch(
            &format!("/routing/outbound/calls/{any_id}/to/424242"),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, e["id"].as_str()),
        (404, Some("app.routing.not_found")),
        "{e}"
    );

    // Enabling "off" puts it first for its numbers; PATCH keeps the other fields.
    let (st, on) = api
        .patch(
            &format!("/routing/outbound/calls/{off_id}"),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(st, 200, "{on}");
    assert_eq!(on["pattern"], "^0049");
    assert_eq!(matched("004930123456").await, Some((off_id, lid)));
    // PUT replaces: the description goes, the position stays.
    let (st, put) = api
        .put(
            &format!("/routing/outbound/calls/{any_id}"),
            json!({"name": "any2", "pattern": "[0-9]", "schema": {"id": iid}}),
        )
        .await;
    assert_eq!(st, 200, "{put}");
    assert_eq!(
        (put["description"].as_str(), put["schema"]["id"].as_str()),
        (Some(""), Some(iid.to_string().as_str()))
    );
    let (_, read) = api.get(&format!("/routing/outbound/calls/{any_id}")).await;
    assert_eq!(read["name"], "any2");
    let (_, list) = api.get("/routing/outbound/calls?q=any").await;
    assert_eq!(order(&list), [("any2".to_string(), 2)]);
    let (_, by_schema) = api
        .get(&format!("/routing/outbound/calls?schema_id={lid}"))
        .await;
    assert_eq!(by_schema["items"].as_array().unwrap().len(), 1);

    // Invalid input is refused and changes nothing.
    let before = api.get("/routing/outbound/calls").await.1;
    for (body, want) in [
        (
            json!({"name": "bad", "pattern": "(", "schema": {"id": lid}}),
            "app.routing.valid.pattern",
        ),
        (
            json!({"name": "bad", "pattern": "", "schema": {"id": lid}}),
            "app.routing.valid.pattern",
        ),
        (
            json!({"name": "", "pattern": "1", "schema": {"id": lid}}),
            "app.routing.valid.name",
        ),
        (
            json!({"name": "bad", "pattern": "1"}),
            "app.routing.valid.schema",
        ),
        (
            json!({"name": "bad", "pattern": "1", "schema": {"id": 99999}}),
            "app.routing.valid.schema",
        ),
    ] {
        let (st, e) = api.post("/routing/outbound/calls", body.clone()).await;
        assert_eq!((st, e["id"].as_str()), (400, Some(want)), "{body} → {e}");
    }
    let (st, e) = api
        .patch(
            &format!("/routing/outbound/calls/{off_id}"),
            json!({"pattern": "[a-"}),
        )
        .await;
    assert_eq!(
        (st, e["id"].as_str()),
        (400, Some("app.routing.valid.pattern")),
        "{e}"
    );
    assert!(
        e["detail"].as_str().unwrap().contains("regular expression"),
        "{e}"
    );
    assert_eq!(api.get("/routing/outbound/calls").await.1, before);

    // Delete answers the route; it no longer matches.
    let (st, gone) = api
        .delete(&format!("/routing/outbound/calls/{off_id}"))
        .await;
    assert_eq!((st, gone["name"].as_str()), (200, Some("off")));
    assert_eq!(matched("004930123456").await, Some((any_id, iid)));
    let (st, _) = api.get(&format!("/routing/outbound/calls/{off_id}")).await;
    assert_eq!(st, 404);
    store.close().await;
}

#[tokio::test]
async fn routing_schemas_store_the_flow_and_search_by_name_type_and_tags() {
    let s = Server::start();
    let api = admin(&s);
    let flow = json!([{"answer": ""}, {"bridge": {"endpoints": [{"type": "gateway", "name": "provider"}]}}]);
    let a = api
        .create(
            "/routing/schema",
            json!({"name": "Outbound flow", "description": "to the provider", "type": "voice",
                   "schema": flow, "payload": {"nodes": [1, 2]}, "editor": true,
                   "tags": [{"name": "sales"}, {"name": "eu"}]}),
        )
        .await;
    let aid = id(&a);
    assert_eq!(a["schema"], flow);
    assert_eq!(a["payload"], json!({"nodes": [1, 2]}));
    assert_eq!(a["type"], "voice");
    assert_eq!(a["tags"], json!([{"name": "sales"}, {"name": "eu"}]));
    assert_eq!(a["editor"], true);
    let b = api
        .create(
            "/routing/schema",
            json!({"name": "chat bot", "type": "chat"}),
        )
        .await;
    assert_eq!(b["schema"], json!([]));
    let (st, read) = api.get(&format!("/routing/schema/{aid}")).await;
    assert_eq!((st, &read), (200, &a));

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&api.get("/routing/schema").await.1),
        ["Outbound flow", "chat bot"]
    );
    assert_eq!(
        names(&api.get("/routing/schema?q=outb").await.1),
        ["Outbound flow"]
    );
    assert_eq!(
        names(&api.get("/routing/schema?type=chat").await.1),
        ["chat bot"]
    );
    assert_eq!(
        names(&api.get("/routing/schema?tags=sales&tags=eu").await.1),
        ["Outbound flow"]
    );
    assert!(names(&api.get("/routing/schema?tags=sale").await.1).is_empty());
    assert_eq!(
        names(&api.get("/routing/schema?editor=true").await.1),
        ["Outbound flow"]
    );
    assert_eq!(
        names(&api.get("/routing/schema?sort=-name").await.1),
        ["chat bot", "Outbound flow"]
    );
    let (_, paged) = api.get("/routing/schema?size=1").await;
    assert_eq!(
        (paged["next"].clone(), paged["size"].clone()),
        (json!(true), json!(1))
    );

    // Tags in use, with their counts.
    let (st, tags) = api.get("/routing/schema/tags").await;
    assert_eq!(st, 200, "{tags}");
    assert_eq!(
        tags["items"],
        json!([{"name": "eu", "count": 1}, {"name": "sales", "count": 1}])
    );
    let (_, sal) = api.get("/routing/schema/tags?q=SAL").await;
    assert_eq!(sal["items"], json!([{"name": "sales", "count": 1}]));
    let (_, chat) = api.get("/routing/schema/tags?type=chat").await;
    assert_eq!(chat["items"], json!([]));

    // The runtime loads a flow by id.
    let store = runtime_store(&s).await;
    let row = store.get_schema(1, aid).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&row.flow).unwrap(), flow);
    store.close().await;

    // Replace and patch.
    let (st, put) = api
        .put(
            &format!("/routing/schema/{aid}"),
            json!({"name": "renamed", "schema": [{"hangup": ""}]}),
        )
        .await;
    assert_eq!(st, 200, "{put}");
    assert_eq!(
        (put["type"].as_str(), put["tags"].clone()),
        (Some("default"), json!([]))
    );
    let (st, patched) = api
        .patch(
            &format!("/routing/schema/{aid}"),
            json!({"description": "d", "type": "service"}),
        )
        .await;
    assert_eq!(st, 200, "{patched}");
    assert_eq!(
        patched["schema"],
        json!([{"hangup": ""}]),
        "PATCH keeps the flow"
    );
    assert_eq!(patched["type"], "service");

    // Invalid flows and types are refused and change nothing.
    for (body, want) in [
        (
            json!({"name": "x", "schema": {"answer": ""}}),
            "app.schema.valid.schema",
        ),
        (
            json!({"name": "x", "schema": [1, 2]}),
            "app.schema.valid.schema",
        ),
        (
            json!({"name": "x", "schema": "[]"}),
            "app.schema.valid.schema",
        ),
        (json!({"name": "x", "type": "fax"}), "app.schema.valid.type"),
        (json!({"name": ""}), "app.schema.valid.name"),
        (
            json!({"name": "x", "tags": [{"name": " "}]}),
            "app.schema.valid.tags",
        ),
    ] {
        let (st, e) = api.post("/routing/schema", body.clone()).await;
        assert_eq!((st, e["id"].as_str()), (400, Some(want)), "{body} → {e}");
        let (st, e) = api
            .patch(&format!("/routing/schema/{aid}"), body.clone())
            .await;
        assert_eq!(
            (st, e["id"].as_str()),
            (400, Some(want)),
            "PATCH {body} → {e}"
        );
    }
    let (st, e) = api.post("/routing/schema", json!({"name": 5})).await;
    assert_eq!(
        (st, e["id"].as_str()),
        (400, Some("api.request.bad_json")),
        "{e}"
    );
    assert_eq!(api.get(&format!("/routing/schema/{aid}")).await.1, patched);
    assert_eq!(names(&api.get("/routing/schema").await.1).len(), 2);

    let (st, gone) = api.delete(&format!("/routing/schema/{aid}")).await;
    assert_eq!((st, gone["name"].as_str()), (200, Some("renamed")));
    let (st, e) = api.get(&format!("/routing/schema/{aid}")).await;
    assert_eq!((st, e["id"].as_str()), (404, Some("app.schema.not_found")));
}

#[tokio::test]
async fn plain_users_are_refused_and_other_domains_see_none_of_it() {
    let s = Server::start();
    let api = admin(&s);
    let schema = new_schema(&api, "mine").await;
    let sid = schema["id"].as_str().unwrap().to_string();
    let gw = api.create("/sip/gateways", register_gateway(&sid)).await;
    let route = api
        .create(
            "/routing/outbound/calls",
            json!({"name": "r", "pattern": "^1", "schema": {"id": sid}}),
        )
        .await;
    let (gid, rid) = (id(&gw), id(&route));

    // A plain user: every read and write is 403 with Webitel's permission error.
    let user = Api {
        s: &s,
        token: plain_user_token(&s).await,
    };
    let paths = [
        "/sip/gateways".to_string(),
        "/routing/outbound/calls".to_string(),
        "/routing/schema".to_string(),
    ];
    let items = [
        format!("/sip/gateways/{gid}"),
        format!("/routing/outbound/calls/{rid}"),
        format!("/routing/schema/{sid}"),
    ];
    for p in &paths {
        let (st, e) = user.get(p).await;
        assert_eq!(
            (st, e["id"].as_str()),
            (403, Some("api.context.permissions.app_error")),
            "{p}: {e}"
        );
        let (st, _) = user.post(p, json!({"name": "x"})).await;
        assert_eq!(st, 403, "POST {p}");
    }
    for p in &items {
        assert_eq!(user.get(p).await.0, 403, "GET {p}");
        assert_eq!(user.put(p, json!({"name": "x"})).await.0, 403, "PUT {p}");
        assert_eq!(
            user.patch(p, json!({"name": "x"})).await.0,
            403,
            "PATCH {p}"
        );
        assert_eq!(user.delete(p).await.0, 403, "DELETE {p}");
    }
    let (st, _) = user
        .patch(
            &format!("/routing/outbound/calls/{rid}/to/{rid}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, e) = call(Method::GET, &admin(&s).url("/sip/gateways"), "", None).await;
    assert_eq!(st, 401, "{e}");

    // Another domain's administrator sees nothing of this domain and cannot touch it.
    let out = s
        .command()
        .args(["domain", "add", "second.lo"])
        .stdin(Stdio::null())
        .output()
        .expect("domain add");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let other = Api {
        s: &s,
        token: common::stdout(&out).trim().to_string(),
    };
    for p in &paths {
        let (st, list) = other.get(p).await;
        assert_eq!((st, list["items"].clone()), (200, json!([])), "{p}: {list}");
    }
    for p in &items {
        assert_eq!(other.get(p).await.0, 404, "GET {p}");
        assert_eq!(
            other.patch(p, json!({"description": "x"})).await.0,
            404,
            "PATCH {p}"
        );
        assert_eq!(other.delete(p).await.0, 404, "DELETE {p}");
    }
    // Nor can it point its own objects at this domain's schema.
    let (st, e) = other
        .post(
            "/routing/outbound/calls",
            json!({"name": "steal", "pattern": "1", "schema": {"id": sid}}),
        )
        .await;
    assert_eq!(
        (st, e["id"].as_str()),
        (400, Some("app.routing.valid.schema")),
        "{e}"
    );
    let theirs = new_schema(&other, "theirs").await;
    let their_route = other
        .create(
            "/routing/outbound/calls",
            json!({"name": "r", "pattern": "^1", "schema": {"id": theirs["id"]}}),
        )
        .await;
    assert_eq!(
        their_route["position"],
        Value::Null,
        "single reads carry no position"
    );
    let (st, _) = other
        .patch(
            &format!("/routing/outbound/calls/{}/to/{rid}", id(&their_route)),
            json!({}),
        )
        .await;
    assert_eq!(st, 404, "cannot swap with another domain's route");

    // Matching is per domain.
    let store = runtime_store(&s).await;
    let d2 = store
        .domain_by_name("second.lo")
        .await
        .unwrap()
        .expect("second domain")
        .id;
    assert_eq!(
        store
            .match_outbound_route(1, "123")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(rid)
    );
    assert_eq!(
        store
            .match_outbound_route(d2, "123")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(id(&their_route))
    );
    assert!(store.gateway_credentials(d2, gid).await.is_err());
    store.close().await;
    // Everything of the first domain is intact.
    // (`r_state` is the registration client's: it may have moved meanwhile.)
    let without_state = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("r_state");
        }
        v
    };
    assert_eq!(
        without_state(api.get(&format!("/sip/gateways/{gid}")).await.1),
        without_state(gw)
    );
    assert_eq!(
        api.get(&format!("/routing/outbound/calls/{rid}")).await.1,
        route
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_trunk_and_routing_endpoints() {
    let s = Server::start();
    let (st, doc) = call(Method::GET, &admin(&s).url("/openapi.json"), "", None).await;
    assert_eq!(st, 200);
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/sip/gateways", &["get", "post"][..]),
        ("/api/sip/gateways/{id}", &["get", "put", "patch", "delete"]),
        ("/api/routing/outbound/calls", &["get", "post"]),
        (
            "/api/routing/outbound/calls/{id}",
            &["get", "put", "patch", "delete"],
        ),
        (
            "/api/routing/outbound/calls/{from_id}/to/{to_id}",
            &["patch"],
        ),
        ("/api/routing/schema", &["get", "post"]),
        (
            "/api/routing/schema/{id}",
            &["get", "put", "patch", "delete"],
        ),
        ("/api/routing/schema/tags", &["get"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "{m} {path} documented"
            );
        }
    }
    let gateway = &doc["components"]["schemas"]["Gateway"]["properties"];
    assert!(
        gateway["ipacl"].is_object() && gateway["r_state"].is_object(),
        "{gateway}"
    );
}
