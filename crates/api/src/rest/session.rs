//! Sign-in, sign-out and `/api/userinfo`.

use super::ms;
use crate::auth::{new_token, token_hash, verify_password, Access, AuthEvent, Caller, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use switchboard_model::{
    AccessToken, LicenseUser, LoginRequest, LoginResponse, Objclass, ObjectId, Permission, Userinfo,
};

/// Sign in with `{domain, username, password}`; answers an OAuth2-style access token.
/// Users without an active licence are refused (412).
#[utoipa::path(post, path = "/api/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = "default", body = switchboard_model::AppError)))]
pub async fn login(
    State(st): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    if req.domain.is_empty() || req.username.is_empty() || req.password.is_empty() {
        return Err(ApiError::bad_request(
            "app.login.valid",
            "domain, username and password are required",
        ));
    }
    let denied = || {
        ApiError::unauthenticated(
            "app.login.invalid_credentials",
            "wrong domain, username or password",
        )
    };
    let user = st
        .store
        .user_by_username(&req.domain, &req.username)
        .await?
        .ok_or_else(denied)?;
    if user.password_hash.is_empty()
        || !verify_password(req.password.clone(), user.password_hash.clone()).await
    {
        return Err(denied());
    }
    let ttl = st.config.session_ttl_secs;
    let (token, key) = new_token();
    st.store
        .create_token(
            user.domain_id,
            user.id,
            &key,
            &token_hash(&token),
            "session",
            "sign-in",
            switchboard_store::now_ms() + ttl * 1000,
            Some(user.id),
        )
        .await?;
    // The licence rule, exactly as every later request applies it.
    if let Err(e) = crate::auth::authenticate(&st, &token).await {
        st.store.revoke_token(user.domain_id, user.id, &key).await?;
        st.invalidate(AuthEvent::TokenRevoked { key });
        return Err(e);
    }
    Ok(Json(LoginResponse {
        authorization: AccessToken {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: ttl as i32,
            refresh_token: None,
            state: None,
        },
    }))
}

fn userinfo(s: &Session) -> Userinfo {
    Userinfo {
        dc: Some(s.domain_id.to_string()),
        domain: s.domain_name.clone(),
        user_id: Some(s.user_id.to_string()),
        name: s.display_name().to_string(),
        username: s.username.clone(),
        preferred_username: Some(s.username.clone()),
        extension: Some(s.extension.clone()).filter(|e| !e.is_empty()),
        roles: s
            .roles
            .iter()
            .map(|(id, name)| ObjectId::new(*id, name.clone()))
            .collect(),
        scope: s
            .scopes
            .iter()
            .map(|g| Objclass {
                class: g.class.clone(),
                access: g.access.clone(),
                rbac: true,
                ..Default::default()
            })
            .collect(),
        license: s
            .licenses
            .iter()
            .map(|l| LicenseUser {
                id: Some(l.license_id.clone()),
                prod: Some(l.product.clone()),
                name: Some(l.name.clone()).filter(|n| !n.is_empty()),
                scope: l.scopes.clone(),
                issued_at: ms(l.issued_at.max(l.not_before)),
                expires_at: ms(l.not_after),
                user: None,
            })
            .collect(),
        permissions: s
            .permissions
            .iter()
            .map(|p| Permission {
                id: p.clone(),
                ..Default::default()
            })
            .collect(),
        expires_at: ms(s.expires_at),
        updated_at: ms(s.user_updated_at),
    }
}

/// The caller's session: user, domain, roles, scopes, licences, permissions and expiry.
#[utoipa::path(get, path = "/api/userinfo", tag = "session",
    responses((status = 200, body = Userinfo), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn userinfo_get(c: Caller) -> Json<Userinfo> {
    Json(userinfo(&c))
}

/// Same as `GET /api/userinfo`.
#[utoipa::path(post, path = "/api/userinfo", tag = "session",
    responses((status = 200, body = Userinfo), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn userinfo_post(c: Caller) -> Json<Userinfo> {
    Json(userinfo(&c))
}

async fn end_session(st: &AppState, c: &Caller) -> ApiResult<Json<Value>> {
    st.store
        .revoke_token(c.domain_id, c.user_id, &c.token_key)
        .await?;
    st.invalidate(AuthEvent::TokenRevoked {
        key: c.token_key.clone(),
    });
    Ok(Json(json!({})))
}

/// Sign out: revokes the token of this request.
#[utoipa::path(post, path = "/api/logout", tag = "session",
    responses((status = 200, description = "`{}`"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn logout(State(st): State<AppState>, c: Caller) -> ApiResult<Json<Value>> {
    end_session(&st, &c).await
}

/// Sign out (Webitel's path): revokes the token of this request.
#[utoipa::path(post, path = "/api/users/logout", tag = "session",
    responses((status = 200, description = "`{}`"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn users_logout(State(st): State<AppState>, c: Caller) -> ApiResult<Json<Value>> {
    end_session(&st, &c).await
}

/// Ends every sign-in session of a user (administrators; long-lived tokens stay valid).
#[utoipa::path(post, path = "/api/users/{id}/logout", tag = "session", params(("id" = String, Path)),
    responses((status = 200, description = "`{}`"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn user_logout(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "user")?;
    if id != c.user_id {
        c.require("users", Access::Update)?;
    }
    st.store.get_user(c.domain_id, id).await?;
    for key in st.store.revoke_user_sessions(c.domain_id, id).await? {
        st.invalidate(AuthEvent::TokenRevoked { key });
    }
    Ok(Json(json!({})))
}
