//! Sessions: sign-in and the `/userinfo` reply.

use crate::directory::{LicenseUser, Objclass, Permission};
use crate::wire::{flex_string, ObjectId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /login` body (webitel-go `LoginRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct LoginRequest {
    pub domain: String,
    pub username: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

/// OAuth2-like token (`apiAccessToken`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `POST /login` reply.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub authorization: AccessToken,
}

/// `GET /userinfo` reply (`apiUserinfo`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Userinfo {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub dc: Option<String>,
    pub domain: String,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    pub name: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    pub roles: Vec<ObjectId>,
    pub scope: Vec<Objclass>,
    pub license: Vec<LicenseUser>,
    pub permissions: Vec<Permission>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
}
