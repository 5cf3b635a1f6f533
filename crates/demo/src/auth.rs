//! The demo's own sign-in: argon2 password hashes and an HttpOnly session cookie.

use crate::db;
use crate::DemoError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use sqlx::SqlitePool;

const COOKIE: &str = "sb_demo_session";
const SESSION_SECS: i64 = 12 * 3600;
pub const CLEAR_COOKIE: &str = "sb_demo_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
/// A valid hash of a random password, verified against when a login is unknown.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZQpc1zmFAhdN3ldfRhuCI9D+pCnXbRbZJnqdFEjhDCY";

pub enum Who {
    Admin,
    User(i64),
}

/// Hashing is deliberately slow: off the async threads.
pub async fn hash(password: &str) -> Result<String, DemoError> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(p.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(DemoError::internal)?
    .map_err(DemoError::internal)
}

pub async fn verify(password: &str, hash: &str) -> bool {
    let (p, h) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&h)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(p.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Sets the admin password from `wanted`, or generates one on first start (returned so that
/// it can be shown once).
pub async fn ensure_admin(db: &SqlitePool, wanted: Option<&str>) -> anyhow::Result<Option<String>> {
    match wanted.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => {
            let current = db::admin_hash(db).await.ok();
            if !matches!(&current, Some(h) if verify(w, h).await) {
                db::set_admin_hash(db, &hash(w).await.map_err(|e| anyhow::anyhow!(e.message))?)
                    .await?;
            }
            Ok(None)
        }
        None if db::has_admin(db).await? => Ok(None),
        None => {
            let p = random_hex(12);
            db::set_admin_hash(db, &hash(&p).await.map_err(|e| anyhow::anyhow!(e.message))?)
                .await?;
            Ok(Some(p))
        }
    }
}

/// Writes a secret to a file only its owner can read.
pub fn write_secret_file(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{secret}")
}

pub fn cookie(session: &str) -> String {
    format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}")
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

pub async fn start_session(db: &SqlitePool, user: Option<i64>) -> Result<String, DemoError> {
    let id = random_hex(32);
    let now = db::now_ms();
    sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
        .bind(now)
        .execute(db)
        .await?;
    sqlx::query("INSERT INTO sessions (id, user_id, expires_at) VALUES (?, ?, ?)")
        .bind(&id)
        .bind(user)
        .bind(now + SESSION_SECS * 1000)
        .execute(db)
        .await?;
    Ok(id)
}

pub async fn current(db: &SqlitePool, headers: &HeaderMap) -> Result<Option<Who>, DemoError> {
    let Some(id) = session_id(headers) else {
        return Ok(None);
    };
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT user_id FROM sessions WHERE id = ? AND expires_at > ?")
            .bind(&id)
            .bind(db::now_ms())
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(u,)| match u {
        Some(u) => Who::User(u),
        None => Who::Admin,
    }))
}

pub async fn end_session(db: &SqlitePool, headers: &HeaderMap) -> Result<(), DemoError> {
    if let Some(id) = session_id(headers) {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_hash_parses() {
        let h = hash("secret-1").await.unwrap();
        assert!(verify("secret-1", &h).await);
        assert!(!verify("secret-2", &h).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify("", DUMMY_HASH).await);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; sb_demo_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert!(cookie("x").contains("HttpOnly"));
    }
}
