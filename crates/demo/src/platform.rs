//! Everything the demo asks of the platform, through the public REST API only: the settings
//! check and the guide's flow (device → user → user token) and its undoing.

use crate::{DemoError, NewUser, PhoneKind};
use axum::http::StatusCode;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use serde_json::{json, Value};
use switchboard_client::{Client, Error as ClientError, Method, Search};
use switchboard_model::{
    Device, LicenseUser, ListResponse, ObjectId, Registration, RoutingOutboundCall, RoutingSchema,
    User,
};

/// The four settings of the integration guide, plus whether browsers use a STUN server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// e.g. `https://cloud.webitel.com/api/`
    pub rest_endpoint: String,
    /// e.g. `wss://cloud.webitel.com/ws/`
    pub ws_endpoint: String,
    pub integration_token: String,
    /// e.g. `my-company.lo`
    pub domain: String,
    /// Off by default: webitel-sdk's default STUN server is on the internet.
    pub use_stun: bool,
}

/// What a successful provisioning leaves: exactly what the guide says to keep (and the licence
/// used, for display).
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub user_id: String,
    pub device_id: String,
    /// The device's SIP digest user name.
    pub account: String,
    /// The device's password, kept only long enough to show it once (desk phones).
    pub device_password: String,
    pub token: String,
    pub license: String,
    /// The contact-center agent, when one was asked for.
    pub agent_id: Option<String>,
}

fn client(s: &Settings) -> Result<Client, DemoError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("switchboard-demo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(DemoError::internal)?;
    Client::with_http(http, &s.rest_endpoint, Some(s.integration_token.clone()))
        .map_err(|e| DemoError::bad_request(format!("REST endpoint: {e}")))
}

/// A platform error as a reply the admin can act on.
fn failed(what: &str, e: ClientError) -> DemoError {
    let status = match e.status() {
        Some(401) | Some(403) => StatusCode::FORBIDDEN,
        Some(404) => StatusCode::NOT_FOUND,
        Some(409) => StatusCode::CONFLICT,
        Some(400) | Some(422) => StatusCode::BAD_REQUEST,
        Some(501) => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::BAD_GATEWAY,
    };
    let detail = match &e {
        ClientError::Api(a) => format!("{} ({}): {}", a.id, a.code, a.detail),
        other => other.to_string(),
    };
    DemoError::new(status, format!("{what}: {detail}"))
}

/// Checks the settings with real calls: `GET /userinfo` (the token works and belongs to the
/// domain) and `GET /license` (it may read licences, which user creation needs).
pub async fn check(s: &Settings) -> Result<Value, DemoError> {
    if s.domain.is_empty() {
        return Err(DemoError::bad_request("the users' domain is required"));
    }
    let ws_ok = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|p| s.ws_endpoint.starts_with(p));
    if !ws_ok {
        return Err(DemoError::bad_request(
            "the WebSocket endpoint must be a ws:// or wss:// URL, e.g. wss://host/ws/",
        ));
    }
    let api = client(s)?;
    let me = api
        .userinfo()
        .await
        .map_err(|e| failed("the test call GET /userinfo failed", e))?;
    if !me.domain.eq_ignore_ascii_case(&s.domain) {
        return Err(DemoError::bad_request(format!(
            "the integration token belongs to domain {:?}, not {:?}",
            me.domain, s.domain
        )));
    }
    let lic = api
        .licenses()
        .await
        .map_err(|e| failed("the test call GET /license failed", e))?;
    Ok(json!({
        "name": me.name,
        "domain": me.domain,
        "licenses": lic.items.len(),
    }))
}

#[derive(Serialize)]
pub struct LicenseView {
    id: String,
    product: String,
    limit: i32,
    remain: i32,
}

pub async fn licenses(s: &Settings) -> Result<Vec<LicenseView>, DemoError> {
    let lic = client(s)?
        .licenses()
        .await
        .map_err(|e| failed("GET /license failed", e))?;
    Ok(lic
        .items
        .into_iter()
        .map(|l| LicenseView {
            id: l.id,
            product: l.product,
            limit: l.limit,
            remain: l.remain,
        })
        .collect())
}

fn secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

fn id_ref(id: &str) -> ObjectId {
    ObjectId {
        id: Some(id.to_string()),
        name: None,
    }
}

