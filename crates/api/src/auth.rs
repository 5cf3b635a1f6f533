//! Authentication and authorisation: bearer tokens (stored as SHA-256), sessions with their
//! grants, the licence rule, argon2 passwords and the digest HA1 of devices.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use switchboard_store::{Grant, LicenseGrant, Store};

pub const TOKEN_HEADER: &str = "x-webitel-access";

/// Object classes a role can grant; the admin role holds all of them.
pub const CLASSES: &[&str] = &[
    "users",
    "devices",
    "roles",
    "license",
    "calls",
    "recordings",
    "cc_agent",
    "cc_queue",
    "gateways",
    "acr_routing",
];

/// CRUD access as Webitel's letters: x create, r read, w update, d delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Create,
    Read,
    Update,
    Delete,
}

impl Access {
    fn letter(self) -> char {
        match self {
            Access::Create => 'x',
            Access::Read => 'r',
            Access::Update => 'w',
            Access::Delete => 'd',
        }
    }

    fn word(self) -> &'static str {
        match self {
            Access::Create => "create",
            Access::Read => "read",
            Access::Update => "update",
            Access::Delete => "delete",
        }
    }
}

/// Access letters as the engine's bit mask: create 8, read 4, update 2, delete 1.
pub fn access_bits(letters: &str) -> u32 {
    letters.chars().fold(0, |acc, c| {
        acc | match c {
            'x' => 8,
            'r' => 4,
            'w' => 2,
            'd' => 1,
            _ => 0,
        }
    })
}

/// An authenticated caller. Its `Debug` form leaves the bearer token out, so a stray log line
/// cannot leak it.
#[derive(Clone)]
pub struct Session {
    /// The bearer string itself (webitel-sdk reads it back from `hello.session.token`).
    pub token: String,
    pub token_key: String,
    pub kind: String,
    pub expires_at: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub extension: String,
    pub chat_name: String,
    pub user_updated_at: i64,
    pub domain_id: i64,
    pub domain_name: String,
    pub roles: Vec<(i64, String)>,
    /// Union of the roles' grants, one entry per class.
    pub scopes: Vec<Grant>,
    pub permissions: Vec<String>,
    pub licenses: Vec<LicenseGrant>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("token_key", &self.token_key)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("domain_id", &self.domain_id)
            .field("domain_name", &self.domain_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn can(&self, class: &str, access: Access) -> bool {
        self.scopes
            .iter()
            .any(|g| g.class == class && g.access.contains(access.letter()))
    }

    pub fn require(&self, class: &str, access: Access) -> ApiResult<()> {
        if self.can(class, access) {
            Ok(())
        } else {
            Err(ApiError::forbidden(self.user_id, class, access.word()))
        }
    }

    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }

    /// Whether the engine's "active scope" is non-empty: some currently valid licence grants a
    /// class the user's roles also grant. Checked on every request, so it allocates nothing.
    pub fn licensed(&self, now: i64) -> bool {
        self.licenses
            .iter()
            .filter(|l| l.active(now))
            .flat_map(|l| l.scopes.iter())
            .any(|c| self.scopes.iter().any(|g| g.class.eq_ignore_ascii_case(c)))
    }

    /// Holds a valid licence of the named product (e.g. `CALL_CENTER`).
    pub fn has_product(&self, product: &str, now: i64) -> bool {
        self.licenses
            .iter()
            .any(|l| l.active(now) && l.product.eq_ignore_ascii_case(product))
    }
}

/// SHA-256 of a bearer token, hex. Tokens are 256-bit random, so a fast hash is safe here.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new bearer token and its key (the token's public id).
pub fn new_token() -> (String, String) {
    let mut rng = rand::thread_rng();
    let token: String = (0..43)
        .map(|_| {
            const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            ALPHABET[rng.gen_range(0..ALPHABET.len())] as char
        })
        .collect();
    let key = hex::encode(rng.gen::<[u8; 10]>());
    (token, key)
}

/// MD5(account:realm:password), the digest HA1 kept for a device.
pub fn ha1(account: &str, realm: &str, password: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(
        format!("{account}:{realm}:{password}").as_bytes(),
    ))
}

/// argon2id hash of a user password, computed off the async threads.
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Checks a password against its argon2 hash off the async threads.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .map(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Sessions by token hash, kept briefly so that each request costs no database round trip.
/// Entries are dropped as soon as their token, user or roles change (see `AuthEvent`).
#[derive(Default)]
pub struct SessionCache {
    map: RwLock<HashMap<String, (Arc<Session>, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(10);

impl SessionCache {
    fn get(&self, hash: &str) -> Option<Arc<Session>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(s, _)| s.clone())
    }

    fn put(&self, hash: String, s: Arc<Session>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        map.insert(hash, (s, Instant::now()));
    }

    pub fn forget(&self, ev: &AuthEvent) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        match ev {
            AuthEvent::TokenRevoked { key } => map.retain(|_, (s, _)| &s.token_key != key),
            AuthEvent::UserChanged { user_id } => map.retain(|_, (s, _)| s.user_id != *user_id),
            AuthEvent::DomainChanged { domain_id } => {
                map.retain(|_, (s, _)| s.domain_id != *domain_id)
            }
        }
    }
}

