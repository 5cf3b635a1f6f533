//! The demo SPA's own backend, done the way an SPA team would do it after reading the
//! integration guide: it keeps the four settings and, per SPA user, the platform's user id,
//! device id and user token in its own SQLite file, and it talks to the platform only through
//! the public REST API (`switchboard-client`), so it works against Webitel's cloud as well.
//!
//! Browsers never see the integration token: an administrator signs in with the demo's admin
//! password to edit settings and users, and an SPA user signs in with the login and password
//! set at creation and receives only their own user token and the endpoints.

mod assets;
mod auth;
mod board;
mod db;
mod platform;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqlitePool;
use std::path::PathBuf;
use std::sync::Arc;

pub use platform::Settings;

/// Where the demo keeps its data and what it starts with.
#[derive(Debug, Clone, Default)]
pub struct DemoConfig {
    /// Folder of `demo.db` (and `demo-admin.password` when the password is generated).
    pub data: PathBuf,
    /// The settings used until an administrator saves their own (e.g. "this same server").
    pub defaults: Option<Settings>,
    /// The admin password; generated on first start when unset.
    pub admin_password: Option<String>,
    /// Where desk phones send SIP (`host:port`), when the platform cannot tell (see
    /// [`platform::sip_server`]).
    pub sip_server: Option<String>,
}

/// The running demo backend.
#[derive(Clone)]
pub struct Demo {
    inner: Arc<Inner>,
}

struct Inner {
    db: SqlitePool,
    defaults: Option<Settings>,
    sip_server: Option<String>,
}

/// A JSON error reply `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct DemoError {
    pub status: StatusCode,
    pub message: String,
}

impl DemoError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("demo: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    }
}

impl From<sqlx::Error> for DemoError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for DemoError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<T, DemoError>;

impl Demo {
    /// Opens (or creates) `<data>/demo.db`, runs the migrations and makes sure there is an admin
    /// password. Returns the demo and the password when it was generated just now.
    pub async fn open(config: DemoConfig) -> anyhow::Result<(Demo, Option<String>)> {
        let db = db::open(&config.data).await?;
        let generated = auth::ensure_admin(&db, config.admin_password.as_deref()).await?;
        if let Some(p) = &generated {
            auth::write_secret_file(&config.data.join("demo-admin.password"), p)?;
        }
        let demo = Demo {
            inner: Arc::new(Inner {
                db,
                defaults: config.defaults,
                sip_server: config.sip_server,
            }),
        };
        Ok((demo, generated))
    }

    /// `/` and the static assets of the SPA, and its API under `/demo/api/`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(assets::index))
            .route("/index.html", get(assets::index))
            .route("/assets/{*path}", get(assets::asset))
            .route("/demo/api/session", get(session))
            .route("/demo/api/admin/login", post(admin_login))
            .route("/demo/api/login", post(user_login))
            .route("/demo/api/logout", post(logout))
            .route("/demo/api/settings", get(get_settings).put(put_settings))
            .route("/demo/api/licenses", get(licenses))
            .route("/demo/api/users", get(list_users).post(create_user))
            .route("/demo/api/users/{id}", delete(delete_user))
            .route("/demo/api/me", get(me))
            .route("/demo/api/me/phone", get(my_phone))
            .route("/demo/api/cc/{*path}", any(cc_proxy))
            .route(
                "/demo/api/queue-numbers",
                get(list_queue_numbers).post(create_queue_number),
            )
            .route(
                "/demo/api/queue-numbers/{queue_id}",
                delete(delete_queue_number),
            )
            .route("/demo/api/board", get(board_stream))
            .with_state(self.clone())
    }

    fn db(&self) -> &SqlitePool {
        &self.inner.db
    }

    /// The saved settings, else the defaults.
    async fn settings(&self) -> ApiResult<Option<Settings>> {
        Ok(match db::load_settings(self.db()).await? {
            Some(s) => Some(s),
            None => self.inner.defaults.clone(),
        })
    }

    /// The SIP settings a desk phone of `u` is configured with (its password only when given).
    async fn sip_settings(&self, s: &Settings, u: &db::UserRow, password: Option<&str>) -> Value {
        let server = platform::sip_server(s, self.inner.sip_server.as_deref()).await;
        let mut v = json!({
            "server": server,
            "transports": ["udp", "tcp"],
            "domain": s.domain,
            "account": u.device_account,
            "extension": u.extension,
            "uri": format!("sip:{}@{}", u.extension, s.domain),
        });
        if let Some(p) = password {
            v["password"] = p.into();
        }
        v
    }

    /// The settings, or a clear error when there are none yet.
    async fn require_settings(&self) -> ApiResult<Settings> {
        match self.settings().await? {
            Some(s) if !s.integration_token.is_empty() => Ok(s),
            _ => Err(DemoError::new(
                StatusCode::CONFLICT,
                "the demo is not configured yet: an administrator must save the settings first",
            )),
        }
    }
}

