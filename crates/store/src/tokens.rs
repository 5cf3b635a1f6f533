use crate::devices::lookup;
use crate::{now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An access token as listed (the bearer itself is never stored, only its SHA-256).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub key: String,
    pub user: (i64, String),
    pub kind: String,
    pub usage: String,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub expires_at: i64,
    pub revoked_at: i64,
}

/// What a bearer token resolves to: the token, its user and domain.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_key: String,
    pub kind: String,
    pub expires_at: i64,
    pub revoked_at: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub extension: String,
    pub chat_name: String,
    pub user_updated_at: i64,
    pub domain_id: i64,
    pub domain_name: String,
}

const TOKEN_SELECT: &str = "SELECT t.key, t.user_id, t.kind, t.usage, t.created_at, \
    t.created_by, t.updated_at, t.expires_at, t.revoked_at, u.name AS u_name, \
    u.username AS u_username, cb.name AS cb_name, cb.username AS cb_username \
    FROM tokens t JOIN users u ON u.id = t.user_id LEFT JOIN users cb ON cb.id = t.created_by";

fn token_from(r: &AnyRow) -> StoreResult<TokenRow> {
    Ok(TokenRow {
        key: r.try_get("key")?,
        user: lookup(r, "user_id", "u_name", "u_username").unwrap_or_default(),
        kind: r.try_get("kind")?,
        usage: r.try_get("usage")?,
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a token by the hash of its bearer string. `expires_at` 0 means no expiry.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_token(
        &self,
        domain_id: i64,
        user_id: i64,
        key: &str,
        hash: &str,
        kind: &str,
        usage: &str,
        expires_at: i64,
        actor: Option<i64>,
    ) -> StoreResult<TokenRow> {
        let now = now_ms();
        let res = sqlx::query(
            "INSERT INTO tokens (key, domain_id, user_id, hash, kind, usage, created_at, \
             created_by, updated_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $7, $9 \
             WHERE EXISTS (SELECT 1 FROM users WHERE id = $3 AND domain_id = $2)",
        )
        .bind(key)
        .bind(domain_id)
        .bind(user_id)
        .bind(hash)
        .bind(kind)
        .bind(usage)
        .bind(now)
        .bind(actor)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.get_token(domain_id, user_id, key).await
    }

    pub async fn get_token(
        &self,
        domain_id: i64,
        user_id: i64,
        key: &str,
    ) -> StoreResult<TokenRow> {
        let row = sqlx::query(&format!(
            "{TOKEN_SELECT} WHERE t.domain_id = $1 AND t.user_id = $2 AND t.key = $3"
        ))
        .bind(domain_id)
        .bind(user_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("token"))?;
        token_from(&row)
    }

    /// A user's long-lived access tokens that are not revoked, newest first (sign-in sessions
    /// are not listed).
    pub async fn list_tokens(
        &self,
        domain_id: i64,
        user_id: i64,
        page: &Page,
    ) -> StoreResult<Paged<TokenRow>> {
        let rows = sqlx::query(&format!(
            "{TOKEN_SELECT} WHERE t.domain_id = $1 AND t.user_id = $2 AND t.revoked_at = 0 AND t.kind = 'token' \
             ORDER BY t.created_at DESC, t.key LIMIT $3 OFFSET $4"
        ))
        .bind(domain_id)
        .bind(user_id)
        .bind(page.size + 1)
        .bind((page.page.max(1) - 1) * page.size)
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(token_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    /// Revokes a token; it stays listed as deleted for audit.
    pub async fn revoke_token(
        &self,
        domain_id: i64,
        user_id: i64,
        key: &str,
    ) -> StoreResult<TokenRow> {
        let res = sqlx::query(
            "UPDATE tokens SET revoked_at = $4, updated_at = $4 \
             WHERE domain_id = $1 AND user_id = $2 AND key = $3 AND revoked_at = 0",
        )
        .bind(domain_id)
        .bind(user_id)
        .bind(key)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("token"));
        }
        self.get_token(domain_id, user_id, key).await
    }

    /// Resolves a bearer by its hash. Revoked and expired tokens are returned too, so that the
    /// caller can say which it was.
    pub async fn session_by_hash(&self, hash: &str) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT t.key, t.kind, t.expires_at, t.revoked_at, u.id AS user_id, u.username, \
             u.name, u.extension, u.chat_name, u.updated_at, d.id AS domain_id, d.name AS domain_name \
             FROM tokens t JOIN users u ON u.id = t.user_id JOIN domains d ON d.id = t.domain_id \
             WHERE t.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                token_key: r.try_get("key")?,
                kind: r.try_get("kind")?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: r.try_get("revoked_at")?,
                user_id: r.try_get("user_id")?,
                username: r.try_get("username")?,
                name: r.try_get("name")?,
                extension: r.try_get("extension")?,
                chat_name: r.try_get("chat_name")?,
                user_updated_at: r.try_get("updated_at")?,
                domain_id: r.try_get("domain_id")?,
                domain_name: r.try_get("domain_name")?,
            })
        })
        .transpose()
    }
}

impl Store {
    /// Revokes every sign-in session (not the long-lived access tokens) of a user; returns the
    /// keys revoked.
    pub async fn revoke_user_sessions(
        &self,
        domain_id: i64,
        user_id: i64,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE tokens SET revoked_at = $3, updated_at = $3 \
             WHERE domain_id = $1 AND user_id = $2 AND kind = 'session' AND revoked_at = 0 \
             RETURNING key",
        )
        .bind(domain_id)
        .bind(user_id)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("key").map_err(Into::into))
            .collect()
    }
}
