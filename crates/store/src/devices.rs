use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub account: String,
    pub ha1: String,
    pub user: Option<(i64, String)>,
    pub brand: String,
    pub model: String,
    pub mac: String,
    pub ip: String,
    pub hotdesk: bool,
    pub logged_in: i64,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

/// A device as the SIP digest check sees it (see [`crate::Store::sip_credentials`]).
#[derive(Debug, Clone)]
pub struct SipCredentials {
    pub device_id: i64,
    pub domain_id: i64,
    pub device_name: String,
    pub brand: String,
    /// MD5(account:realm:password).
    pub ha1: String,
    /// The user whose extension was asked about, when they own the device.
    pub owner: Option<SipOwner>,
}

/// The owner in [`SipCredentials`].
#[derive(Debug, Clone)]
pub struct SipOwner {
    pub user_id: i64,
    pub extension: String,
    /// The display name, else the username.
    pub name: String,
}

/// Writable device fields. `ha1` is MD5(account:realm:password), computed by the caller.
#[derive(Debug, Clone, Default)]
pub struct DeviceInput {
    pub name: String,
    pub account: String,
    pub ha1: String,
    pub brand: String,
    pub model: String,
    pub mac: String,
    pub ip: String,
    pub hotdesk: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub name: Option<String>,
    pub account: Option<String>,
    pub user_id: Option<i64>,
}

/// Display name of a user: `name`, or `username` when the name is empty.
pub(crate) fn display(name: Option<String>, username: Option<String>) -> String {
    match name {
        Some(n) if !n.is_empty() => n,
        _ => username.unwrap_or_default(),
    }
}

pub(crate) fn lookup(r: &AnyRow, id: &str, name: &str, username: &str) -> Option<(i64, String)> {
    let id: Option<i64> = r.try_get(id).ok().flatten();
    id.map(|id| {
        (
            id,
            display(
                r.try_get(name).ok().flatten(),
                r.try_get(username).ok().flatten(),
            ),
        )
    })
}

const DEVICE_SELECT: &str = "SELECT d.id, d.domain_id, d.name, d.account, d.ha1, d.user_id, \
    d.brand, d.model, d.mac, d.ip, d.hotdesk, d.logged_in, d.created_at, d.created_by, \
    d.updated_at, d.updated_by, u.name AS u_name, u.username AS u_username, \
    cb.name AS cb_name, cb.username AS cb_username, ub.name AS ub_name, ub.username AS ub_username \
    FROM devices d LEFT JOIN users u ON u.id = d.user_id \
    LEFT JOIN users cb ON cb.id = d.created_by LEFT JOIN users ub ON ub.id = d.updated_by";

fn device_from(r: &AnyRow) -> StoreResult<DeviceRow> {
    Ok(DeviceRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        account: r.try_get("account")?,
        ha1: r.try_get("ha1")?,
        user: lookup(r, "user_id", "u_name", "u_username"),
        brand: r.try_get("brand")?,
        model: r.try_get("model")?,
        mac: r.try_get("mac")?,
        ip: r.try_get("ip")?,
        hotdesk: crate::db::flag(r, "hotdesk"),
        logged_in: r.try_get("logged_in")?,
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        updated_by: lookup(r, "updated_by", "ub_name", "ub_username"),
    })
}