// ---- sessions -------------------------------------------------------------------------------

async fn session(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let configured = d
        .settings()
        .await?
        .is_some_and(|s| !s.integration_token.is_empty());
    let who = auth::current(d.db(), &headers).await?;
    Ok(Json(match who {
        Some(auth::Who::Admin) => json!({ "role": "admin", "configured": configured }),
        Some(auth::Who::User(id)) => {
            let u = db::user(d.db(), id).await?;
            json!({ "role": "user", "configured": configured,
                    "name": u.as_ref().map(|u| u.name.clone()),
                    "agent": u.as_ref().is_some_and(|u| !u.agent_id.is_empty()),
                    "login": u.map(|u| u.login) })
        }
        None => json!({ "role": null, "configured": configured }),
    }))
}

#[derive(Deserialize)]
struct AdminLogin {
    password: String,
}

async fn admin_login(State(d): State<Demo>, Json(req): Json<AdminLogin>) -> ApiResult<Response> {
    let hash = db::admin_hash(d.db()).await?;
    if !auth::verify(&req.password, &hash).await {
        return Err(DemoError::new(
            StatusCode::UNAUTHORIZED,
            "wrong administrator password",
        ));
    }
    let id = auth::start_session(d.db(), None).await?;
    Ok(with_cookie(&id, json!({ "role": "admin" })))
}

#[derive(Deserialize)]
struct UserLogin {
    username: String,
    password: String,
}

async fn user_login(State(d): State<Demo>, Json(req): Json<UserLogin>) -> ApiResult<Response> {
    let found = db::user_by_login(d.db(), req.username.trim()).await?;
    // Verify against a dummy hash when the login is unknown, so timing does not tell.
    let hash = found
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| auth::DUMMY_HASH.to_string());
    let ok = auth::verify(&req.password, &hash).await;
    let Some(user) = found.filter(|_| ok) else {
        return Err(DemoError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        ));
    };
    let id = auth::start_session(d.db(), Some(user.id)).await?;
    Ok(with_cookie(
        &id,
        json!({ "role": "user", "name": user.name, "login": user.login }),
    ))
}

async fn logout(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Response> {
    auth::end_session(d.db(), &headers).await?;
    let mut resp = Json(json!({})).into_response();
    resp.headers_mut().insert(
        axum::http::header::SET_COOKIE,
        HeaderValue::from_static(auth::CLEAR_COOKIE),
    );
    Ok(resp)
}

fn with_cookie(session: &str, body: Value) -> Response {
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::cookie(session)) {
        resp.headers_mut().insert(axum::http::header::SET_COOKIE, v);
    }
    resp
}

async fn require_admin(d: &Demo, headers: &HeaderMap) -> ApiResult<()> {
    match auth::current(d.db(), headers).await? {
        Some(auth::Who::Admin) => Ok(()),
        _ => Err(DemoError::new(
            StatusCode::UNAUTHORIZED,
            "sign in as the demo's administrator",
        )),
    }
}

// ---- settings -------------------------------------------------------------------------------

/// What an administrator's browser sees of the settings: never the token itself.
#[derive(Serialize)]
struct SettingsView {
    rest_endpoint: String,
    ws_endpoint: String,
    domain: String,
    use_stun: bool,
    token_set: bool,
    /// The last four characters, to tell tokens apart.
    token_hint: String,
    saved: bool,
}

