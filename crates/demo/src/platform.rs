//! Everything the demo asks of the platform, through the public REST API only: the settings
//! check and the guide's flow (device → user → user token) and its undoing.

use crate::{DemoError, NewUser};
use axum::http::StatusCode;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use serde_json::{json, Value};
use switchboard_client::{Client, Error as ClientError, Search};
use switchboard_model::{Device, LicenseUser, ObjectId, User};

/// The four settings of the integration guide, plus whether browsers use a STUN server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// e.g. `https://cloud.webitel.com/api/`
    pub rest_endpoint: String,
    /// e.g. `wss://cloud.webitel.com/ws/`
    pub ws_endpoint: String,
    pub integration_token: String,
    /// e.g. `my-company.lo`
    pub domain: String,
    /// Off by default: webitel-sdk's default STUN server is on the internet.
    pub use_stun: bool,
}

/// What a successful provisioning leaves: exactly what the guide says to keep (and the licence
/// used, for display).
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub user_id: String,
    pub device_id: String,
    pub token: String,
    pub license: String,
}

fn client(s: &Settings) -> Result<Client, DemoError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("switchboard-demo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(DemoError::internal)?;
    Client::with_http(http, &s.rest_endpoint, Some(s.integration_token.clone()))
        .map_err(|e| DemoError::bad_request(format!("REST endpoint: {e}")))
}

/// A platform error as a reply the admin can act on.
fn failed(what: &str, e: ClientError) -> DemoError {
    let status = match e.status() {
        Some(401) | Some(403) => StatusCode::FORBIDDEN,
        Some(409) => StatusCode::CONFLICT,
        Some(400) | Some(422) => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    let detail = match &e {
        ClientError::Api(a) => format!("{} ({}): {}", a.id, a.code, a.detail),
        other => other.to_string(),
    };
    DemoError::new(status, format!("{what}: {detail}"))
}

/// Checks the settings with real calls: `GET /userinfo` (the token works and belongs to the
/// domain) and `GET /license` (it may read licences, which user creation needs).
pub async fn check(s: &Settings) -> Result<Value, DemoError> {
    if s.domain.is_empty() {
        return Err(DemoError::bad_request("the users' domain is required"));
    }
    let ws_ok = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|p| s.ws_endpoint.starts_with(p));
    if !ws_ok {
        return Err(DemoError::bad_request(
            "the WebSocket endpoint must be a ws:// or wss:// URL, e.g. wss://host/ws/",
        ));
    }
    let api = client(s)?;
    let me = api
        .userinfo()
        .await
        .map_err(|e| failed("the test call GET /userinfo failed", e))?;
    if !me.domain.eq_ignore_ascii_case(&s.domain) {
        return Err(DemoError::bad_request(format!(
            "the integration token belongs to domain {:?}, not {:?}",
            me.domain, s.domain
        )));
    }
    let lic = api
        .licenses()
        .await
        .map_err(|e| failed("the test call GET /license failed", e))?;
    Ok(json!({
        "name": me.name,
        "domain": me.domain,
        "licenses": lic.items.len(),
    }))
}

#[derive(Serialize)]
pub struct LicenseView {
    id: String,
    product: String,
    limit: i32,
    remain: i32,
}

pub async fn licenses(s: &Settings) -> Result<Vec<LicenseView>, DemoError> {
    let lic = client(s)?
        .licenses()
        .await
        .map_err(|e| failed("GET /license failed", e))?;
    Ok(lic
        .items
        .into_iter()
        .map(|l| LicenseView {
            id: l.id,
            product: l.product,
            limit: l.limit,
            remain: l.remain,
        })
        .collect())
}

fn secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

fn id_ref(id: &str) -> ObjectId {
    ObjectId {
        id: Some(id.to_string()),
        name: None,
    }
}

/// The platform user holding `extension`, if any (exact matches only).
async fn user_with_extension(api: &Client, extension: &str) -> Result<Option<User>, ClientError> {
    let page = api
        .search_users(
            &Search::new()
                .size(100)
                .q(extension)
                .filter("extension", extension),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .find(|u| u.extension.as_deref().map(str::trim) == Some(extension)))
}

