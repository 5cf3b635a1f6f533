//! Store queries of the runtime. They run on spawned tasks, never on the runtime itself.

use switchboard_store::{Store, StoreResult};

/// What the runtime needs to authenticate a request and check the identity it claims.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub domain_id: i64,
    pub device_id: i64,
    /// MD5(account:realm:password).
    pub ha1: String,
    /// The user whose extension the request claims (AOR of a REGISTER, From of an INVITE), when
    /// that user exists and this device is theirs (their default device or one of their devices).
    pub owner: Option<Owner>,
}

/// A user as the runtime tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user_id: i64,
    pub extension: String,
    pub name: String,
}

/// Finds the device named by a digest username in the domain named by the realm, and whether
/// the user with `extension` owns it. `Ok(None)`: no such device.
pub async fn device_auth(
    store: &Store,
    realm: &str,
    account: &str,
    extension: &str,
) -> StoreResult<Option<DeviceAuth>> {
    let Some(device) = store.device_by_account(realm, account).await? else {
        return Ok(None);
    };
    let user = store.user_by_extension(device.domain_id, extension).await?;
    let owner = user
        .filter(|u| {
            u.device.as_ref().is_some_and(|(id, _)| *id == device.id)
                || u.devices.iter().any(|(id, _)| *id == device.id)
        })
        .map(|u| Owner {
            user_id: u.id,
            extension: u.extension.clone(),
            name: u.display_name().to_string(),
        });
    Ok(Some(DeviceAuth {
        domain_id: device.domain_id,
        device_id: device.id,
        ha1: device.ha1,
        owner,
    }))
}

/// The user a dialled extension names, in a domain.
pub async fn user_by_extension(
    store: &Store,
    domain_id: i64,
    extension: &str,
) -> StoreResult<Option<Owner>> {
    Ok(store
        .user_by_extension(domain_id, extension)
        .await?
        .map(|u| Owner {
            user_id: u.id,
            extension: u.extension.clone(),
            name: u.display_name().to_string(),
        }))
}
