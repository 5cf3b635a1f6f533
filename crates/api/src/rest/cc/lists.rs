//! `/api/call_center/list` and `/api/call_center/list/{list_id}/communication`: do-not-call
//! lists and their numbers (Webitel's `engine.ListService`). A dialer queue naming a list
//! (`dnc_list`) never dials a number on it until the number's `expire_at`. Lists are queue
//! configuration: the `cc_queue` class grants them.

use super::{invalid, list, name, page, QUEUE_CLASS};
use crate::auth::{Access, Caller};
use crate::error::ApiResult;
use crate::extract::{path_id, JsonBody, Params};
use crate::rest::{ms, oid};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::{
    DncList, ListCommunication, ListCommunicationBulk, ListCommunicationBulkError,
    ListCommunicationBulkResponse, ListResponse, RpcStatus,
};
use switchboard_store::{
    ListCommunicationFilter, ListCommunicationInput, ListCommunicationRow, ListFilter, ListInput,
    ListRow, StoreError,
};

const DEFAULT_FIELDS: &[&str] = &["id", "name", "description", "count"];

const COMM_DEFAULT_FIELDS: &[&str] = &["id", "list_id", "number", "description", "expire_at"];

/// Longest accepted number (as a member's destination).
const MAX_NUMBER_CHARS: usize = 64;

/// At most this many numbers in one bulk request.
const MAX_BULK: usize = 10_000;

/// gRPC codes of a bulk failure.
const INVALID_ARGUMENT: i32 = 3;
const ALREADY_EXISTS: i32 = 6;

fn to_wire(r: &ListRow) -> DncList {
    DncList {
        id: Some(r.id.to_string()),
        created_at: ms(r.created_at),
        created_by: r.created_by.as_ref().map(oid),
        updated_at: ms(r.updated_at),
        updated_by: r.updated_by.as_ref().map(oid),
        domain_id: Some(r.domain_id.to_string()),
        name: Some(r.name.clone()),
        description: Some(r.description.clone()),
        count: Some(r.count.to_string()),
    }
}

fn comm_to_wire(r: &ListCommunicationRow) -> ListCommunication {
    ListCommunication {
        id: Some(r.id.to_string()),
        list_id: Some(r.list_id.to_string()),
        number: Some(r.number.clone()),
        description: Some(r.description.clone()),
        expire_at: r.expire_at.and_then(ms),
    }
}

/// A body as a list to store (PUT replaces: absent fields take their defaults).
fn apply(l: &DncList) -> ApiResult<ListInput> {
    Ok(ListInput {
        name: name(l.name.clone().unwrap_or_default(), "list")?,
        description: l.description.clone().unwrap_or_default(),
    })
}

/// A number to put on a list: trimmed, required, at most 64 characters, no spaces;
/// `expire_at` epoch ms (absent, `""` or `"0"`: never).
fn communication(c: &ListCommunication) -> ApiResult<ListCommunicationInput> {
    let number = c.number.as_deref().unwrap_or("").trim().to_string();
    if number.is_empty() {
        return Err(invalid(
            "list_communication",
            "number",
            "number is required",
        ));
    }
    if number.chars().count() > MAX_NUMBER_CHARS
        || number
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        return Err(invalid(
            "list_communication",
            "number",
            format!(
                "number {number:?} is not a number (at most {MAX_NUMBER_CHARS} characters, \
                 no spaces)"
            ),
        ));
    }
    let expire_at = match c.expire_at.as_deref().map(str::trim) {
        None | Some("") | Some("0") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(invalid(
                    "list_communication",
                    "expire_at",
                    format!("expire_at {raw:?} is not a time in epoch milliseconds"),
                ))
            }
        },
    };
    Ok(ListCommunicationInput {
        number,
        description: c.description.clone().unwrap_or_default(),
        expire_at,
    })
}

/// Create a do-not-call list (`name` required, unique in the domain).
#[utoipa::path(post, path = "/api/call_center/list", tag = "call_center", request_body = DncList,
    responses((status = 200, body = DncList), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(l): JsonBody<DncList>,
) -> ApiResult<Json<DncList>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let input = apply(&l)?;
    let row = st
        .store
        .create_list(c.domain_id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Search lists: `q` (name, description), `id`, paging, `sort`, `fields`.
#[utoipa::path(get, path = "/api/call_center/list", tag = "call_center",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<Vec<String>>, Query),
           ("id" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<DncList>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let page = page(&p)?;
    let filter = ListFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
    };
    let res = st.store.search_lists(c.domain_id, &filter, &page).await?;
    let items = res.items.iter().map(to_wire).collect();
    Ok(Json(list(&p, DEFAULT_FIELDS, res.next, items)))
}