async fn get_settings(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<SettingsView>> {
    require_admin(&d, &headers).await?;
    let saved = db::load_settings(d.db()).await?;
    let s = saved
        .clone()
        .or_else(|| d.inner.defaults.clone())
        .unwrap_or_default();
    let t = &s.integration_token;
    Ok(Json(SettingsView {
        rest_endpoint: s.rest_endpoint.clone(),
        ws_endpoint: s.ws_endpoint.clone(),
        domain: s.domain.clone(),
        use_stun: s.use_stun,
        token_set: !t.is_empty(),
        token_hint: t
            .char_indices()
            .rev()
            .nth(3)
            .map(|(i, _)| format!("…{}", &t[i..]))
            .unwrap_or_default(),
        saved: saved.is_some(),
    }))
}

#[derive(Deserialize)]
struct SettingsInput {
    rest_endpoint: String,
    ws_endpoint: String,
    /// Empty or absent: keep the current token.
    #[serde(default)]
    integration_token: Option<String>,
    domain: String,
    #[serde(default)]
    use_stun: bool,
}

async fn put_settings(
    State(d): State<Demo>,
    headers: HeaderMap,
    Json(input): Json<SettingsInput>,
) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let token = match input.integration_token.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => d
            .settings()
            .await?
            .map(|s| s.integration_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| DemoError::bad_request("the integration token is required"))?,
    };
    let s = Settings {
        rest_endpoint: input.rest_endpoint.trim().to_string(),
        ws_endpoint: input.ws_endpoint.trim().to_string(),
        integration_token: token,
        domain: input.domain.trim().to_string(),
        use_stun: input.use_stun,
    };
    // Saved only once a real call with these settings succeeded.
    let check = platform::check(&s).await?;
    db::save_settings(d.db(), &s).await?;
    Ok(Json(json!({ "saved": true, "check": check })))
}

async fn licenses(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let s = d.require_settings().await?;
    let items = platform::licenses(&s).await?;
    Ok(Json(json!({ "items": items })))
}

// ---- users ----------------------------------------------------------------------------------

async fn list_users(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let users = db::users(d.db()).await?;
    // Whether each phone is registered right now; unknown (null) when the platform cannot say.
    let ids: Vec<&str> = users.iter().map(|u| u.device_id.as_str()).collect();
    let reged = match d.settings().await? {
        Some(s) if !s.integration_token.is_empty() => platform::reged(&s, &ids)
            .await
            .map_err(|e| tracing::warn!("demo: registrations: {}", e.message))
            .ok(),
        _ => None,
    };
    let items: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = u.public();
            v["reged"] = reged
                .as_ref()
                .and_then(|r| r.get(&u.device_id))
                .map_or(Value::Null, |&b| b.into());
            v
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// The phone an SPA user calls with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneKind {
    /// The browser's, registered by webitel-sdk over SIP-over-WebSocket.
    #[default]
    Web,
    /// A hardware desk phone registered over SIP/UDP or TCP; calls start with click-to-call.
    Sip,
}

impl PhoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Web => "web",
            PhoneKind::Sip => "sip",
        }
    }
}

/// The Users page's form.
#[derive(Deserialize)]
pub struct NewUser {
    pub name: String,
    #[serde(default)]
    pub email: String,
    pub extension: String,
    /// The demo's own sign-in name; also the platform's username.
    pub login: String,
    pub password: String,
    /// A licence id; the first licence with a free seat when empty.
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub create_agent: bool,
    /// The agent's team id (optional; only with `create_agent`).
    #[serde(default)]
    pub agent_team: String,
    #[serde(default)]
    pub phone: PhoneKind,
    /// A desk phone's SIP password; generated when empty.
    #[serde(default)]
    pub sip_password: String,
}

