//! `/api/routing/outbound/calls`: outbound routes. A dialled destination matching a route's
//! `pattern` (an unanchored regular expression) runs the route's schema; among matching
//! enabled routes the highest `position` wins (see `Store::match_outbound_route`).

use super::schemas::{schema_ref, CLASS};
use super::{ms, oid};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params, RawBody};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{ListResponse, MovePositionResponse, RoutingOutboundCall};
use switchboard_store::{RouteFilter, RouteInput, RouteRow};

fn to_wire(row: &RouteRow) -> RoutingOutboundCall {
    RoutingOutboundCall {
        id: Some(row.id.to_string()),
        name: Some(row.name.clone()),
        description: Some(row.description.clone()),
        schema: Some(oid(&row.schema)),
        pattern: Some(row.pattern.clone()),
        disabled: Some(row.disabled),
        position: None,
        created_at: ms(row.created_at),
        created_by: row.created_by.as_ref().map(oid),
        updated_at: ms(row.updated_at),
        updated_by: row.updated_by.as_ref().map(oid),
    }
}

/// A list item: the route with its position.
fn to_item(row: &RouteRow) -> RoutingOutboundCall {
    RoutingOutboundCall {
        position: Some(i32::try_from(row.position).unwrap_or(i32::MAX)),
        ..to_wire(row)
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("app.routing.valid.{field}"), detail)
}

async fn apply(
    st: &AppState,
    c: &Caller,
    base: Option<&RouteRow>,
    r: &RoutingOutboundCall,
    merge: bool,
) -> ApiResult<RouteInput> {
    let text = |new: &Option<String>, old: Option<&String>| -> String {
        match (new, merge) {
            (Some(v), _) => v.clone(),
            (None, true) => old.cloned().unwrap_or_default(),
            (None, false) => String::new(),
        }
    };
    let name = text(&r.name, base.map(|b| &b.name)).trim().to_string();
    if name.is_empty() {
        return Err(invalid("name", "name is required"));
    }
    if name.chars().count() > 100 {
        return Err(invalid("name", "name is at most 100 characters"));
    }
    // The pattern is used as written: spaces may be part of it.
    let pattern = text(&r.pattern, base.map(|b| &b.pattern));
    switchboard_store::compile_route_pattern(&pattern).map_err(|e| invalid("pattern", e))?;
    let schema_id = match (&r.schema, merge, base) {
        (Some(s), _, _) => schema_ref(st, c, s, "routing").await?,
        (None, true, Some(b)) => Some(b.schema.0),
        _ => None,
    };
    let Some(schema_id) = schema_id else {
        return Err(invalid(
            "schema",
            "schema is required: the routing schema the matched calls run, {\"id\": …}",
        ));
    };
    let disabled = match (r.disabled, merge, base) {
        (Some(d), _, _) => d,
        (None, true, Some(b)) => b.disabled,
        _ => false,
    };
    Ok(RouteInput {
        name,
        description: text(&r.description, base.map(|b| &b.description)),
        pattern,
        schema_id,
        disabled,
    })
}

/// Create an outbound route; it takes the highest position.
#[utoipa::path(post, path = "/api/routing/outbound/calls", tag = "routing", request_body = RoutingOutboundCall,
    responses((status = 200, body = RoutingOutboundCall), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(r): JsonBody<RoutingOutboundCall>,
) -> ApiResult<Json<RoutingOutboundCall>> {
    c.require(CLASS, Access::Create)?;
    let input = apply(&st, &c, None, &r, false).await?;
    let row = st
        .store
        .create_route(c.domain_id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Search outbound routes, highest position first: `q`, `id`, `name`, `schema_id`, `pattern`,
/// `description`, paging, `sort`.
#[utoipa::path(get, path = "/api/routing/outbound/calls", tag = "routing",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<String>, Query), ("id" = Option<Vec<String>>, Query),
           ("schema_id" = Option<Vec<String>>, Query), ("name" = Option<String>, Query),
           ("pattern" = Option<String>, Query), ("description" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<RoutingOutboundCall>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let mut ids = p.ints("id")?;
    ids.extend(p.ints("ids")?);
    let filter = RouteFilter {
        q: p.get("q").map(str::to_string),
        ids,
        name: p.get("name").map(str::to_string),
        schema_ids: p.ints("schema_id")?,
        pattern: p.get("pattern").map(str::to_string),
        description: p.get("description").map(str::to_string),
    };
    let res = st.store.search_routes(c.domain_id, &filter, &page).await?;
    Ok(Json(super::page_json(&p, &page, &res, to_item)))
}

/// Read an outbound route.
#[utoipa::path(get, path = "/api/routing/outbound/calls/{id}", tag = "routing",
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingOutboundCall), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RoutingOutboundCall>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_route(c.domain_id, path_id(&id, "routing")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    r: RoutingOutboundCall,
    merge: bool,
) -> ApiResult<Json<RoutingOutboundCall>> {
    c.require(CLASS, Access::Update)?;
    let id = path_id(&id, "routing")?;
    let base = st.store.get_route(c.domain_id, id).await?;
    let input = apply(&st, &c, Some(&base), &r, merge).await?;
    let row = st
        .store
        .update_route(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Replace an outbound route (its position stays).
#[utoipa::path(put, path = "/api/routing/outbound/calls/{id}", tag = "routing", request_body = RoutingOutboundCall,
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingOutboundCall), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<RoutingOutboundCall>,
) -> ApiResult<Json<RoutingOutboundCall>> {
    write(st, c, id, r, false).await
}

/// Change some fields of an outbound route.
#[utoipa::path(patch, path = "/api/routing/outbound/calls/{id}", tag = "routing", request_body = RoutingOutboundCall,
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingOutboundCall), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<RoutingOutboundCall>,
) -> ApiResult<Json<RoutingOutboundCall>> {
    write(st, c, id, r, true).await
}

/// Delete an outbound route; answers the deleted route.
#[utoipa::path(delete, path = "/api/routing/outbound/calls/{id}", tag = "routing",
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingOutboundCall), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RoutingOutboundCall>> {
    c.require(CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_route(c.domain_id, path_id(&id, "routing")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Swap the positions of two routes (Webitel's drag of a row onto its neighbour). The body,
/// if any, is ignored.
#[utoipa::path(patch, path = "/api/routing/outbound/calls/{from_id}/to/{to_id}", tag = "routing",
    params(("from_id" = String, Path), ("to_id" = String, Path)),
    responses((status = 200, body = MovePositionResponse), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn move_position(
    State(st): State<AppState>,
    c: Caller,
    Path((from_id, to_id)): Path<(String, String)>,
    _body: RawBody,
) -> ApiResult<Json<MovePositionResponse>> {
    c.require(CLASS, Access::Update)?;
    let from = path_id(&from_id, "routing")?;
    let to = path_id(&to_id, "routing")?;
    st.store.move_route(c.domain_id, from, to).await?;
    Ok(Json(MovePositionResponse { success: true }))
}
