use crate::{now_ms, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A licence product of a domain with its seat usage.
#[derive(Debug, Clone)]
pub struct LicenseRow {
    pub id: String,
    pub domain_id: i64,
    pub product: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub seats: i64,
    pub used: i64,
    pub not_before: i64,
    pub not_after: i64,
}

impl LicenseRow {
    /// Valid at `now` (ms): `not_before <= now < not_after`, 0 meaning unbounded.
    pub fn active(&self, now: i64) -> bool {
        (self.not_before == 0 || self.not_before <= now)
            && (self.not_after == 0 || now < self.not_after)
    }
}

/// A licence held by a user.
#[derive(Debug, Clone)]
pub struct LicenseGrant {
    pub user_id: i64,
    pub license_id: String,
    pub product: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub not_before: i64,
    pub not_after: i64,
}

impl LicenseGrant {
    /// Valid at `now` (ms): `not_before <= now < not_after`, 0 meaning unbounded.
    pub fn active(&self, now: i64) -> bool {
        (self.not_before == 0 || self.not_before <= now)
            && (self.not_after == 0 || now < self.not_after)
    }
}

fn license_from(r: &AnyRow) -> StoreResult<LicenseRow> {
    let scopes: String = r.try_get("scopes")?;
    Ok(LicenseRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        product: r.try_get("product")?,
        name: r.try_get("name")?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        seats: r.try_get("seats")?,
        used: r.try_get("used")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
    })
}

pub(crate) fn grant_from(r: &AnyRow) -> StoreResult<LicenseGrant> {
    let scopes: String = r.try_get("scopes")?;
    Ok(LicenseGrant {
        user_id: r.try_get("user_id")?,
        license_id: r.try_get("license_id")?,
        product: r.try_get("product")?,
        name: r.try_get("name")?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        issued_at: r.try_get("issued_at")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
    })
}

pub(crate) const GRANT_SELECT: &str =
    "SELECT ul.user_id, ul.license_id, ul.issued_at, l.product, l.name, l.scopes, \
     l.not_before, l.not_after FROM user_licenses ul JOIN licenses l ON l.id = ul.license_id";

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_license(
        &self,
        id: &str,
        domain_id: i64,
        product: &str,
        name: &str,
        scopes: &[String],
        seats: i64,
        not_before: i64,
        not_after: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO licenses (id, domain_id, product, name, scopes, seats, not_before, \
             not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(domain_id)
        .bind(product)
        .bind(name)
        .bind(serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into()))
        .bind(seats)
        .bind(not_before)
        .bind(not_after)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "license", id))?;
        Ok(())
    }

    pub async fn list_licenses(&self, domain_id: i64) -> StoreResult<Vec<LicenseRow>> {
        let rows = sqlx::query(
            "SELECT l.id, l.domain_id, l.product, l.name, l.scopes, l.seats, l.not_before, \
             l.not_after, (SELECT COUNT(*) FROM user_licenses ul WHERE ul.license_id = l.id) \
             AS used FROM licenses l WHERE l.domain_id = $1 ORDER BY l.created_at, l.id",
        )
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(license_from).collect()
    }

    /// Every grant of every licence in the domain, for the licence listing (one query).
    pub async fn license_grants(&self, domain_id: i64) -> StoreResult<Vec<(LicenseGrant, String)>> {
        let rows = sqlx::query(
            "SELECT ul.user_id, ul.license_id, ul.issued_at, l.product, l.name, l.scopes, \
             l.not_before, l.not_after, u.name AS uname, u.username AS uusername \
             FROM user_licenses ul JOIN licenses l ON l.id = ul.license_id \
             JOIN users u ON u.id = ul.user_id WHERE l.domain_id = $1 ORDER BY ul.issued_at",
        )
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("uname")?;
                let username: String = r.try_get("uusername")?;
                Ok((
                    grant_from(r)?,
                    if name.is_empty() { username } else { name },
                ))
            })
            .collect()
    }

    /// The licences a user holds.
    pub async fn user_license_grants(&self, user_id: i64) -> StoreResult<Vec<LicenseGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_SELECT} WHERE ul.user_id = $1 ORDER BY ul.issued_at"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant_from).collect()
    }
}
