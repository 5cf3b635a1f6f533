//! REST handlers, one module per resource.

pub(crate) mod admins;
pub mod calls;
pub mod cc;
pub mod devices;
pub mod files;
pub mod gateways;
pub mod history;
pub mod license;
pub mod roles;
pub mod routing;
pub mod schemas;
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
        .routes(routes!(devices::registered))
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
        .routes(routes!(gateways::create, gateways::search))
        .routes(routes!(
            gateways::read,
            gateways::update,
            gateways::patch,
            gateways::delete
        ))
        .routes(routes!(routing::create, routing::search))
        .routes(routes!(
            routing::read,
            routing::update,
            routing::patch,
            routing::delete
        ))
        .routes(routes!(routing::move_position))
        .routes(routes!(schemas::create, schemas::search))
        .routes(routes!(schemas::tags))
        .routes(routes!(
            schemas::read,
            schemas::update,
            schemas::patch,
            schemas::delete
        ))
        .routes(routes!(cc::agents::create, cc::agents::search))
        .routes(routes!(
            cc::agents::read,
            cc::agents::update,
            cc::agents::patch,
            cc::agents::delete
        ))
        .routes(routes!(cc::agents::set_status))
        .routes(routes!(
            cc::agent_skills::create,
            cc::agent_skills::search,
            cc::agent_skills::patch_many,
            cc::agent_skills::delete_many
        ))
        .routes(routes!(
            cc::agent_skills::read,
            cc::agent_skills::update,
            cc::agent_skills::patch,
            cc::agent_skills::delete
        ))
        .routes(routes!(cc::teams::create, cc::teams::search))
        .routes(routes!(
            cc::teams::read,
            cc::teams::update,
            cc::teams::patch,
            cc::teams::delete
        ))
        .routes(routes!(cc::skills::create, cc::skills::search))
        .routes(routes!(
            cc::skills::read,
            cc::skills::update,
            cc::skills::patch,
            cc::skills::delete
        ))
        .routes(routes!(cc::queues::create, cc::queues::search))
        .routes(routes!(cc::attempts::history))
        .routes(routes!(
            cc::queues::read,
            cc::queues::update,
            cc::queues::patch,
            cc::queues::delete
        ))
        .routes(routes!(cc::queues::create_skill, cc::queues::search_skills))
        .routes(routes!(
            cc::queues::read_skill,
            cc::queues::update_skill,
            cc::queues::patch_skill,
            cc::queues::delete_skill
        ))
        .routes(routes!(cc::members::create, cc::members::search))
        .routes(routes!(cc::members::bulk))
        .routes(routes!(cc::members::reset))
        .routes(routes!(
            cc::members::read,
            cc::members::update,
            cc::members::patch,
            cc::members::delete
        ))
        .routes(routes!(cc::members::search_all))
        .routes(routes!(cc::lists::create, cc::lists::search))
        .routes(routes!(
            cc::lists::read,
            cc::lists::update,
            cc::lists::delete
        ))
        .routes(routes!(
            cc::lists::create_communication,
            cc::lists::search_communications
        ))
        .routes(routes!(cc::lists::bulk_communications))
        .routes(routes!(
            cc::lists::read_communication,
            cc::lists::update_communication,
            cc::lists::delete_communication
        ))
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
