//! `/api/devices`: SIP/WebRTC devices. Only the digest HA1 of a password is stored.

use super::{ms, oid};
use crate::auth::{ha1, Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params, RawBody};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use switchboard_model::{Deleted, Device, DeviceEnvelope, ListResponse, ObjectId, Registration};
use switchboard_store::{DeviceFilter, DeviceInput, DeviceRow};

const CLASS: &str = "devices";

/// The device as Webitel shows it, `reged` from the live registrations.
fn to_wire(st: &AppState, row: &DeviceRow) -> Device {
    Device {
        id: Some(row.id.to_string()),
        name: Some(row.name.clone()),
        account: Some(row.account.clone()),
        password: None,
        user: row.user.as_ref().map(oid).unwrap_or_default(),
        hotdesk: Some(row.hotdesk),
        brand: Some(row.brand.clone()).filter(|s| !s.is_empty()),
        model: Some(row.model.clone()).filter(|s| !s.is_empty()),
        mac: Some(row.mac.clone()).filter(|s| !s.is_empty()),
        ip: Some(row.ip.clone()).filter(|s| !s.is_empty()),
        reged: Some(st.presence.device_registered(row.domain_id, row.id)),
        logged_in: ms(row.logged_in),
        created_at: ms(row.created_at),
        created_by: row.created_by.as_ref().map(oid),
        updated_at: ms(row.updated_at),
        updated_by: row.updated_by.as_ref().map(oid),
    }
}

fn valid_account(account: &str) -> ApiResult<()> {
    if account.trim().is_empty() {
        return Err(ApiError::bad_request(
            "app.device.valid.account",
            "account is required: the SIP digest username of the device",
        ));
    }
    if account.len() > 128
        || account
            .chars()
            .any(|c| c == ':' || c == '@' || c.is_whitespace())
    {
        return Err(ApiError::bad_request(
            "app.device.valid.account",
            "account may not contain ':', '@' or spaces and is at most 128 characters",
        ));
    }
    Ok(())
}

fn valid_password(password: &str) -> ApiResult<()> {
    if password.is_empty() {
        return Err(ApiError::bad_request(
            "app.device.valid.password",
            "password is required",
        ));
    }
    Ok(())
}

/// The device's stored state with `d` applied: `merge` keeps absent fields (PATCH), otherwise
/// absent fields are cleared (PUT). A new account or password recomputes the HA1.
fn apply(realm: &str, base: Option<&DeviceRow>, d: &Device, merge: bool) -> ApiResult<DeviceInput> {
    let keep = |new: &Option<String>, old: Option<&String>| -> String {
        match (new, merge) {
            (Some(v), _) => v.clone(),
            (None, true) => old.cloned().unwrap_or_default(),
            (None, false) => String::new(),
        }
    };
    let account = match (&d.account, base) {
        (Some(a), _) => a.trim().to_string(),
        (None, Some(b)) => b.account.clone(),
        (None, None) => String::new(),
    };
    valid_account(&account)?;
    let ha1 = match (&d.password, base) {
        (Some(p), _) => {
            valid_password(p)?;
            ha1(&account, realm, p)
        }
        (None, Some(b)) if b.account == account => b.ha1.clone(),
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "app.device.valid.password",
                "changing the account needs the password too: the digest HA1 depends on both",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "app.device.valid.password",
                "password is required",
            ))
        }
    };
    let name = keep(&d.name, base.map(|b| &b.name));
    Ok(DeviceInput {
        name: if name.is_empty() {
            account.clone()
        } else {
            name
        },
        account,
        ha1,
        brand: keep(&d.brand, base.map(|b| &b.brand)),
        model: keep(&d.model, base.map(|b| &b.model)),
        mac: keep(&d.mac, base.map(|b| &b.mac)),
        ip: keep(&d.ip, base.map(|b| &b.ip)),
        hotdesk: d
            .hotdesk
            .unwrap_or(merge && base.map(|b| b.hotdesk).unwrap_or(false)),
    })
}

/// Create a device. Answers the device itself (as the integration guide shows), with the
/// password echoed once.
#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = Device,
    responses((status = 200, body = Device), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(d): JsonBody<Device>,
) -> ApiResult<Json<Device>> {
    c.require(CLASS, Access::Create)?;
    let input = apply(&c.domain_name, None, &d, false)?;
    let row = st
        .store
        .create_device(c.domain_id, &input, Some(c.user_id))
        .await?;
    let mut out = to_wire(&st, &row);
    out.password = d.password;
    Ok(Json(out))
}