/// Read a list.
#[utoipa::path(get, path = "/api/call_center/list/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = DncList), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DncList>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let row = st
        .store
        .get_list(c.domain_id, path_id(&id, "list")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Replace a list's name and description.
#[utoipa::path(put, path = "/api/call_center/list/{id}", tag = "call_center", request_body = DncList,
    params(("id" = String, Path)),
    responses((status = 200, body = DncList), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(l): JsonBody<DncList>,
) -> ApiResult<Json<DncList>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let id = path_id(&id, "list")?;
    let input = apply(&l)?;
    let row = st
        .store
        .update_list(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Delete a list and its numbers; a list a queue uses is refused (409 names the queue).
#[utoipa::path(delete, path = "/api/call_center/list/{id}", tag = "call_center",
    params(("id" = String, Path)),
    responses((status = 200, body = DncList), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DncList>> {
    c.require(QUEUE_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_list(c.domain_id, path_id(&id, "list")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Put a number on a list; a number already on it is refused (409).
#[utoipa::path(post, path = "/api/call_center/list/{list_id}/communication", tag = "call_center",
    request_body = ListCommunication, params(("list_id" = String, Path)),
    responses((status = 200, body = ListCommunication), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create_communication(
    State(st): State<AppState>,
    c: Caller,
    Path(list_id): Path<String>,
    JsonBody(body): JsonBody<ListCommunication>,
) -> ApiResult<Json<ListCommunication>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let list_id = path_id(&list_id, "list")?;
    let input = communication(&body)?;
    let mut res = st
        .store
        .create_list_communications(c.domain_id, list_id, &[input])
        .await?;
    let row = res
        .pop()
        .ok_or(StoreError::NotFound("list_communication"))??;
    Ok(Json(comm_to_wire(&row)))
}

/// Put many numbers on a list (`{items: [{number, description, expire_at}]}`): the good items
/// are written (`data`), each refused one is reported with its index (`failures`).
#[utoipa::path(post, path = "/api/call_center/list/{list_id}/communication/bulk", tag = "call_center",
    request_body = ListCommunicationBulk, params(("list_id" = String, Path)),
    responses((status = 200, body = ListCommunicationBulkResponse), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn bulk_communications(
    State(st): State<AppState>,
    c: Caller,
    Path(list_id): Path<String>,
    JsonBody(b): JsonBody<ListCommunicationBulk>,
) -> ApiResult<Json<ListCommunicationBulkResponse>> {
    c.require(QUEUE_CLASS, Access::Create)?;
    let list_id = path_id(&list_id, "list")?;
    if b.items.len() > MAX_BULK {
        return Err(invalid(
            "list_communication",
            "items",
            format!("at most {MAX_BULK} numbers per request"),
        ));
    }
    let mut out = ListCommunicationBulkResponse::default();
    let fail = |index: usize, item: &ListCommunication, code: i32, message: String| {
        ListCommunicationBulkError {
            index: index as i32,
            item: item.clone(),
            error: RpcStatus { code, message },
        }
    };
    let mut good = Vec::with_capacity(b.items.len());
    let mut at = Vec::with_capacity(b.items.len());
    for (i, item) in b.items.iter().enumerate() {
        match communication(item) {
            Ok(input) => {
                good.push(input);
                at.push(i);
            }
            Err(e) => out
                .failures
                .push(fail(i, item, INVALID_ARGUMENT, e.0.detail.clone())),
        }
    }
    let res = st
        .store
        .create_list_communications(c.domain_id, list_id, &good)
        .await?;
    for (i, r) in at.into_iter().zip(res) {
        match r {
            Ok(row) => out.data.push(comm_to_wire(&row)),
            Err(e) => out
                .failures
                .push(fail(i, &b.items[i], ALREADY_EXISTS, e.to_string())),
        }
    }
    out.failures.sort_by_key(|f| f.index);
    Ok(Json(out))
}

fn comm_filter(p: &Params) -> ApiResult<ListCommunicationFilter> {
    Ok(ListCommunicationFilter {
        q: p.get("q").map(str::to_string),
        ids: p.ints("id")?,
        expire_at: (p.int("expire_at.from")?, p.int("expire_at.to")?),
    })
}

/// A list's numbers: `q` (number, description), `id`, `expire_at.from/.to`, paging, `sort`,
/// `fields`.
#[utoipa::path(get, path = "/api/call_center/list/{list_id}/communication", tag = "call_center",
    params(("list_id" = String, Path), ("page" = Option<i32>, Query), ("size" = Option<i32>, Query),
           ("q" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("fields" = Option<Vec<String>>, Query), ("id" = Option<Vec<String>>, Query),
           ("expire_at.from" = Option<String>, Query), ("expire_at.to" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<ListCommunication>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search_communications(
    State(st): State<AppState>,
    c: Caller,
    Path(list_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let list_id = path_id(&list_id, "list")?;
    let page = page(&p)?;
    let res = st
        .store
        .search_list_communications(c.domain_id, list_id, &comm_filter(&p)?, &page)
        .await?;
    let items = res.items.iter().map(comm_to_wire).collect();
    Ok(Json(list(&p, COMM_DEFAULT_FIELDS, res.next, items)))
}

/// Read a number of a list.
#[utoipa::path(get, path = "/api/call_center/list/{list_id}/communication/{id}", tag = "call_center",
    params(("list_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ListCommunication), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read_communication(
    State(st): State<AppState>,
    c: Caller,
    Path((list_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ListCommunication>> {
    c.require(QUEUE_CLASS, Access::Read)?;
    let row = st
        .store
        .get_list_communication(
            c.domain_id,
            path_id(&list_id, "list")?,
            path_id(&id, "list_communication")?,
        )
        .await?;
    Ok(Json(comm_to_wire(&row)))
}

/// Replace a number of a list (`number` required; absent `expire_at`: never expires).
#[utoipa::path(put, path = "/api/call_center/list/{list_id}/communication/{id}", tag = "call_center",
    request_body = ListCommunication, params(("list_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ListCommunication), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update_communication(
    State(st): State<AppState>,
    c: Caller,
    Path((list_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ListCommunication>,
) -> ApiResult<Json<ListCommunication>> {
    c.require(QUEUE_CLASS, Access::Update)?;
    let (list_id, id) = (
        path_id(&list_id, "list")?,
        path_id(&id, "list_communication")?,
    );
    let input = communication(&body)?;
    let row = st
        .store
        .update_list_communication(c.domain_id, list_id, id, &input)
        .await?;
    Ok(Json(comm_to_wire(&row)))
}

/// Take a number off a list.
#[utoipa::path(delete, path = "/api/call_center/list/{list_id}/communication/{id}", tag = "call_center",
    params(("list_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ListCommunication), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete_communication(
    State(st): State<AppState>,
    c: Caller,
    Path((list_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ListCommunication>> {
    c.require(QUEUE_CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_list_communication(
            c.domain_id,
            path_id(&list_id, "list")?,
            path_id(&id, "list_communication")?,
        )
        .await?;
    Ok(Json(comm_to_wire(&row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comm(json: &str) -> ListCommunication {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_number_is_required_and_expiry_is_epoch_ms() {
        let ok = communication(&comm(
            r#"{"number":" +380441 ","description":"asked","expire_at":"1900000000000"}"#,
        ))
        .unwrap();
        assert_eq!(
            (ok.number.as_str(), ok.expire_at),
            ("+380441", Some(1_900_000_000_000))
        );
        assert_eq!(
            communication(&comm(r#"{"number":"1","expire_at":0}"#))
                .unwrap()
                .expire_at,
            None
        );
        for (bad, id) in [
            (r#"{}"#, "app.list_communication.valid.number"),
            (r#"{"number":"  "}"#, "app.list_communication.valid.number"),
            (
                r#"{"number":"12 34"}"#,
                "app.list_communication.valid.number",
            ),
            (
                r#"{"number":"1","expire_at":"soon"}"#,
                "app.list_communication.valid.expire_at",
            ),
        ] {
            let e = communication(&comm(bad)).unwrap_err();
            assert_eq!((e.0.code, e.0.id.as_str()), (400, id), "{bad}");
        }
    }
}