async fn create_user(
    State(d): State<Demo>,
    headers: HeaderMap,
    Json(mut input): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&d, &headers).await?;
    input.name = input.name.trim().to_string();
    input.email = input.email.trim().to_string();
    input.extension = input.extension.trim().to_string();
    input.login = input.login.trim().to_string();
    input.license = input.license.trim().to_string();
    if input.name.is_empty() || input.extension.is_empty() || input.login.is_empty() {
        return Err(DemoError::bad_request(
            "name, extension and login are required",
        ));
    }
    if !input.extension.chars().all(|c| c.is_ascii_digit()) || input.extension.len() > 15 {
        return Err(DemoError::bad_request(
            "the extension must be 1 to 15 digits",
        ));
    }
    if input.password.chars().count() < 6 {
        return Err(DemoError::bad_request(
            "the password must have at least 6 characters",
        ));
    }
    if input.phone == PhoneKind::Sip
        && !input.sip_password.is_empty()
        && (input.sip_password.chars().count() < 8
            || input
                .sip_password
                .chars()
                .any(|c| c.is_control() || c == '"'))
    {
        return Err(DemoError::bad_request(
            "the SIP password must have at least 8 characters and no quotes",
        ));
    }
    if db::user_by_login(d.db(), &input.login).await?.is_some() {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!("the login {:?} is taken", input.login),
        ));
    }
    if db::user_by_extension(d.db(), &input.extension)
        .await?
        .is_some()
    {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!(
                "extension {} already belongs to an SPA user",
                input.extension
            ),
        ));
    }
    let s = d.require_settings().await?;
    let hash = auth::hash(&input.password).await?;
    // With `create_agent`, provisioning ends with the user's contact-center agent.
    let p = platform::provision(&s, &input).await?;
    match db::insert_user(d.db(), &input, &hash, &p).await {
        Ok(row) => {
            let mut out = row.public();
            if input.phone == PhoneKind::Sip {
                // The only time the password is shown: the demo does not keep it.
                out["sip"] = d.sip_settings(&s, &row, Some(&p.device_password)).await;
            }
            Ok((StatusCode::CREATED, Json(out)))
        }
        Err(e) => {
            // Nothing may stay on the platform that the demo does not know about.
            platform::deprovision(&s, &p.user_id, &p.device_id, p.agent_id.as_deref())
                .await
                .ok();
            Err(e.into())
        }
    }
}

async fn delete_user(
    State(d): State<Demo>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let Some(u) = db::user(d.db(), id).await? else {
        return Err(DemoError::new(StatusCode::NOT_FOUND, "no such SPA user"));
    };
    let s = d.require_settings().await?;
    // The local row goes only once the platform side is gone, so a failure can be retried.
    platform::deprovision(
        &s,
        &u.platform_user_id,
        &u.device_id,
        Some(&u.agent_id)
            .filter(|a| !a.is_empty())
            .map(String::as_str),
    )
    .await?;
    db::delete_user(d.db(), id).await?;
    Ok(Json(json!({ "deleted": id })))
}

/// The signed-in SPA user.
async fn current_user(d: &Demo, headers: &HeaderMap) -> ApiResult<db::UserRow> {
    let Some(auth::Who::User(id)) = auth::current(d.db(), headers).await? else {
        return Err(DemoError::new(
            StatusCode::UNAUTHORIZED,
            "sign in as an SPA user",
        ));
    };
    db::user(d.db(), id)
        .await?
        .ok_or_else(|| DemoError::new(StatusCode::UNAUTHORIZED, "the SPA user was deleted"))
}

/// The signed-in user's phone: its kind, whether it is registered now (asked of the platform
/// with the integration token: a plain user's token may not read devices everywhere) and,
/// for a desk phone, its SIP settings without the password.
async fn my_phone(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let u = current_user(&d, &headers).await?;
    let s = d.require_settings().await?;
    let presence = platform::presence(&s, &u.device_id).await?;
    let mut out = json!({
        "phone": u.phone,
        "device_id": u.device_id,
        "reged": presence.reged,
        "registrations": presence.registrations,
    });
    if u.phone == PhoneKind::Sip.as_str() {
        out["sip"] = d.sip_settings(&s, &u, None).await;
    }
    Ok(Json(out))
}

/// The signed-in SPA user's own token and endpoints: all a browser needs for webitel-sdk.
async fn me(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let u = current_user(&d, &headers).await?;
    let s = d.require_settings().await?;
    Ok(Json(json!({
        "token": u.user_token,
        "rest_endpoint": s.rest_endpoint,
        "ws_endpoint": s.ws_endpoint,
        "domain": s.domain,
        "use_stun": s.use_stun,
        "user_id": u.platform_user_id,
        "device_id": u.device_id,
        "extension": u.extension,
        "name": u.name,
        "login": u.login,
        "phone": u.phone,
        // A number, as webitel-sdk's agent_id; absent when the user is no agent.
        "agent_id": u.agent_id.parse::<i64>().ok(),
    })))
}

// ---- contact center (administrator) ---------------------------------------------------------

