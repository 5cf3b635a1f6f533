use crate::devices::lookup;
use crate::licenses::LicenseGrant;
use crate::{like_pattern, now_ms, Backend, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub domain_id: i64,
    pub username: String,
    pub password_hash: String,
    pub name: String,
    pub email: String,
    pub extension: String,
    pub chat_name: String,
    pub profile: String,
    pub device: Option<(i64, String)>,
    pub devices: Vec<(i64, String)>,
    pub roles: Vec<(i64, String)>,
    pub licenses: Vec<LicenseGrant>,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

impl UserRow {
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }
}

/// The full writable state of a user. `password_hash: None` keeps the stored hash.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub username: String,
    pub password_hash: Option<String>,
    pub name: String,
    pub email: String,
    pub extension: String,
    pub chat_name: String,
    pub profile: String,
    pub device_id: Option<i64>,
    pub device_ids: Vec<i64>,
    pub role_ids: Vec<i64>,
    pub license_ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub extension: Option<String>,
}

/// The user columns plus its roles, devices and licences as JSON arrays, so that every read of
/// users (one or a page) is a single statement. Only the JSON functions differ per backend.
pub(crate) fn user_select(backend: Backend) -> String {
    let list = |fields: &str, from: &str| match backend {
        Backend::Sqlite => format!("(SELECT json_group_array(json_object({fields})) {from})"),
        Backend::Postgres => {
            format!("(SELECT COALESCE(json_agg(json_build_object({fields}))::text, '[]') {from})")
        }
    };
    format!(
        "SELECT usr.id, usr.domain_id, usr.username, usr.password_hash, \
         usr.name, usr.email, usr.extension, usr.chat_name, usr.profile, usr.device_id, \
         usr.created_at, usr.created_by, usr.updated_at, usr.updated_by, \
         dv.name AS dv_name, dv.account AS dv_account, \
         cb.name AS cb_name, cb.username AS cb_username, ub.name AS ub_name, \
         ub.username AS ub_username, {roles} AS roles_json, {devices} AS devices_json, \
         {licenses} AS licenses_json \
         FROM users usr LEFT JOIN devices dv ON dv.id = usr.device_id \
         LEFT JOIN users cb ON cb.id = usr.created_by LEFT JOIN users ub ON ub.id = usr.updated_by",
        roles = list(
            "'id', r.id, 'name', r.name",
            "FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = usr.id"
        ),
        devices = list(
            "'id', d.id, 'name', CASE WHEN d.name = '' THEN d.account ELSE d.name END",
            "FROM devices d WHERE d.user_id = usr.id"
        ),
        licenses = list(
            "'license_id', l.id, 'issued_at', ul.issued_at, 'product', l.product, 'name', l.name, \
             'scopes', l.scopes, 'not_before', l.not_before, 'not_after', l.not_after",
            "FROM user_licenses ul JOIN licenses l ON l.id = ul.license_id WHERE ul.user_id = usr.id"
        ),
    )
}

#[derive(serde::Deserialize)]
struct IdName {
    id: i64,
    name: String,
}

#[derive(serde::Deserialize)]
struct GrantJson {
    license_id: String,
    issued_at: i64,
    product: String,
    name: String,
    scopes: String,
    not_before: i64,
    not_after: i64,
}

fn id_names(r: &AnyRow, col: &str) -> StoreResult<Vec<(i64, String)>> {
    let raw: String = r.try_get(col)?;
    let mut v: Vec<(i64, String)> = serde_json::from_str::<Vec<IdName>>(&raw)
        .unwrap_or_default()
        .into_iter()
        .map(|x| (x.id, x.name))
        .collect();
    v.sort_by_key(|x| x.0);
    Ok(v)
}

fn user_from(r: &AnyRow) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        extension: r.try_get("extension")?,
        chat_name: r.try_get("chat_name")?,
        profile: r.try_get("profile")?,
        device: lookup(r, "device_id", "dv_name", "dv_account"),
        devices: id_names(r, "devices_json")?,
        roles: id_names(r, "roles_json")?,
        licenses: {
            let raw: String = r.try_get("licenses_json")?;
            let mut v: Vec<LicenseGrant> = serde_json::from_str::<Vec<GrantJson>>(&raw)
                .unwrap_or_default()
                .into_iter()
                .map(|g| LicenseGrant {
                    user_id: r.try_get("id").unwrap_or_default(),
                    license_id: g.license_id,
                    product: g.product,
                    name: g.name,
                    scopes: serde_json::from_str(&g.scopes).unwrap_or_default(),
                    issued_at: g.issued_at,
                    not_before: g.not_before,
                    not_after: g.not_after,
                })
                .collect();
            v.sort_by_key(|g| g.issued_at);
            v
        },
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        updated_by: lookup(r, "updated_by", "ub_name", "ub_username"),
    })
}

