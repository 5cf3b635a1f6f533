//! `/api/users`: users with their roles, devices and licences.

use super::admins::Rights;
use super::{ms, oid};
use crate::auth::{hash_password, Access, AuthEvent, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params, RawBody};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{Deleted, LicenseUser, ListResponse, ObjectId, User, UserEnvelope};
use switchboard_store::{UserFilter, UserInput, UserRow};

const CLASS: &str = "users";

pub(crate) fn to_wire(u: &UserRow) -> User {
    User {
        id: Some(u.id.to_string()),
        name: Some(u.name.clone()),
        username: Some(u.username.clone()),
        password: None,
        email: Some(u.email.clone()).filter(|s| !s.is_empty()),
        extension: Some(u.extension.clone()).filter(|s| !s.is_empty()),
        chat_name: Some(u.chat_name.clone()).filter(|s| !s.is_empty()),
        roles: Some(u.roles.iter().map(oid).collect()),
        device: u.device.as_ref().map(oid),
        devices: Some(u.devices.iter().map(oid).collect()),
        license: Some(
            u.licenses
                .iter()
                .map(|l| LicenseUser {
                    id: Some(l.license_id.clone()),
                    prod: Some(l.product.clone()),
                    name: Some(l.name.clone()).filter(|s| !s.is_empty()),
                    scope: l.scopes.clone(),
                    issued_at: ms(l.issued_at),
                    expires_at: ms(l.not_after),
                    user: None,
                })
                .collect(),
        ),
        permissions: None,
        profile: serde_json::from_str(&u.profile)
            .ok()
            .filter(|m: &std::collections::BTreeMap<String, String>| !m.is_empty()),
        force_password_change: None,
        created_at: ms(u.created_at),
        created_by: u.created_by.as_ref().map(oid),
        updated_at: ms(u.updated_at),
        updated_by: u.updated_by.as_ref().map(oid),
    }
}

fn ref_id(o: &ObjectId, what: &str) -> ApiResult<i64> {
    o.int_id().ok_or_else(|| {
        ApiError::bad_request(
            format!("app.user.valid.{what}"),
            format!("{what} reference needs a numeric id, got {:?}", o.id),
        )
    })
}

/// Licence references name a licence by `id` (its serial) or by product (`prod`).
async fn license_ids(st: &AppState, domain_id: i64, l: &[LicenseUser]) -> ApiResult<Vec<String>> {
    let mut out = Vec::with_capacity(l.len());
    let mut products = None;
    for lu in l {
        match (&lu.id, &lu.prod) {
            (Some(id), _) if !id.is_empty() => out.push(id.clone()),
            (_, Some(prod)) if !prod.is_empty() => {
                if products.is_none() {
                    products = Some(st.store.list_licenses(domain_id).await?);
                }
                let found = products
                    .as_ref()
                    .and_then(|ls| ls.iter().find(|x| x.product.eq_ignore_ascii_case(prod)))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "app.user.valid.license",
                            format!("no licence of product {prod:?} in this domain"),
                        )
                    })?;
                out.push(found.id.clone());
            }
            _ => {
                return Err(ApiError::bad_request(
                    "app.user.valid.license",
                    "a licence reference needs an id or a prod",
                ))
            }
        }
    }
    Ok(out)
}

