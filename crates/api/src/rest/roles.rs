//! `/api/roles`: groups of object-class grants.

use super::ms;
use crate::auth::{Access, AuthEvent, Caller, CLASSES};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use switchboard_model::{ListResponse, Objclass, Permission, Role, RoleEnvelope};
use switchboard_store::{Grant, RoleRow};

const CLASS: &str = "roles";

pub(crate) fn to_wire(r: &RoleRow) -> Role {
    Role {
        id: Some(r.id.to_string()),
        name: Some(r.name.clone()),
        description: Some(r.description.clone()).filter(|s| !s.is_empty()),
        permissions: r
            .permissions
            .iter()
            .map(|p| Permission {
                id: p.clone(),
                ..Default::default()
            })
            .collect(),
        scope: r
            .scopes
            .iter()
            .map(|g| Objclass {
                class: g.class.clone(),
                access: g.access.clone(),
                rbac: true,
                ..Default::default()
            })
            .collect(),
        user: Some(false),
        created_at: ms(r.created_at),
        updated_at: ms(r.updated_at),
    }
}

/// List roles (the guide's role ids come from here).
#[utoipa::path(get, path = "/api/roles", tag = "roles",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<Role>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(
    State(st): State<AppState>,
    c: Caller,
    p: Params,
) -> ApiResult<Json<serde_json::Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let res = st
        .store
        .search_roles(c.domain_id, p.get("q").or(p.get("name")), &page)
        .await?;
    Ok(Json(super::page_json(&p, &page, &res, to_wire)))
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum CreateRole {
    Wrapped { role: Role },
    Plain(Role),
}

/// Create a role: `{"role": {...}}` (Webitel's CreateRoleRequest) or the role itself.
#[utoipa::path(post, path = "/api/roles", tag = "roles", request_body = RoleEnvelope,
    responses((status = 200, description = "`{\"created\": Role}`"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(body): JsonBody<CreateRole>,
) -> ApiResult<Json<serde_json::Value>> {
    c.require(CLASS, Access::Create)?;
    let role = match body {
        CreateRole::Wrapped { role } | CreateRole::Plain(role) => role,
    };
    let name = role.name.clone().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "app.role.valid.name",
            "role name is required",
        ));
    }
    let mut scopes = Vec::new();
    for s in &role.scope {
        if !CLASSES.contains(&s.class.as_str()) {
            return Err(ApiError::bad_request(
                "app.role.valid.scope",
                format!(
                    "unknown object class {:?}; known: {}",
                    s.class,
                    CLASSES.join(", ")
                ),
            ));
        }
        if s.access.chars().any(|ch| !"xrwd".contains(ch)) {
            return Err(ApiError::bad_request(
                "app.role.valid.scope",
                "access is a set of the letters x (create), r, w, d",
            ));
        }
        scopes.push(Grant {
            class: s.class.clone(),
            access: s.access.clone(),
        });
    }
    let perms: Vec<String> = role.permissions.iter().map(|p| p.id.clone()).collect();
    let row = st
        .store
        .create_role(
            c.domain_id,
            name.trim(),
            role.description.as_deref().unwrap_or(""),
            &scopes,
            &perms,
            false,
        )
        .await?;
    Ok(Json(json!({ "created": to_wire(&row) })))
}

/// Read a role: `{"role": …}`.
#[utoipa::path(get, path = "/api/roles/{id}", tag = "roles", params(("id" = String, Path)),
    responses((status = 200, body = RoleEnvelope), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleEnvelope>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_role(c.domain_id, path_id(&id, "role")?)
        .await?;
    Ok(Json(RoleEnvelope {
        role: to_wire(&row),
    }))
}

/// Delete a role that is not built in.
#[utoipa::path(delete, path = "/api/roles/{id}", tag = "roles", params(("id" = String, Path)),
    responses((status = 200, description = "`{\"deleted\": Role}`"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    c.require(CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_role(c.domain_id, path_id(&id, "role")?)
        .await?;
    st.invalidate(AuthEvent::DomainChanged {
        domain_id: c.domain_id,
    });
    Ok(Json(json!({ "deleted": to_wire(&row) })))
}