/// `IN (…)` list of integers; ids are numbers, so inlining them is injection-safe.
fn int_list(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    pub async fn get_user(&self, domain_id: i64, id: i64) -> StoreResult<UserRow> {
        let generation = match &self.user_cache {
            Some(c) => match c.get(domain_id, id) {
                Some(row) => return Ok((*row).clone()),
                None => Some(c.generation()),
            },
            None => None,
        };
        let row = sqlx::query(&format!(
            "{} WHERE usr.domain_id = $1 AND usr.id = $2",
            self.user_select
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
        let user = user_from(&row)?;
        if let (Some(c), Some(g)) = (&self.user_cache, generation) {
            c.put(g, std::sync::Arc::new(user.clone()));
        }
        Ok(user)
    }

    /// A user found by login name within the named domain (sign-in).
    pub async fn user_by_username(
        &self,
        domain_name: &str,
        username: &str,
    ) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "{} JOIN domains dm ON dm.id = usr.domain_id WHERE dm.name = $1 AND usr.username = $2",
            self.user_select
        ))
        .bind(domain_name)
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// The user with an extension (the dial plan's lookup).
    pub async fn user_by_extension(
        &self,
        domain_id: i64,
        extension: &str,
    ) -> StoreResult<Option<UserRow>> {
        if extension.is_empty() {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "{} WHERE usr.domain_id = $1 AND usr.extension = $2",
            self.user_select
        ))
        .bind(domain_id)
        .bind(extension)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn search_users(
        &self,
        domain_id: i64,
        f: &UserFilter,
        page: &Page,
    ) -> StoreResult<Paged<UserRow>> {
        let order = page.order_by(
            &[
                ("id", "usr.id"),
                ("name", "usr.name"),
                ("username", "usr.username"),
                ("extension", "usr.extension"),
                ("email", "usr.email"),
                ("created_at", "usr.created_at"),
                ("updated_at", "usr.updated_at"),
            ],
            "usr.id ASC",
        );
        let ids_clause = if f.ids.is_empty() {
            String::new()
        } else {
            format!(" AND usr.id IN ({})", int_list(&f.ids))
        };
        let q = f.q.as_deref().unwrap_or("");
        let rows = sqlx::query(&format!(
            "{} WHERE usr.domain_id = $1{ids_clause} \
             AND ($2 = '' OR LOWER(usr.name) LIKE $3 ESCAPE '\\' \
                  OR LOWER(usr.username) LIKE $3 ESCAPE '\\' \
                  OR LOWER(usr.extension) LIKE $3 ESCAPE '\\' \
                  OR LOWER(usr.email) LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR usr.name = $4) AND ($5 = '' OR usr.username = $5) \
             AND ($6 = '' OR usr.extension = $6) \
             ORDER BY {order} LIMIT $7 OFFSET $8",
            self.user_select
        ))
        .bind(domain_id)
        .bind(q)
        .bind(like_pattern(q))
        .bind(f.name.as_deref().unwrap_or(""))
        .bind(f.username.as_deref().unwrap_or(""))
        .bind(f.extension.as_deref().unwrap_or(""))
        .bind(page.size + 1)
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(user_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    /// The users of a domain holding any of `role_ids`, with their roles and licences, in one
    /// statement.
    pub async fn users_with_roles(
        &self,
        domain_id: i64,
        role_ids: &[i64],
    ) -> StoreResult<Vec<UserRow>> {
        if role_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "{} WHERE usr.domain_id = $1 AND usr.id IN \
             (SELECT user_id FROM user_roles WHERE role_id IN ({})) ORDER BY usr.id",
            self.user_select,
            int_list(role_ids)
        ))
        .bind(domain_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    /// Creates a user with its roles, devices and licences in one transaction.
    pub async fn create_user(
        &self,
        domain_id: i64,
        input: &UserInput,
        actor: Option<i64>,
    ) -> StoreResult<UserRow> {
        let now = now_ms();
        let mut w = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO users (domain_id, username, password_hash, name, email, extension, \
             chat_name, profile, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10) RETURNING id",
        )
        .bind(domain_id)
        .bind(&input.username)
        .bind(input.password_hash.clone().unwrap_or_default())
        .bind(&input.name)
        .bind(&input.email)
        .bind(&input.extension)
        .bind(&input.chat_name)
        .bind(&input.profile)
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| user_conflict(e, input))?;
        let id: i64 = row.try_get("id")?;
        self.write_user_relations(&mut w.tx, domain_id, id, input, now)
            .await?;
        w.commit().await?;
        self.directory_changed();
        self.get_user(domain_id, id).await
    }

    /// Replaces the whole writable state of a user in one transaction.
    pub async fn update_user(
        &self,
        domain_id: i64,
        id: i64,
        input: &UserInput,
        actor: Option<i64>,
    ) -> StoreResult<UserRow> {
        let now = now_ms();
        let mut w = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE users SET username = $3, password_hash = COALESCE($4, password_hash), \
             name = $5, email = $6, extension = $7, chat_name = $8, profile = $9, \
             updated_at = $10, updated_by = $11 WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&input.username)
        .bind(input.password_hash.clone())
        .bind(&input.name)
        .bind(&input.email)
        .bind(&input.extension)
        .bind(&input.chat_name)
        .bind(&input.profile)
        .bind(now)
        .bind(actor)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| user_conflict(e, input))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.write_user_relations(&mut w.tx, domain_id, id, input, now)
            .await?;
        w.commit().await?;
        self.directory_changed();
        self.get_user(domain_id, id).await
    }

    /// Roles, devices (ownership), default device and licences of user `id`, validated against
    /// the domain. Licence seats are checked under a row lock (PostgreSQL) or the writer gate.
    async fn write_user_relations(
        &self,
        conn: &mut AnyConnection,
        domain_id: i64,
        id: i64,
        input: &UserInput,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let mut role_ids = input.role_ids.clone();
        role_ids.sort_unstable();
        role_ids.dedup();
        for role in &role_ids {
            let found = sqlx::query("SELECT id FROM roles WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(role)
                .fetch_optional(&mut *conn)
                .await?;
            if found.is_none() {
                return Err(StoreError::Invalid(format!("role {role} not found")));
            }
            sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
                .bind(id)
                .bind(role)
                .execute(&mut *conn)
                .await?;
        }

        let mut device_ids = input.device_ids.clone();
        if let Some(d) = input.device_id {
            device_ids.push(d);
        }
        device_ids.sort_unstable();
        device_ids.dedup();
        sqlx::query("UPDATE devices SET user_id = NULL WHERE domain_id = $1 AND user_id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for dev in &device_ids {
            let owner = sqlx::query("SELECT user_id FROM devices WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(dev)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::Invalid(format!("device {dev} not found")))?;
            if let Some(other) = owner.try_get::<Option<i64>, _>("user_id")? {
                if other != id {
                    return Err(StoreError::Conflict {
                        field: "device",
                        value: format!("{dev} (assigned to user {other})"),
                    });
                }
            }
            sqlx::query("UPDATE devices SET user_id = $2 WHERE id = $1")
                .bind(dev)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("UPDATE users SET device_id = $2 WHERE id = $1")
            .bind(id)
            .bind(input.device_id)
            .execute(&mut *conn)
            .await?;

        let mut wanted = input.license_ids.clone();
        wanted.sort();
        wanted.dedup();
        let held: Vec<String> =
            sqlx::query("SELECT license_id FROM user_licenses WHERE user_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get("license_id"))
                .collect::<Result<_, _>>()?;
        for lic in held.iter().filter(|l| !wanted.contains(l)) {
            sqlx::query("DELETE FROM user_licenses WHERE user_id = $1 AND license_id = $2")
                .bind(id)
                .bind(lic)
                .execute(&mut *conn)
                .await?;
        }
        for lic in wanted.iter().filter(|l| !held.contains(l)) {
            let row = sqlx::query(&format!(
                "SELECT seats, not_after FROM licenses WHERE domain_id = $1 AND id = $2{}",
                self.for_update()
            ))
            .bind(domain_id)
            .bind(lic)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("license {lic} not found")))?;
            let seats: i64 = row.try_get("seats")?;
            let not_after: i64 = row.try_get("not_after")?;
            if not_after != 0 && not_after <= now {
                return Err(StoreError::Invalid(format!("license {lic} has expired")));
            }
            let used: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM user_licenses WHERE license_id = $1")
                    .bind(lic)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("n")?;
            if used >= seats {
                return Err(StoreError::Invalid(format!(
                    "license {lic} has no free seats ({used} of {seats} used)"
                )));
            }
            sqlx::query(
                "INSERT INTO user_licenses (user_id, license_id, issued_at) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(lic)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Deletes users; all must exist in the domain or nothing is deleted. Their tokens go with
    /// them; their devices stay, unassigned.
    pub async fn delete_users(&self, domain_id: i64, ids: &[i64]) -> StoreResult<Vec<UserRow>> {
        let mut deleted = Vec::with_capacity(ids.len());
        for id in ids {
            deleted.push(self.get_user(domain_id, *id).await?);
        }
        let mut w = self.begin_write().await?;
        for id in ids {
            sqlx::query("DELETE FROM users WHERE domain_id = $1 AND id = $2")
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

fn user_conflict(e: sqlx::Error, input: &UserInput) -> StoreError {
    let msg = e
        .as_database_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    if msg.contains("extension") {
        StoreError::unique(e, "extension", &input.extension)
    } else {
        StoreError::unique(e, "username", &input.username)
    }
}