impl Store {
    pub async fn create_device(
        &self,
        domain_id: i64,
        input: &DeviceInput,
        actor: Option<i64>,
    ) -> StoreResult<DeviceRow> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO devices (domain_id, name, account, ha1, brand, model, mac, ip, hotdesk, \
             logged_in, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $10, $11) RETURNING id",
        )
        .bind(domain_id)
        .bind(&input.name)
        .bind(&input.account)
        .bind(&input.ha1)
        .bind(&input.brand)
        .bind(&input.model)
        .bind(&input.mac)
        .bind(&input.ip)
        .bind(input.hotdesk as i64)
        .bind(now)
        .bind(actor)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "account", &input.account))?;
        self.get_device(domain_id, row.try_get("id")?).await
    }

    pub async fn get_device(&self, domain_id: i64, id: i64) -> StoreResult<DeviceRow> {
        let row = sqlx::query(&format!(
            "{DEVICE_SELECT} WHERE d.domain_id = $1 AND d.id = $2"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("device"))?;
        device_from(&row)
    }

    /// The device a SIP digest username names, in the domain named by the realm.
    pub async fn device_by_account(
        &self,
        domain_name: &str,
        account: &str,
    ) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query(&format!(
            "{DEVICE_SELECT} JOIN domains dm ON dm.id = d.domain_id \
             WHERE dm.name = $1 AND d.account = $2"
        ))
        .bind(domain_name)
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(device_from).transpose()
    }

    /// What a SIP digest check needs, in one indexed statement: the device named by the
    /// digest username in the realm's domain, and the user with `extension` if that user owns
    /// it (as default device or one of theirs).
    pub async fn sip_credentials(
        &self,
        domain_name: &str,
        account: &str,
        extension: &str,
    ) -> StoreResult<Option<SipCredentials>> {
        let row = sqlx::query(
            "SELECT d.id, d.domain_id, d.name, d.brand, d.ha1,              u.id AS u_id, u.extension AS u_extension, u.name AS u_name, u.username AS u_username              FROM devices d JOIN domains dm ON dm.id = d.domain_id              LEFT JOIN users u ON u.domain_id = d.domain_id AND u.extension = $3                AND u.extension <> '' AND (u.device_id = d.id OR d.user_id = u.id)              WHERE dm.name = $1 AND d.account = $2",
        )
        .bind(domain_name)
        .bind(account)
        .bind(extension)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let owner = match r.try_get::<Option<i64>, _>("u_id")? {
            Some(id) => {
                let name: String = r.try_get("u_name")?;
                let username: String = r.try_get("u_username")?;
                Some(SipOwner {
                    user_id: id,
                    extension: r.try_get("u_extension")?,
                    name: if name.is_empty() { username } else { name },
                })
            }
            None => None,
        };
        Ok(Some(SipCredentials {
            device_id: r.try_get("id")?,
            domain_id: r.try_get("domain_id")?,
            device_name: r.try_get("name")?,
            brand: r.try_get("brand")?,
            ha1: r.try_get("ha1")?,
            owner,
        }))
    }

    pub async fn search_devices(
        &self,
        domain_id: i64,
        f: &DeviceFilter,
        page: &Page,
    ) -> StoreResult<Paged<DeviceRow>> {
        let order = page.order_by(
            &[
                ("id", "d.id"),
                ("name", "d.name"),
                ("account", "d.account"),
                ("created_at", "d.created_at"),
                ("updated_at", "d.updated_at"),
            ],
            "d.id ASC",
        );
        let q = f.q.as_deref().unwrap_or("");
        let ids = f
            .ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let ids_clause = if f.ids.is_empty() {
            String::new()
        } else {
            format!(" AND d.id IN ({ids})")
        };
        let rows = sqlx::query(&format!(
            "{DEVICE_SELECT} WHERE d.domain_id = $1{ids_clause} \
             AND ($2 = '' OR LOWER(d.name) LIKE $3 ESCAPE '\\' OR LOWER(d.account) LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR d.name = $4) AND ($5 = '' OR d.account = $5) \
             AND ($6 = 0 OR d.user_id = $6) \
             ORDER BY {order} LIMIT $7 OFFSET $8"
        ))
        .bind(domain_id)
        .bind(q)
        .bind(like_pattern(q))
        .bind(f.name.as_deref().unwrap_or(""))
        .bind(f.account.as_deref().unwrap_or(""))
        .bind(f.user_id.unwrap_or(0))
        .bind(page.size + 1)
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(device_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_device(
        &self,
        domain_id: i64,
        id: i64,
        input: &DeviceInput,
        actor: Option<i64>,
    ) -> StoreResult<DeviceRow> {
        let res = sqlx::query(
            "UPDATE devices SET name = $3, account = $4, ha1 = $5, brand = $6, model = $7, \
             mac = $8, ip = $9, hotdesk = $10, updated_at = $11, updated_by = $12 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&input.name)
        .bind(&input.account)
        .bind(&input.ha1)
        .bind(&input.brand)
        .bind(&input.model)
        .bind(&input.mac)
        .bind(&input.ip)
        .bind(input.hotdesk as i64)
        .bind(now_ms())
        .bind(actor)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "account", &input.account))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        self.directory_changed();
        self.get_device(domain_id, id).await
    }

    /// Deletes devices; all must exist in the domain or nothing is deleted.
    pub async fn delete_devices(&self, domain_id: i64, ids: &[i64]) -> StoreResult<Vec<DeviceRow>> {
        let mut deleted = Vec::with_capacity(ids.len());
        for id in ids {
            deleted.push(self.get_device(domain_id, *id).await?);
        }
        let mut w = self.begin_write().await?;
        for id in ids {
            sqlx::query(
                "UPDATE users SET device_id = NULL WHERE domain_id = $1 AND device_id = $2",
            )
            .bind(domain_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
            sqlx::query("DELETE FROM devices WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(id)
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        self.directory_changed();
        Ok(deleted)
    }
}