/// Something that invalidates sessions. Published on `AppState::auth_events` so that open
/// WebSockets can re-check or close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    TokenRevoked { key: String },
    UserChanged { user_id: i64 },
    DomainChanged { domain_id: i64 },
}

/// Resolves a bearer token to a session, or says why it cannot be used. The licence rule is
/// applied here, so REST, WebSocket and SIP all refuse unlicensed users the same way.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<Arc<Session>> {
    if token.is_empty() {
        return Err(ApiError::unauthenticated(
            "app.session.unauthenticated",
            "no access token: send it in the X-Webitel-Access header",
        ));
    }
    let hash = token_hash(token);
    let now = switchboard_store::now_ms();
    let session = match state.sessions.get(&hash) {
        Some(s) => s,
        None => {
            let s = Arc::new(load_session(&state.store, token, &hash).await?);
            state.sessions.put(hash, s.clone());
            s
        }
    };
    if session.expires_at != 0 && session.expires_at <= now {
        return Err(ApiError::unauthenticated(
            "app.session.expired",
            "the access token has expired; sign in again",
        ));
    }
    if !session.licensed(now) {
        return Err(ApiError::license());
    }
    Ok(session)
}

async fn load_session(store: &Store, token: &str, hash: &str) -> ApiResult<Session> {
    let row = store.session_by_hash(hash).await?.ok_or_else(|| {
        ApiError::unauthenticated("app.session.unauthenticated", "the access token is invalid")
    })?;
    if row.revoked_at != 0 {
        return Err(ApiError::unauthenticated(
            "app.session.revoked",
            "the access token was revoked",
        ));
    }
    let roles = store.user_roles(row.user_id).await?;
    let licenses = store.user_license_grants(row.user_id).await?;
    let mut scopes: Vec<Grant> = Vec::new();
    let mut permissions: Vec<String> = Vec::new();
    for r in &roles {
        for g in &r.scopes {
            match scopes.iter_mut().find(|s| s.class == g.class) {
                Some(s) => {
                    for c in g.access.chars() {
                        if !s.access.contains(c) {
                            s.access.push(c);
                        }
                    }
                }
                None => scopes.push(g.clone()),
            }
        }
        for p in &r.permissions {
            if !permissions.contains(p) {
                permissions.push(p.clone());
            }
        }
    }
    Ok(Session {
        token: token.to_string(),
        token_key: row.token_key,
        kind: row.kind,
        expires_at: row.expires_at,
        user_id: row.user_id,
        username: row.username,
        name: row.name,
        extension: row.extension,
        chat_name: row.chat_name,
        user_updated_at: row.user_updated_at,
        domain_id: row.domain_id,
        domain_name: row.domain_name,
        roles: roles.into_iter().map(|r| (r.id, r.name)).collect(),
        scopes,
        permissions,
        licenses,
    })
}

/// The token of a request: the `X-Webitel-Access` header, else the `access_token` query
/// parameter (webitel-sdk puts it there for `<audio src>` URLs).
pub fn request_token(parts: &Parts) -> String {
    if let Some(v) = parts
        .headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return v.trim().to_string();
    }
    if let Some(v) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return t.trim().to_string();
        }
    }
    parts
        .uri
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

/// Layer for every authenticated route: resolves the session and puts it in the request.
pub async fn require_session(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let session = authenticate(&state, &request_token(&parts)).await?;
    parts.extensions.insert(session);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// Extractor for the caller's session inside an authenticated route.
pub struct Caller(pub Arc<Session>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<Session>>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ApiError::unauthenticated("app.session.unauthenticated", "not authenticated")
            })
    }
}

impl std::ops::Deref for Caller {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_bearer_token() {
        let s = Session {
            token: "secret-bearer-value".into(),
            token_key: "k1".into(),
            kind: "token".into(),
            expires_at: 0,
            user_id: 7,
            username: "u".into(),
            name: String::new(),
            extension: String::new(),
            chat_name: String::new(),
            user_updated_at: 0,
            domain_id: 1,
            domain_name: "d".into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            permissions: Vec::new(),
            licenses: Vec::new(),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret-bearer-value"), "{shown}");
        assert!(shown.contains("user_id: 7"), "{shown}");
    }
}
