//! The demo's own SQLite file, `<data>/demo.db`.

use crate::platform::{Provisioned, Settings};
use crate::NewUser;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::Path;

pub async fn open(data: &Path) -> anyhow::Result<SqlitePool> {
    std::fs::create_dir_all(data)?;
    let opts = SqliteConnectOptions::new()
        .filename(data.join("demo.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn admin_hash(db: &SqlitePool) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT password_hash FROM admin WHERE id = 1")
        .fetch_one(db)
        .await
}

pub async fn set_admin_hash(db: &SqlitePool, hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO admin (id, password_hash) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash",
    )
    .bind(hash)
    .execute(db)
    .await
    .map(drop)
}

pub async fn has_admin(db: &SqlitePool) -> sqlx::Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM admin WHERE id = 1")
        .fetch_optional(db)
        .await?
        .is_some())
}

pub async fn load_settings(db: &SqlitePool) -> sqlx::Result<Option<Settings>> {
    let row = sqlx::query(
        "SELECT rest_endpoint, ws_endpoint, integration_token, domain, use_stun
         FROM settings WHERE id = 1",
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Settings {
        rest_endpoint: r.get(0),
        ws_endpoint: r.get(1),
        integration_token: r.get(2),
        domain: r.get(3),
        use_stun: r.get::<i64, _>(4) != 0,
    }))
}

pub async fn save_settings(db: &SqlitePool, s: &Settings) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (id, rest_endpoint, ws_endpoint, integration_token, domain, use_stun,
                               updated_at)
         VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET rest_endpoint = excluded.rest_endpoint,
             ws_endpoint = excluded.ws_endpoint, integration_token = excluded.integration_token,
             domain = excluded.domain, use_stun = excluded.use_stun,
             updated_at = excluded.updated_at",
    )
    .bind(&s.rest_endpoint)
    .bind(&s.ws_endpoint)
    .bind(&s.integration_token)
    .bind(&s.domain)
    .bind(s.use_stun as i64)
    .bind(now_ms())
    .execute(db)
    .await
    .map(drop)
}

/// One SPA user.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub login: String,
    pub password_hash: String,
    pub name: String,
    pub email: String,
    pub extension: String,
    pub license: String,
    pub create_agent: bool,
    pub platform_user_id: String,
    pub device_id: String,
    pub user_token: String,
    pub created_at: i64,
}

impl UserRow {
    /// What the administrator's Users page shows: no token, no hash.
    pub fn public(&self) -> Value {
        json!({
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "email": self.email,
            "extension": self.extension,
            "license": self.license,
            "create_agent": self.create_agent,
            "user_id": self.platform_user_id,
            "device_id": self.device_id,
            "created_at": self.created_at,
        })
    }
}

const USER_COLUMNS: &str = "id, login, password_hash, name, email, extension, license,
    create_agent, platform_user_id, device_id, user_token, created_at";

fn user_row(r: sqlx::sqlite::SqliteRow) -> UserRow {
    UserRow {
        id: r.get(0),
        login: r.get(1),
        password_hash: r.get(2),
        name: r.get(3),
        email: r.get(4),
        extension: r.get(5),
        license: r.get(6),
        create_agent: r.get::<i64, _>(7) != 0,
        platform_user_id: r.get(8),
        device_id: r.get(9),
        user_token: r.get(10),
        created_at: r.get(11),
    }
}

async fn user_where(db: &SqlitePool, cond: &str, v: &str) -> sqlx::Result<Option<UserRow>> {
    let q = format!("SELECT {USER_COLUMNS} FROM users WHERE {cond} = ?");
    Ok(sqlx::query(&q)
        .bind(v)
        .fetch_optional(db)
        .await?
        .map(user_row))
}

pub async fn user(db: &SqlitePool, id: i64) -> sqlx::Result<Option<UserRow>> {
    user_where(db, "id", &id.to_string()).await
}

pub async fn user_by_login(db: &SqlitePool, login: &str) -> sqlx::Result<Option<UserRow>> {
    user_where(db, "login", login).await
}

pub async fn user_by_extension(db: &SqlitePool, ext: &str) -> sqlx::Result<Option<UserRow>> {
    user_where(db, "extension", ext).await
}

pub async fn users(db: &SqlitePool) -> sqlx::Result<Vec<UserRow>> {
    let q = format!("SELECT {USER_COLUMNS} FROM users ORDER BY extension");
    Ok(sqlx::query(&q)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(user_row)
        .collect())
}

pub async fn insert_user(
    db: &SqlitePool,
    u: &NewUser,
    password_hash: &str,
    p: &Provisioned,
) -> sqlx::Result<UserRow> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, password_hash, name, email, extension, license, create_agent,
                            platform_user_id, device_id, user_token, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&u.login)
    .bind(password_hash)
    .bind(&u.name)
    .bind(&u.email)
    .bind(&u.extension)
    .bind(&p.license)
    .bind(u.create_agent as i64)
    .bind(&p.user_id)
    .bind(&p.device_id)
    .bind(&p.token)
    .bind(now_ms())
    .fetch_one(db)
    .await?;
    user(db, id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn delete_user(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map(drop)
}
