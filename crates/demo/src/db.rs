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
    /// `web` or `sip`.
    pub phone: String,
    /// The device's SIP digest user name.
    pub device_account: String,
    /// The platform's contact-center agent, empty when the user is none.
    pub agent_id: String,
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
            "phone": self.phone,
            "account": self.device_account,
            "agent_id": Some(&self.agent_id).filter(|a| !a.is_empty()),
        })
    }
}

const USER_COLUMNS: &str = "id, login, password_hash, name, email, extension, license,
    create_agent, platform_user_id, device_id, user_token, created_at, phone, device_account,
    agent_id";

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
        phone: r.get(12),
        device_account: r.get(13),
        agent_id: r.get(14),
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
                            platform_user_id, device_id, user_token, created_at, phone,
                            device_account, agent_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
    .bind(u.phone.as_str())
    .bind(&p.account)
    .bind(p.agent_id.as_deref().unwrap_or_default())
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

/// A queue's number, as the demo made it on the platform.
#[derive(Debug, Clone)]
pub struct QueueNumber {
    pub queue_id: String,
    pub number: String,
    pub schema_id: String,
    pub route_id: String,
}

impl QueueNumber {
    pub fn public(&self) -> Value {
        json!({
            "queue_id": self.queue_id,
            "number": self.number,
            "schema_id": self.schema_id,
            "route_id": self.route_id,
        })
    }
}

fn queue_number_row(r: sqlx::sqlite::SqliteRow) -> QueueNumber {
    QueueNumber {
        queue_id: r.get(0),
        number: r.get(1),
        schema_id: r.get(2),
        route_id: r.get(3),
    }
}

pub async fn queue_numbers(db: &SqlitePool) -> sqlx::Result<Vec<QueueNumber>> {
    Ok(sqlx::query(
        "SELECT queue_id, number, schema_id, route_id FROM queue_numbers ORDER BY number",
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(queue_number_row)
    .collect())
}

pub async fn queue_number(db: &SqlitePool, queue_id: &str) -> sqlx::Result<Option<QueueNumber>> {
    Ok(sqlx::query(
        "SELECT queue_id, number, schema_id, route_id FROM queue_numbers WHERE queue_id = ?",
    )
    .bind(queue_id)
    .fetch_optional(db)
    .await?
    .map(queue_number_row))
}

pub async fn number_taken(db: &SqlitePool, number: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM queue_numbers WHERE number = ?")
        .bind(number)
        .fetch_optional(db)
        .await?
        .is_some())
}

pub async fn insert_queue_number(db: &SqlitePool, n: &QueueNumber) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO queue_numbers (queue_id, number, schema_id, route_id, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&n.queue_id)
    .bind(&n.number)
    .bind(&n.schema_id)
    .bind(&n.route_id)
    .bind(now_ms())
    .execute(db)
    .await
    .map(drop)
}

pub async fn delete_queue_number(db: &SqlitePool, queue_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM queue_numbers WHERE queue_id = ?")
        .bind(queue_id)
        .execute(db)
        .await
        .map(drop)
}