/// The platform user holding `extension`, if any (exact matches only).
async fn user_with_extension(api: &Client, extension: &str) -> Result<Option<User>, ClientError> {
    let page = api
        .search_users(
            &Search::new()
                .size(100)
                .q(extension)
                .filter("extension", extension),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .find(|u| u.extension.as_deref().map(str::trim) == Some(extension)))
}

/// The guide's flow. On any failure what was created is deleted again, so that a retry starts
/// from a clean platform.
pub async fn provision(s: &Settings, u: &NewUser) -> Result<Provisioned, DemoError> {
    let api = client(s)?;
    if let Some(other) = user_with_extension(&api, &u.extension)
        .await
        .map_err(|e| failed("searching users by extension", e))?
    {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!(
                "extension {} already belongs to platform user {} ({}); pick another extension",
                u.extension,
                other.id.unwrap_or_default(),
                other.name.unwrap_or_default()
            ),
        ));
    }
    let roles = api
        .roles(&Search::new().size(100))
        .await
        .map_err(|e| failed("listing roles", e))?
        .items;
    // An agent works queues: the platform's "agent" role when it has one.
    let named = |n: &str| roles.iter().find(|r| r.name.as_deref() == Some(n));
    let role = u
        .create_agent
        .then(|| named("agent"))
        .flatten()
        .or_else(|| named("user"))
        .or_else(|| roles.first())
        .and_then(|r| r.id.clone());
    let license = if u.license.is_empty() {
        licenses(s)
            .await?
            .into_iter()
            .find(|l| l.remain > 0)
            .map(|l| l.id)
            .ok_or_else(|| {
                DemoError::new(
                    StatusCode::CONFLICT,
                    "no licence has a free seat on the platform",
                )
            })?
    } else {
        u.license.clone()
    };

    // A random suffix: a re-created device never collides with a leftover account.
    let account = format!("{}-{}", u.extension, secret(6).to_lowercase());
    // A desk phone's password is typed into the phone: the administrator's, or a fresh one.
    // The web phone never needs it (webitel-sdk receives the HA1).
    let device_password = match u.phone {
        PhoneKind::Sip if !u.sip_password.is_empty() => u.sip_password.clone(),
        PhoneKind::Sip => secret(16),
        PhoneKind::Web => secret(20),
    };
    let kind = match u.phone {
        PhoneKind::Web => "web phone",
        PhoneKind::Sip => "desk phone",
    };
    let device = api
        .create_device(&Device {
            name: Some(format!("{kind} of {}", u.name)),
            account: Some(account.clone()),
            password: Some(device_password.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| failed("creating the device", e))?;
    let device_id = device
        .id
        .ok_or_else(|| DemoError::internal("the new device has no id"))?;

    let input = User {
        name: Some(u.name.clone()),
        email: Some(u.email.clone()).filter(|e| !e.is_empty()),
        username: Some(u.login.clone()),
        // The platform password is never used: the browser works with the user token.
        password: Some(secret(24)),
        extension: Some(u.extension.clone()),
        roles: Some(role.iter().map(|r| id_ref(r)).collect()),
        device: Some(id_ref(&device_id)),
        devices: Some(vec![id_ref(&device_id)]),
        license: Some(vec![LicenseUser {
            id: Some(license.clone()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let user_id = match api.create_user(&input).await {
        Ok(user) => user.id,
        Err(e) => {
            // When the reply was lost the user may exist all the same.
            let found = if e.outcome_unknown() {
                user_with_extension(&api, &u.extension).await.ok().flatten()
            } else {
                None
            };
            match found {
                Some(user)
                    if user.device.as_ref().and_then(|d| d.id.as_deref()) == Some(&device_id) =>
                {
                    user.id
                }
                _ => {
                    remove_device(&api, &device_id).await;
                    return Err(failed("creating the user", e));
                }
            }
        }
    };
    let Some(user_id) = user_id else {
        remove_device(&api, &device_id).await;
        return Err(DemoError::internal("the new user has no id"));
    };
    let token = match api.create_token(&user_id, Some("switchboard-demo")).await {
        Ok(t) => t.token,
        Err(e) => {
            deprovision(s, &user_id, &device_id, None).await.ok();
            return Err(failed("issuing the user token", e));
        }
    };
    let Some(token) = token else {
        deprovision(s, &user_id, &device_id, None).await.ok();
        return Err(DemoError::internal("the token reply holds no token"));
    };
    // The guide's optional step: the user's contact-center agent.
    let agent_id = if u.create_agent {
        match create_agent(&api, &user_id, &u.agent_team).await {
            Ok(id) => Some(id),
            Err(e) => {
                deprovision(s, &user_id, &device_id, None).await.ok();
                return Err(e);
            }
        }
    } else {
        None
    };
    Ok(Provisioned {
        user_id,
        device_id,
        account,
        device_password,
        token,
        license,
        agent_id,
    })
}

/// The id of a platform object in a reply: Webitel's int64 ids are strings, some servers
/// answer numbers.
fn reply_id(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `POST /call_center/agents {"user": {"id"}}` (plus the team when one is chosen).
async fn create_agent(api: &Client, user_id: &str, team: &str) -> Result<String, DemoError> {
    let mut body = json!({ "user": { "id": user_id } });
    if !team.trim().is_empty() {
        body["team"] = json!({ "id": team.trim() });
    }
    let agent = api
        .create_agent(&body)
        .await
        .map_err(|e| failed("creating the contact-center agent", e))?;
    reply_id(&agent).ok_or_else(|| DemoError::internal("the new agent has no id"))
}

async fn remove_device(api: &Client, id: &str) {
    if let Err(e) = api.delete_device(id).await {
        if !e.is_not_found() {
            tracing::warn!("demo: could not delete device {id} after a failure: {e}");
        }
    }
}

fn gone(r: Result<(), ClientError>) -> Result<(), ClientError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Deletes the agent (when there is one), revokes the user's tokens, deletes the user, then
/// the device. Things already gone count as deleted, so this can be repeated.
pub async fn deprovision(
    s: &Settings,
    user_id: &str,
    device_id: &str,
    agent_id: Option<&str>,
) -> Result<(), DemoError> {
    let api = client(s)?;
    if let Some(agent) = agent_id.filter(|a| !a.is_empty()) {
        gone(api.delete_agent(agent).await)
            .map_err(|e| failed("deleting the contact-center agent", e))?;
    }
    match api.tokens(user_id, &Search::new().size(100)).await {
        Ok(list) => {
            for t in list.items {
                if let Some(id) = t.id {
                    gone(api.revoke_token(user_id, &id).await.map(drop))
                        .map_err(|e| failed("revoking the user token", e))?;
                }
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(failed("listing the user's tokens", e)),
    }
    gone(api.delete_user(user_id).await.map(drop)).map_err(|e| failed("deleting the user", e))?;
    gone(api.delete_device(device_id).await.map(drop))
        .map_err(|e| failed("deleting the device", e))?;
    Ok(())
}

/// What the platform says of a device right now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DevicePresence {
    pub reged: bool,
    /// Its live registrations: where each phone registered from, and what it is.
    pub registrations: Vec<RegistrationView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegistrationView {
    pub contact: String,
    pub received: String,
    pub user_agent: String,
    /// Epoch milliseconds, when known.
    pub expires_at: Option<i64>,
}

/// `reged` of several devices at once (`GET /devices?ids=…`), by device id.
pub async fn reged(
    s: &Settings,
    device_ids: &[&str],
) -> Result<std::collections::HashMap<String, bool>, DemoError> {
    if device_ids.is_empty() {
        return Ok(Default::default());
    }
    let size = u32::try_from(device_ids.len()).unwrap_or(u32::MAX);
    let search = device_ids
        .iter()
        .fold(Search::new().size(size), |q, id| q.filter("ids", *id));
    let page = client(s)?
        .search_devices(&search)
        .await
        .map_err(|e| failed("GET /devices failed", e))?;
    Ok(page
        .items
        .into_iter()
        .filter_map(|d| Some((d.id?, d.reged.unwrap_or(false))))
        .collect())
}

/// The device's `reged` and its registrations (`GET /devices/{id}`, `…/registered`).
pub async fn presence(s: &Settings, device_id: &str) -> Result<DevicePresence, DemoError> {
    let api = client(s)?;
    let device = api
        .device(device_id)
        .await
        .map_err(|e| failed("GET /devices/{id} failed", e))?;
    let mut out = DevicePresence {
        reged: device.reged.unwrap_or(false),
        registrations: Vec::new(),
    };
    if out.reged {
        // Not every platform answers this one for every token: the flag alone is enough.
        match registrations(s, &api, device_id).await {
            Ok(list) => out.registrations = list,
            Err(e) => tracing::debug!("demo: registrations of device {device_id}: {e}"),
        }
    }
    Ok(out)
}

async fn registrations(
    s: &Settings,
    api: &Client,
    device_id: &str,
) -> Result<Vec<RegistrationView>, String> {
    let url = api.url(&["devices", device_id, "registered"], &[]);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http
        .get(url)
        .header("X-Webitel-Access", &s.integration_token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let list: ListResponse<Registration> = resp.json().await.map_err(|e| e.to_string())?;
    Ok(list
        .items
        .into_iter()
        .map(|r| RegistrationView {
            contact: r.contact,
            received: r.received,
            user_agent: r.user_agent,
            expires_at: r.expires_at.and_then(|e| e.parse().ok()),
        })
        .collect())
}

/// Where desk phones send SIP (`host:port`, UDP and TCP): `configured` when set; else what a
/// Switchboard platform tells in `GET /sip/status` (its SIP listener, a wildcard address
/// replaced by the REST endpoint's host); else the REST endpoint's host on port 5060, where
/// Webitel's OpenSIPS listens.
pub async fn sip_server(s: &Settings, configured: Option<&str>) -> String {
    if let Some(c) = configured.map(str::trim).filter(|c| !c.is_empty()) {
        return c
            .trim_start_matches("sips:")
            .trim_start_matches("sip:")
            .to_string();
    }
    let Ok(rest) = reqwest::Url::parse(&s.rest_endpoint) else {
        return String::new();
    };
    // IPv6 hosts come with their brackets.
    let Some(host) = rest.host_str().map(str::to_string) else {
        return String::new();
    };
    let mut status = rest.clone();
    status.set_path("/sip/status");
    status.set_query(None);
    let listener = async {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .ok()?;
        let v: Value = http.get(status).send().await.ok()?.json().await.ok()?;
        v.pointer("/sip/udp_tcp")?
            .as_str()?
            .parse::<std::net::SocketAddr>()
            .ok()
    }
    .await;
    match listener {
        Some(a) if a.ip().is_unspecified() => format!("{host}:{}", a.port()),
        Some(a) => a.to_string(),
        None => format!("{host}:5060"),
    }
}

// ---- contact center -------------------------------------------------------------------------

/// The call-center resources an administrator's browser may reach through the demo backend.
const CC_RESOURCES: &[&str] = &["agents", "teams", "skills", "queues"];

/// The path under `/api/call_center/` an administrator asked for, checked: one of
/// [`CC_RESOURCES`] and below, no empty or dot segments.
pub fn cc_segments(path: &str) -> Result<Vec<&str>, DemoError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let known = segs.first().is_some_and(|r| CC_RESOURCES.contains(r));
    let clean = segs
        .iter()
        .all(|s| !s.is_empty() && *s != "." && *s != ".." && s.len() <= 64);
    if !known || !clean || segs.len() > 4 {
        return Err(DemoError::new(
            StatusCode::NOT_FOUND,
            format!(
                "only /call_center/{{{}}}… is reachable here",
                CC_RESOURCES.join(",")
            ),
        ));
    }
    Ok(segs)
}

/// One request under `/api/call_center/` with the integration token, for the administrator's
/// contact-center pages (teams, skills, queues, agents and their skills).
pub async fn cc(
    s: &Settings,
    method: Method,
    segs: &[&str],
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<Value, DemoError> {
    let mut path = vec!["call_center"];
    path.extend_from_slice(segs);
    let what = format!("{method} /call_center/{}", segs.join("/"));
    client(s)?
        .json(method, &path, query, body)
        .await
        .map_err(|e| failed(&what, e))
}

/// Makes `number` reach the queue: a routing schema that joins the queue (then hangs up when
/// the caller leaves it unanswered) and an outbound route `^number$` to it. Undone on failure.
pub async fn create_queue_number(
    s: &Settings,
    queue_id: &str,
    queue_name: &str,
    number: &str,
) -> Result<crate::db::QueueNumber, DemoError> {
    let api = client(s)?;
    if let Some(other) = user_with_extension(&api, number)
        .await
        .map_err(|e| failed("searching users by extension", e))?
    {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!(
                "{number} is the extension of platform user {}; pick another number",
                other.name.unwrap_or_default()
            ),
        ));
    }
    // The schema names the queue by its number id, as Webitel's flow does.
    let queue_ref: Value = queue_id
        .parse::<i64>()
        .map_or_else(|_| queue_id.into(), Value::from);
    let schema = api
        .create_schema(&RoutingSchema {
            name: Some(format!("queue {queue_name} ({number})")),
            description: Some("made by the demo SPA: the queue's number".into()),
            kind: Some("voice".into()),
            schema: Some(json!([
                { "joinQueue": { "queue": { "id": queue_ref, "name": queue_name } } },
                { "hangup": "NO_ANSWER" },
            ])),
            ..Default::default()
        })
        .await
        .map_err(|e| failed("creating the routing schema", e))?;
    let schema_id = reply_id(&serde_json::to_value(&schema).unwrap_or_default())
        .ok_or_else(|| DemoError::internal("the new routing schema has no id"))?;
    let route = api
        .create_outbound_route(&RoutingOutboundCall {
            name: Some(format!("queue {queue_name}")),
            description: Some(format!("dialling {number} joins the queue {queue_name}")),
            pattern: Some(format!("^{number}$")),
            schema: Some(id_ref(&schema_id)),
            ..Default::default()
        })
        .await;
    let route_id = match route {
        Ok(r) => r.id.filter(|id| !id.is_empty()),
        Err(e) => {
            gone(api.delete_schema(&schema_id).await).ok();
            return Err(failed("creating the outbound route", e));
        }
    };
    let Some(route_id) = route_id else {
        gone(api.delete_schema(&schema_id).await).ok();
        return Err(DemoError::internal("the new outbound route has no id"));
    };
    Ok(crate::db::QueueNumber {
        queue_id: queue_id.to_string(),
        number: number.to_string(),
        schema_id,
        route_id,
    })
}

/// Deletes the route, then the schema, of a queue's number (what is gone already counts).
pub async fn delete_queue_number(
    s: &Settings,
    n: &crate::db::QueueNumber,
) -> Result<(), DemoError> {
    let api = client(s)?;
    gone(api.delete_outbound_route(&n.route_id).await)
        .map_err(|e| failed("deleting the outbound route", e))?;
    gone(api.delete_schema(&n.schema_id).await)
        .map_err(|e| failed("deleting the routing schema", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_call_center_resources_pass() {
        assert_eq!(cc_segments("teams").unwrap(), ["teams"]);
        assert_eq!(
            cc_segments("/agents/5/skills/").unwrap(),
            ["agents", "5", "skills"]
        );
        for bad in [
            "",
            "users",
            "queues/../../users",
            "queues//1",
            "teams/./1",
            "a/b/c/d/e",
        ] {
            assert!(cc_segments(bad).is_err(), "{bad}");
        }
    }

    fn settings(rest: &str) -> Settings {
        Settings {
            rest_endpoint: rest.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_sip_server_is_configured_or_derived() {
        let s = settings("http://127.0.0.1:9/api/");
        assert_eq!(
            sip_server(&s, Some("sip:pbx.example.com:5070")).await,
            "pbx.example.com:5070"
        );
        // Nothing answers /sip/status there: Webitel's port on the REST endpoint's host.
        assert_eq!(sip_server(&s, None).await, "127.0.0.1:5060");
        assert_eq!(
            sip_server(&settings("http://[::1]:9/api/"), Some(" ")).await,
            "[::1]:5060"
        );
        assert_eq!(sip_server(&settings("not a url"), None).await, "");
    }

    #[tokio::test]
    async fn switchboard_tells_its_sip_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/sip/status",
            axum::routing::get(|| async {
                axum::Json(json!({ "sip": { "udp_tcp": "0.0.0.0:5080", "tls": null } }))
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        // A wildcard listener is reached at the REST endpoint's host.
        let s = settings(&format!("http://127.0.0.1:{port}/api/"));
        assert_eq!(sip_server(&s, None).await, "127.0.0.1:5080");
    }
}
