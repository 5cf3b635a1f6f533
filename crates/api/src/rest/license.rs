//! `/api/license`: licence products of the domain and who holds their seats.

use super::{ms, oid};
use crate::auth::{Access, Caller};
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use switchboard_model::{LicenseUser, LicenseV1, ListResponse};

/// List licences with their seat counts (`limit`, `remain`) and grantees.
#[utoipa::path(get, path = "/api/license", tag = "license",
    responses((status = 200, body = ListResponse<LicenseV1>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn list(
    State(st): State<AppState>,
    c: Caller,
) -> ApiResult<Json<ListResponse<LicenseV1>>> {
    c.require("license", Access::Read)?;
    let licenses = st.store.list_licenses(c.domain_id).await?;
    let grants = st.store.license_grants(c.domain_id).await?;
    let items = licenses
        .iter()
        .map(|l| LicenseV1 {
            id: l.id.clone(),
            product: l.product.clone(),
            name: Some(l.name.clone()).filter(|s| !s.is_empty()),
            scope: l.scopes.clone(),
            limit: l.seats as i32,
            remain: (l.seats - l.used).max(0) as i32,
            competitive: false,
            not_before: ms(l.not_before),
            not_after: ms(l.not_after),
            users: grants
                .iter()
                .filter(|(g, _)| g.license_id == l.id)
                .map(|(g, name)| LicenseUser {
                    id: Some(l.id.clone()),
                    prod: Some(l.product.clone()),
                    issued_at: ms(g.issued_at),
                    user: Some(oid(&(g.user_id, name.clone()))),
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    Ok(Json(ListResponse {
        page: Some(1),
        size: None,
        next: false,
        items,
    }))
}