/// Search devices: `q`, `name`, `account`, `ids`, `user.id`, paging and `sort`.
#[utoipa::path(get, path = "/api/devices", tag = "devices",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<Device>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let filter = DeviceFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("ids")?,
        name: p.get("name").map(str::to_string),
        account: p.get("account").map(str::to_string),
        user_id: p.int("user.id")?,
    };
    let res = st.store.search_devices(c.domain_id, &filter, &page).await?;
    Ok(Json(super::page_json(&p, &page, &res, |r| to_wire(&st, r))))
}

/// Read a device: `{"device": …}`.
#[utoipa::path(get, path = "/api/devices/{id}", tag = "devices",
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceEnvelope), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceEnvelope>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_device(c.domain_id, path_id(&id, "device")?)
        .await?;
    Ok(Json(DeviceEnvelope {
        device: to_wire(&st, &row),
    }))
}

/// The device's live SIP registrations (`ListRegistrationsResponse`).
#[utoipa::path(get, path = "/api/devices/{id}/registered", tag = "devices",
    params(("id" = String, Path)),
    responses((status = 200, body = ListResponse<Registration>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn registered(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListResponse<Registration>>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_device(c.domain_id, path_id(&id, "device")?)
        .await?;
    let items = st.presence.device_registrations(c.domain_id, row.id);
    Ok(Json(ListResponse {
        page: Some(1),
        size: Some(i32::try_from(items.len()).unwrap_or(i32::MAX)),
        next: false,
        items,
    }))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    d: Device,
    merge: bool,
) -> ApiResult<Json<DeviceEnvelope>> {
    c.require(CLASS, Access::Update)?;
    let id = path_id(&id, "device")?;
    let base = st.store.get_device(c.domain_id, id).await?;
    let input = apply(&c.domain_name, Some(&base), &d, merge)?;
    let row = st
        .store
        .update_device(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    Ok(Json(DeviceEnvelope {
        device: to_wire(&st, &row),
    }))
}

/// Replace a device.
#[utoipa::path(put, path = "/api/devices/{id}", tag = "devices", request_body = Device,
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceEnvelope), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<Device>,
) -> ApiResult<Json<DeviceEnvelope>> {
    write(st, c, id, d, false).await
}

/// Change some fields of a device.
#[utoipa::path(patch, path = "/api/devices/{id}", tag = "devices", request_body = Device,
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceEnvelope), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<Device>,
) -> ApiResult<Json<DeviceEnvelope>> {
    write(st, c, id, d, true).await
}

async fn delete(st: AppState, c: Caller, ids: Vec<i64>) -> ApiResult<Json<Deleted<Device>>> {
    c.require(CLASS, Access::Delete)?;
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "app.device.valid.id",
            "name the devices to delete",
        ));
    }
    let rows = st.store.delete_devices(c.domain_id, &ids).await?;
    Ok(Json(Deleted {
        deleted: rows.iter().map(|r| to_wire(&st, r)).collect(),
    }))
}

/// Delete a device.
#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices",
    params(("id" = String, Path)),
    responses((status = 200, body = Deleted<Device>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_one(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted<Device>>> {
    let id = path_id(&id, "device")?;
    delete(st, c, vec![id]).await
}

#[derive(Deserialize, Default)]
pub struct IdsBody {
    #[serde(default)]
    ids: Vec<ObjectIdOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ObjectIdOrString {
    Plain(#[serde(deserialize_with = "flex")] String),
    Obj(ObjectId),
}

fn flex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    switchboard_model::wire::flex_string(d).map(|o| o.unwrap_or_default())
}

/// Delete several devices: body `{"ids": [...]}` or query `id`/`ids`.
#[utoipa::path(delete, path = "/api/devices", tag = "devices",
    responses((status = 200, body = Deleted<Device>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_many(
    State(st): State<AppState>,
    c: Caller,
    p: Params,
    body: RawBody,
) -> ApiResult<Json<Deleted<Device>>> {
    let mut ids = p.ints("ids")?;
    ids.extend(p.ints("id")?);
    if let Some(b) = body.json::<IdsBody>()? {
        for i in b.ids {
            let raw = match i {
                ObjectIdOrString::Plain(s) => s,
                ObjectIdOrString::Obj(o) => o.id.unwrap_or_default(),
            };
            ids.push(path_id(&raw, "device")?);
        }
    }
    delete(st, c, ids).await
}
