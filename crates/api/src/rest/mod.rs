//! REST handlers, one module per resource.

pub mod calls;
pub mod devices;
pub mod files;
pub mod history;
pub mod license;
pub mod roles;
pub mod session;
pub mod tokens;
pub mod users;

use crate::openapi::ApiDoc;
use crate::AppState;
use switchboard_model::ObjectId;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    let protected = OpenApiRouter::new()
        .routes(routes!(
            devices::create,
            devices::search,
            devices::delete_many
        ))
        .routes(routes!(
            devices::read,
            devices::update,
            devices::patch,
            devices::delete_one
        ))
        .routes(routes!(users::create, users::search, users::delete_many))
        .routes(routes!(
            users::read,
            users::update,
            users::patch,
            users::delete_one
        ))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::read, tokens::revoke))
        .routes(routes!(roles::search, roles::create))
        .routes(routes!(roles::read, roles::delete))
        .routes(routes!(license::list))
        .routes(routes!(history::search_get, history::search_post))
        .routes(routes!(calls::create))
        .routes(routes!(calls::list))
        .routes(routes!(calls::read, calls::hangup))
        .routes(routes!(calls::hold))
        .routes(routes!(calls::unhold))
        .routes(routes!(calls::dtmf))
        .routes(routes!(calls::transfer))
        .routes(routes!(files::list, files::delete))
        .routes(routes!(files::download))
        .routes(routes!(files::stream))
        .routes(routes!(session::userinfo_get, session::userinfo_post))
        .routes(routes!(session::logout))
        .routes(routes!(session::users_logout))
        .routes(routes!(session::user_logout))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::require_session,
        ));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::login))
        .merge(protected)
}

/// `{id, name}` from a store lookup pair.
pub(crate) fn oid(v: &(i64, String)) -> ObjectId {
    ObjectId::new(v.0, v.1.clone())
}

pub(crate) fn ms(v: i64) -> Option<String> {
    (v != 0).then(|| v.to_string())
}

/// A webitel-go list reply (`{page, size, next, items}`) with the `fields` selection applied.
pub(crate) fn page_json<R, T: serde::Serialize>(
    p: &crate::extract::Params,
    page: &switchboard_store::Page,
    res: &switchboard_store::Paged<R>,
    to_wire: impl Fn(&R) -> T,
) -> serde_json::Value {
    let list = switchboard_model::ListResponse {
        page: Some(page.page as i32),
        size: Some(page.size as i32),
        next: res.next,
        items: res.items.iter().map(to_wire).collect(),
    };
    p.select_fields(serde_json::to_value(list).unwrap_or_default())
}