/// `/demo/api/cc/<path>` → the platform's `/api/call_center/<path>` with the integration
/// token, for teams, skills, queues (and their skills) and agents' teams and skills. Agents
/// themselves come and go with their SPA users; a deleted queue loses its number too.
async fn cc_proxy(
    State(d): State<Demo>,
    method: Method,
    headers: HeaderMap,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let segs = platform::cc_segments(&path)?;
    if segs[0] == "agents"
        && segs.len() <= 2
        && (method == Method::POST || method == Method::DELETE)
    {
        return Err(DemoError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "agents are created and deleted with their SPA users (Users page)",
        ));
    }
    let method = switchboard_client::Method::from_bytes(method.as_str().as_bytes())
        .map_err(|_| DemoError::bad_request("unsupported method"))?;
    let query: Vec<(String, String)> = query
        .and_then(|q| reqwest::Url::parse(&format!("http://q/?{q}")).ok())
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let body: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .map_err(|e| DemoError::bad_request(format!("the body is not JSON: {e}")))?,
        )
    };
    let s = d.require_settings().await?;
    let deleting_queue =
        method == switchboard_client::Method::DELETE && segs.len() == 2 && segs[0] == "queues";
    let out = platform::cc(&s, method, &segs, &query, body.as_ref()).await?;
    if deleting_queue {
        if let Some(n) = db::queue_number(d.db(), segs[1]).await? {
            platform::delete_queue_number(&s, &n).await?;
            db::delete_queue_number(d.db(), &n.queue_id).await?;
        }
    }
    Ok(Json(out))
}

async fn list_queue_numbers(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let items: Vec<Value> = db::queue_numbers(d.db())
        .await?
        .iter()
        .map(db::QueueNumber::public)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct NewQueueNumber {
    queue_id: String,
    number: String,
}

/// Gives a queue its number: a routing schema joining the queue and an outbound route to it.
async fn create_queue_number(
    State(d): State<Demo>,
    headers: HeaderMap,
    Json(input): Json<NewQueueNumber>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&d, &headers).await?;
    let number = input.number.trim();
    let queue_id = input.queue_id.trim();
    if number.is_empty() || number.len() > 15 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DemoError::bad_request(
            "the queue's number must be 1 to 15 digits",
        ));
    }
    if queue_id.is_empty() || !queue_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DemoError::bad_request("queue_id must be a queue's id"));
    }
    if db::queue_number(d.db(), queue_id).await?.is_some() {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            "this queue has a number already; delete it first",
        ));
    }
    if db::number_taken(d.db(), number).await? {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!("{number} is another queue's number"),
        ));
    }
    if db::user_by_extension(d.db(), number).await?.is_some() {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!("{number} is an SPA user's extension"),
        ));
    }
    let s = d.require_settings().await?;
    let queue = platform::cc(
        &s,
        switchboard_client::Method::GET,
        &["queues", queue_id],
        &[],
        None,
    )
    .await?;
    let queue = queue.get("queue").unwrap_or(&queue);
    let name = queue
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(queue_id)
        .to_string();
    let n = platform::create_queue_number(&s, queue_id, &name, number).await?;
    if let Err(e) = db::insert_queue_number(d.db(), &n).await {
        platform::delete_queue_number(&s, &n).await.ok();
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(n.public())))
}

async fn delete_queue_number(
    State(d): State<Demo>,
    headers: HeaderMap,
    Path(queue_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_admin(&d, &headers).await?;
    let Some(n) = db::queue_number(d.db(), &queue_id).await? else {
        return Err(DemoError::new(
            StatusCode::NOT_FOUND,
            "this queue has no number",
        ));
    };
    let s = d.require_settings().await?;
    platform::delete_queue_number(&s, &n).await?;
    db::delete_queue_number(d.db(), &queue_id).await?;
    Ok(Json(json!({ "deleted": queue_id })))
}

/// The live queue board as Server-Sent Events (`board`, `problem`), relayed from the
/// platform's `cc_queue_board` WebSocket events (see [`board`]).
async fn board_stream(State(d): State<Demo>, headers: HeaderMap) -> ApiResult<Response> {
    require_admin(&d, &headers).await?;
    let s = d.require_settings().await?;
    Ok(board::stream(s).into_response())
}