/// The guide's flow. On any failure what was created is deleted again, so that a retry starts
/// from a clean platform.
pub async fn provision(s: &Settings, u: &NewUser) -> Result<Provisioned, DemoError> {
    let api = client(s)?;
    if let Some(other) = user_with_extension(&api, &u.extension)
        .await
        .map_err(|e| failed("searching users by extension", e))?
    {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            format!(
                "extension {} already belongs to platform user {} ({}); pick another extension",
                u.extension,
                other.id.unwrap_or_default(),
                other.name.unwrap_or_default()
            ),
        ));
    }
    let roles = api
        .roles(&Search::new().size(100))
        .await
        .map_err(|e| failed("listing roles", e))?
        .items;
    let role = roles
        .iter()
        .find(|r| r.name.as_deref() == Some("user"))
        .or_else(|| roles.first())
        .and_then(|r| r.id.clone());
    let license = if u.license.is_empty() {
        licenses(s)
            .await?
            .into_iter()
            .find(|l| l.remain > 0)
            .map(|l| l.id)
            .ok_or_else(|| {
                DemoError::new(
                    StatusCode::CONFLICT,
                    "no licence has a free seat on the platform",
                )
            })?
    } else {
        u.license.clone()
    };

    let device = api
        .create_device(&Device {
            name: Some(format!("web phone of {}", u.name)),
            // A random suffix: a re-created device never collides with a leftover account.
            account: Some(format!("{}-{}", u.extension, secret(6).to_lowercase())),
            password: Some(secret(20)),
            ..Default::default()
        })
        .await
        .map_err(|e| failed("creating the device", e))?;
    let device_id = device
        .id
        .ok_or_else(|| DemoError::internal("the new device has no id"))?;

    let input = User {
        name: Some(u.name.clone()),
        email: Some(u.email.clone()).filter(|e| !e.is_empty()),
        username: Some(u.login.clone()),
        // The platform password is never used: the browser works with the user token.
        password: Some(secret(24)),
        extension: Some(u.extension.clone()),
        roles: Some(role.iter().map(|r| id_ref(r)).collect()),
        device: Some(id_ref(&device_id)),
        devices: Some(vec![id_ref(&device_id)]),
        license: Some(vec![LicenseUser {
            id: Some(license.clone()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let user_id = match api.create_user(&input).await {
        Ok(user) => user.id,
        Err(e) => {
            // When the reply was lost the user may exist all the same.
            let found = if e.outcome_unknown() {
                user_with_extension(&api, &u.extension).await.ok().flatten()
            } else {
                None
            };
            match found {
                Some(user)
                    if user.device.as_ref().and_then(|d| d.id.as_deref()) == Some(&device_id) =>
                {
                    user.id
                }
                _ => {
                    remove_device(&api, &device_id).await;
                    return Err(failed("creating the user", e));
                }
            }
        }
    };
    let Some(user_id) = user_id else {
        remove_device(&api, &device_id).await;
        return Err(DemoError::internal("the new user has no id"));
    };
    let token = match api.create_token(&user_id, Some("switchboard-demo")).await {
        Ok(t) => t.token,
        Err(e) => {
            deprovision(s, &user_id, &device_id).await.ok();
            return Err(failed("issuing the user token", e));
        }
    };
    let Some(token) = token else {
        deprovision(s, &user_id, &device_id).await.ok();
        return Err(DemoError::internal("the token reply holds no token"));
    };
    Ok(Provisioned {
        user_id,
        device_id,
        token,
        license,
    })
}

async fn remove_device(api: &Client, id: &str) {
    if let Err(e) = api.delete_device(id).await {
        if !e.is_not_found() {
            tracing::warn!("demo: could not delete device {id} after a failure: {e}");
        }
    }
}

fn gone(r: Result<(), ClientError>) -> Result<(), ClientError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Revokes the user's tokens, deletes the user, then the device. Things already gone count as
/// deleted, so this can be repeated.
pub async fn deprovision(s: &Settings, user_id: &str, device_id: &str) -> Result<(), DemoError> {
    let api = client(s)?;
    match api.tokens(user_id, &Search::new().size(100)).await {
        Ok(list) => {
            for t in list.items {
                if let Some(id) = t.id {
                    gone(api.revoke_token(user_id, &id).await.map(drop))
                        .map_err(|e| failed("revoking the user token", e))?;
                }
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(failed("listing the user's tokens", e)),
    }
    gone(api.delete_user(user_id).await.map(drop)).map_err(|e| failed("deleting the user", e))?;
    gone(api.delete_device(device_id).await.map(drop))
        .map_err(|e| failed("deleting the device", e))?;
    Ok(())
}
