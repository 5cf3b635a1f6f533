//! Directory objects: devices, users, access tokens, roles, licences.

use crate::wire::{flex_string, ObjectId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A SIP/WebRTC device (`apiDevice`). `password` is accepted on input and echoed once on create;
/// the platform keeps only its digest HA1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Device {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Owner. Serialised as `{}` when there is none, as in the integration guide.
    pub user: ObjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotdesk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reged: Option<bool>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub logged_in: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// Webitel wraps single devices as `{"device": …}` in its protos.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DeviceEnvelope {
    pub device: Device,
}

/// A live SIP registration of a device (`apiRegistration`, `GET /devices/{id}/registered`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Registration {
    #[serde(deserialize_with = "flex_string")]
    pub id: Option<String>,
    pub user: ObjectId,
    pub device: ObjectId,
    pub callid: String,
    /// The registrar's side: `<transport>:<local address>`.
    pub socket: String,
    /// The bound Contact.
    pub contact: String,
    /// The source the REGISTER came from: `<transport>:<address>`.
    pub received: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    /// Epoch milliseconds.
    #[serde(deserialize_with = "flex_string")]
    pub expires_at: Option<String>,
    #[serde(deserialize_with = "flex_string")]
    pub register_at: Option<String>,
}

/// A licence granted to a user (`apiLicenseUser`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct LicenseUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub issued_at: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<ObjectId>,
}

/// A permission (`apiPermission`), e.g. `playback_record_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Permission {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// A user profile (`apiUser`), also used as `apiInputUser` on create and update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct User {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Input only; never returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<ObjectId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<ObjectId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<Vec<LicenseUser>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_password_change: Option<bool>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// `{"user": …}` as `GET /users/{id}` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UserEnvelope {
    pub user: User,
}

/// A user access token (`apiUserAccessToken`). `token` is the bearer string; it is present only
/// in the reply that creates it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct UserAccessToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<ObjectId>,
}

/// A role (`apiRole`): a named group of object-class grants and permissions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Role {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// Object-class grants (`{class, access}`), Switchboard's view of the role's ACL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<Objclass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<bool>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
}

/// `{"role": …}` (read) and `{"created": …}` (create) envelopes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RoleEnvelope {
    pub role: Role,
}

/// An object-class grant in a session (`apiObjclass`): `access` uses the letters x (create),
/// r (read), w (update), d (delete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Objclass {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    pub class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub access: String,
    pub obac: bool,
    pub rbac: bool,
}

/// A licence product (`apiLicenseV1`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct LicenseV1 {
    pub id: String,
    pub product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub scope: Vec<String>,
    pub limit: i32,
    pub remain: i32,
    pub competitive: bool,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_after: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<LicenseUser>,
}

/// `{"deleted": [...]}` as the bulk deletes answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deleted<T> {
    pub deleted: Vec<T>,
}
