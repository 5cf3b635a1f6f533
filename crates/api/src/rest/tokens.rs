//! `/api/users/{id}/tokens`: long-lived access tokens (the guide's third step).

use super::{ms, oid};
use crate::auth::{new_token, token_hash, Access, AuthEvent, Caller};
use crate::error::ApiResult;
use crate::extract::{path_id, Params, RawBody};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use switchboard_model::{ListResponse, ObjectId, UserAccessToken};
use switchboard_store::TokenRow;

pub(crate) fn to_wire(t: &TokenRow) -> UserAccessToken {
    UserAccessToken {
        id: Some(t.key.clone()),
        token: None,
        usage: Some(t.usage.clone()).filter(|s| !s.is_empty()),
        user: Some(oid(&t.user)),
        created_at: ms(t.created_at),
        created_by: t.created_by.as_ref().map(oid),
        updated_at: ms(t.updated_at),
        updated_by: None,
        deleted_at: ms(t.revoked_at),
        deleted_by: None,
    }
}

/// Managing another user's tokens needs the right on users; one's own tokens are one's own.
fn allowed(c: &Caller, user_id: i64, access: Access) -> ApiResult<()> {
    if user_id == c.user_id {
        Ok(())
    } else {
        c.require("users", access)
    }
}

/// Issue a new access token for a user. The reply is the only place the token appears.
#[utoipa::path(post, path = "/api/users/{user_id}/tokens", tag = "tokens",
    params(("user_id" = String, Path)), request_body(content = Option<UserAccessToken>),
    responses((status = 200, body = UserAccessToken), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    Path(user_id): Path<String>,
    body: RawBody,
) -> ApiResult<Json<UserAccessToken>> {
    let user_id = path_id(&user_id, "user")?;
    allowed(&c, user_id, Access::Create)?;
    let input: UserAccessToken = body.json()?.unwrap_or_default();
    let (token, key) = new_token();
    let row = st
        .store
        .create_token(
            c.domain_id,
            user_id,
            &key,
            &token_hash(&token),
            "token",
            input.usage.as_deref().unwrap_or(""),
            0,
            Some(c.user_id),
        )
        .await?;
    let mut out = to_wire(&row);
    out.token = Some(token);
    Ok(Json(out))
}

/// List a user's live tokens (never the token strings).
#[utoipa::path(get, path = "/api/users/{user_id}/tokens", tag = "tokens",
    params(("user_id" = String, Path), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query)),
    responses((status = 200, body = ListResponse<UserAccessToken>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(user_id): Path<String>,
    p: Params,
) -> ApiResult<Json<ListResponse<UserAccessToken>>> {
    let user_id = path_id(&user_id, "user")?;
    allowed(&c, user_id, Access::Read)?;
    st.store.get_user(c.domain_id, user_id).await?;
    let page = p.page()?;
    let res = st.store.list_tokens(c.domain_id, user_id, &page).await?;
    Ok(Json(ListResponse {
        page: Some(page.page as i32),
        size: Some(page.size as i32),
        next: res.next,
        items: res.items.iter().map(to_wire).collect(),
    }))
}

/// Read one token's metadata.
#[utoipa::path(get, path = "/api/users/{user_id}/tokens/{id}", tag = "tokens",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = UserAccessToken), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path((user_id, key)): Path<(String, String)>,
) -> ApiResult<Json<UserAccessToken>> {
    let user_id = path_id(&user_id, "user")?;
    allowed(&c, user_id, Access::Read)?;
    let row = st.store.get_token(c.domain_id, user_id, &key).await?;
    Ok(Json(to_wire(&row)))
}

/// Revoke a token: it stops working at once, for REST and for open WebSockets.
#[utoipa::path(delete, path = "/api/users/{user_id}/tokens/{id}", tag = "tokens",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = UserAccessToken), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn revoke(
    State(st): State<AppState>,
    c: Caller,
    Path((user_id, key)): Path<(String, String)>,
) -> ApiResult<Json<UserAccessToken>> {
    let user_id = path_id(&user_id, "user")?;
    allowed(&c, user_id, Access::Delete)?;
    let current = st.store.get_token(c.domain_id, user_id, &key).await?;
    if current.revoked_at == 0 && current.kind == "token" {
        let now = switchboard_store::now_ms();
        super::admins::keep_admin_token(&st.store, c.domain_id, user_id, now).await?;
    }
    let row = st.store.revoke_token(c.domain_id, user_id, &key).await?;
    st.invalidate(AuthEvent::TokenRevoked { key: key.clone() });
    let mut out = to_wire(&row);
    out.deleted_by = Some(ObjectId::new(c.user_id, c.display_name()));
    Ok(Json(out))
}