/// The user's stored state with `u` applied; `merge` keeps absent fields (PATCH).
async fn apply(
    st: &AppState,
    domain_id: i64,
    base: Option<&UserRow>,
    u: User,
    merge: bool,
) -> ApiResult<UserInput> {
    let pick = |new: Option<String>, old: Option<&String>| -> String {
        match (new, merge) {
            (Some(v), _) => v,
            (None, true) => old.cloned().unwrap_or_default(),
            (None, false) => String::new(),
        }
    };
    let username = pick(u.username, base.map(|b| &b.username))
        .trim()
        .to_string();
    if username.is_empty() {
        return Err(ApiError::bad_request(
            "app.user.valid.username",
            "username is required",
        ));
    }
    let extension = pick(u.extension, base.map(|b| &b.extension))
        .trim()
        .to_string();
    if !extension
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+*#-_.".contains(c))
    {
        return Err(ApiError::bad_request(
            "app.user.valid.extension",
            "extension may hold letters, digits and + * # - _ . only",
        ));
    }
    let password_hash = match u.password {
        Some(p) if !p.is_empty() => Some(hash_password(p).await?),
        _ => None,
    };
    let role_ids = match u.roles {
        Some(r) => r
            .iter()
            .map(|o| ref_id(o, "role"))
            .collect::<ApiResult<_>>()?,
        None if merge => base
            .map(|b| b.roles.iter().map(|r| r.0).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let device_id = match u.device {
        Some(d) if d.is_empty() => None,
        Some(d) => Some(ref_id(&d, "device")?),
        None if merge => base.and_then(|b| b.device.as_ref().map(|d| d.0)),
        None => None,
    };
    let device_ids = match u.devices {
        Some(ds) => ds
            .iter()
            .map(|o| ref_id(o, "device"))
            .collect::<ApiResult<_>>()?,
        None if merge => base
            .map(|b| b.devices.iter().map(|d| d.0).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let license_ids = match u.license {
        Some(l) => license_ids(st, domain_id, &l).await?,
        None if merge => base
            .map(|b| b.licenses.iter().map(|l| l.license_id.clone()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let profile = match u.profile {
        Some(p) => serde_json::to_string(&p).unwrap_or_else(|_| "{}".into()),
        None if merge => base
            .map(|b| b.profile.clone())
            .unwrap_or_else(|| "{}".into()),
        None => "{}".into(),
    };
    Ok(UserInput {
        username,
        password_hash,
        name: pick(u.name, base.map(|b| &b.name)),
        email: pick(u.email, base.map(|b| &b.email)),
        extension,
        chat_name: pick(u.chat_name, base.map(|b| &b.chat_name)),
        profile,
        device_id,
        device_ids,
        role_ids,
        license_ids,
    })
}

/// Create a user with roles, default device, devices and licences (the guide's second step).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = User,
    responses((status = 200, body = User), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(u): JsonBody<User>,
) -> ApiResult<Json<User>> {
    c.require(CLASS, Access::Create)?;
    let input = apply(&st, c.domain_id, None, u, false).await?;
    Rights::load(&st.store, c.domain_id)
        .await?
        .require_held(&c, &input.role_ids)?;
    let row = st
        .store
        .create_user(c.domain_id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Search users: `q`, `name`, `username`, `extension`, `id`, paging and `sort`.
#[utoipa::path(get, path = "/api/users", tag = "users",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<User>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let filter = UserFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        name: p.get("name").map(str::to_string),
        username: p.get("username").map(str::to_string),
        extension: p.get("extension").map(str::to_string),
    };
    let res = st.store.search_users(c.domain_id, &filter, &page).await?;
    Ok(Json(super::page_json(&p, &page, &res, to_wire)))
}

/// Read a user: `{"user": …}`.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserEnvelope), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserEnvelope>> {
    let id = path_id(&id, "user")?;
    if id != c.user_id {
        c.require(CLASS, Access::Read)?;
    }
    let row = st.store.get_user(c.domain_id, id).await?;
    Ok(Json(UserEnvelope {
        user: to_wire(&row),
    }))
}

async fn write(st: AppState, c: Caller, id: String, u: User, merge: bool) -> ApiResult<Json<User>> {
    c.require(CLASS, Access::Update)?;
    let id = path_id(&id, "user")?;
    let base = st.store.get_user(c.domain_id, id).await?;
    let input = apply(&st, c.domain_id, Some(&base), u, merge).await?;
    let rights = Rights::load(&st.store, c.domain_id).await?;
    let held: Vec<i64> = base.roles.iter().map(|r| r.0).collect();
    let changed: Vec<i64> = held
        .iter()
        .filter(|r| !input.role_ids.contains(r))
        .chain(input.role_ids.iter().filter(|r| !held.contains(r)))
        .copied()
        .collect();
    rights.require_held(&c, &changed)?;
    let now = switchboard_store::now_ms();
    if rights.user_is_admin(&base, now) && !rights.admin(&input.role_ids, &input.license_ids, now) {
        rights
            .keep_an_admin(&st.store, c.domain_id, &[id], now)
            .await?;
    }
    let row = st
        .store
        .update_user(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    st.invalidate(AuthEvent::UserChanged { user_id: id });
    // An agent's name and extension are its user's.
    st.cc.changed(c.domain_id);
    Ok(Json(to_wire(&row)))
}

/// Replace a user.
#[utoipa::path(put, path = "/api/users/{id}", tag = "users", request_body = User,
    params(("id" = String, Path)),
    responses((status = 200, body = User), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<User>,
) -> ApiResult<Json<User>> {
    write(st, c, id, u, false).await
}

/// Change some fields of a user.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = User,
    params(("id" = String, Path)),
    responses((status = 200, body = User), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<User>,
) -> ApiResult<Json<User>> {
    write(st, c, id, u, true).await
}

async fn delete(st: AppState, c: Caller, ids: Vec<i64>) -> ApiResult<Json<Deleted<User>>> {
    c.require(CLASS, Access::Delete)?;
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "app.user.valid.id",
            "name the users to delete",
        ));
    }
    if ids.contains(&c.user_id) {
        return Err(ApiError::bad_request(
            "app.user.valid.id",
            "a user cannot delete itself",
        ));
    }
    Rights::load(&st.store, c.domain_id)
        .await?
        .keep_an_admin(&st.store, c.domain_id, &ids, switchboard_store::now_ms())
        .await?;
    let rows = st.store.delete_users(c.domain_id, &ids).await?;
    for id in &ids {
        st.invalidate(AuthEvent::UserChanged { user_id: *id });
    }
    // Their agents went with them.
    st.cc.changed(c.domain_id);
    Ok(Json(Deleted {
        deleted: rows.iter().map(to_wire).collect(),
    }))
}

/// Delete a user, its tokens and its licence grants; its devices remain, unassigned.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = Deleted<User>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_one(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted<User>>> {
    let id = path_id(&id, "user")?;
    delete(st, c, vec![id]).await
}

/// Delete several users: body `{"selection": [...]}` or query `id`.
#[utoipa::path(delete, path = "/api/users", tag = "users",
    responses((status = 200, body = Deleted<User>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_many(
    State(st): State<AppState>,
    c: Caller,
    p: Params,
    body: RawBody,
) -> ApiResult<Json<Deleted<User>>> {
    let mut ids = p.ints("id")?;
    ids.extend(p.ints("selection")?);
    if let Some(v) = body.json::<Value>()? {
        let list = v.get("selection").or_else(|| v.get("ids")).cloned();
        if let Some(Value::Array(items)) = list {
            for it in items {
                let raw = match it {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    other => other
                        .get("id")
                        .map(|v| v.to_string().trim_matches('"').to_string())
                        .unwrap_or_default(),
                };
                ids.push(path_id(&raw, "user")?);
            }
        }
    }
    delete(st, c, ids).await
}
