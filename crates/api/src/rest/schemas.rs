//! `/api/routing/schema`: routing schemas, the flow JSON (an array of application objects) that
//! outbound routes and gateways run.

use super::{ms, oid};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use switchboard_model::routing::SCHEMA_TYPES;
use switchboard_model::{ListResponse, ObjectId, RoutingSchema, RoutingSchemaTag, SchemaTag};
use switchboard_store::{SchemaFilter, SchemaInput, SchemaRow, StoreError};

/// Webitel checks routing schemas and routes against one object class.
pub(crate) const CLASS: &str = "acr_routing";

/// Longest accepted flow or payload, in bytes of JSON text.
const MAX_JSON_BYTES: usize = 1 << 20;

fn to_wire(row: &SchemaRow) -> RoutingSchema {
    RoutingSchema {
        id: Some(row.id.to_string()),
        name: Some(row.name.clone()),
        description: Some(row.description.clone()),
        kind: Some(row.kind.clone()),
        schema: Some(serde_json::from_str(&row.flow).unwrap_or(Value::Array(Vec::new()))),
        payload: Some(serde_json::from_str(&row.payload).unwrap_or(Value::Null)),
        debug: Some(row.debug),
        editor: Some(row.editor),
        tags: Some(
            row.tags
                .iter()
                .map(|t| SchemaTag { name: t.clone() })
                .collect(),
        ),
        created_at: ms(row.created_at),
        created_by: row.created_by.as_ref().map(oid),
        updated_at: ms(row.updated_at),
        updated_by: row.updated_by.as_ref().map(oid),
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("app.schema.valid.{field}"), detail)
}

/// The schema a `{id, name}` reference names, checked to exist in the caller's domain; an
/// empty reference (`{}`) means none. `owner` names the referring object in error ids.
pub(crate) async fn schema_ref(
    st: &AppState,
    c: &Caller,
    r: &ObjectId,
    owner: &str,
) -> ApiResult<Option<i64>> {
    let bad = |detail: String| ApiError::bad_request(format!("app.{owner}.valid.schema"), detail);
    let id = match r.id.as_deref().map(str::trim) {
        None | Some("") | Some("0") => return Ok(None),
        Some(raw) => raw
            .parse::<i64>()
            .map_err(|_| bad(format!("schema id {raw:?} is not an integer")))?,
    };
    match st.store.get_schema(c.domain_id, id).await {
        Ok(s) => Ok(Some(s.id)),
        Err(StoreError::NotFound(_)) => Err(bad(format!(
            "routing schema {id} does not exist in this domain"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The flow as stored: a JSON array whose items are all objects.
fn flow_text(v: &Value) -> ApiResult<String> {
    let Value::Array(items) = v else {
        return Err(invalid(
            "schema",
            "schema must be a JSON array of application objects, e.g. [{\"answer\": \"\"}]",
        ));
    };
    if let Some(i) = items.iter().position(|it| !it.is_object()) {
        return Err(invalid(
            "schema",
            format!("schema[{i}] is not an object; every step of the flow is a JSON object"),
        ));
    }
    let text = v.to_string();
    if text.len() > MAX_JSON_BYTES {
        return Err(invalid("schema", "schema is larger than 1 MiB"));
    }
    Ok(text)
}

fn payload_text(v: &Value) -> ApiResult<String> {
    let text = v.to_string();
    if text.len() > MAX_JSON_BYTES {
        return Err(invalid("payload", "payload is larger than 1 MiB"));
    }
    Ok(text)
}

fn apply(base: Option<&SchemaRow>, s: &RoutingSchema, merge: bool) -> ApiResult<SchemaInput> {
    let text = |new: &Option<String>, old: Option<&String>| -> String {
        match (new, merge) {
            (Some(v), _) => v.trim().to_string(),
            (None, true) => old.cloned().unwrap_or_default(),
            (None, false) => String::new(),
        }
    };
    let flag = |new: Option<bool>, old: Option<bool>| match (new, merge) {
        (Some(v), _) => v,
        (None, true) => old.unwrap_or(false),
        (None, false) => false,
    };
    let name = text(&s.name, base.map(|b| &b.name));
    if name.is_empty() {
        return Err(invalid("name", "name is required"));
    }
    if name.chars().count() > 100 {
        return Err(invalid("name", "name is at most 100 characters"));
    }
    let kind = match (&s.kind, merge, base) {
        (Some(k), _, _) if !k.trim().is_empty() => k.trim().to_ascii_lowercase(),
        (_, true, Some(b)) => b.kind.clone(),
        _ => SCHEMA_TYPES[0].to_string(),
    };
    if !SCHEMA_TYPES.contains(&kind.as_str()) {
        return Err(invalid(
            "type",
            format!("type {kind:?} is not one of {}", SCHEMA_TYPES.join(", ")),
        ));
    }
    let flow = match (&s.schema, merge, base) {
        (Some(Value::Null) | None, true, Some(b)) => b.flow.clone(),
        (Some(Value::Null) | None, _, _) => "[]".to_string(),
        (Some(v), _, _) => flow_text(v)?,
    };
    let payload = match (&s.payload, merge, base) {
        (Some(Value::Null) | None, true, Some(b)) => b.payload.clone(),
        (Some(Value::Null) | None, _, _) => "{}".to_string(),
        (Some(v), _, _) => payload_text(v)?,
    };
    let tags = match (&s.tags, merge, base) {
        (Some(list), _, _) => {
            let mut out: Vec<String> = Vec::new();
            for t in list {
                let name = t.name.trim();
                if name.is_empty() {
                    return Err(invalid("tags", "a tag needs a name"));
                }
                if !out.iter().any(|o| o == name) {
                    out.push(name.to_string());
                }
            }
            out
        }
        (None, true, Some(b)) => b.tags.clone(),
        _ => Vec::new(),
    };
    Ok(SchemaInput {
        name,
        description: text(&s.description, base.map(|b| &b.description)),
        kind,
        flow,
        payload,
        debug: flag(s.debug, base.map(|b| b.debug)),
        editor: flag(s.editor, base.map(|b| b.editor)),
        tags,
    })
}

/// Create a routing schema.
#[utoipa::path(post, path = "/api/routing/schema", tag = "routing", request_body = RoutingSchema,
    responses((status = 200, body = RoutingSchema), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(s): JsonBody<RoutingSchema>,
) -> ApiResult<Json<RoutingSchema>> {
    c.require(CLASS, Access::Create)?;
    let input = apply(None, &s, false)?;
    let row = st
        .store
        .create_schema(c.domain_id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Search routing schemas: `q` (name, description), `id`, `name`, `type`, `editor`, `tags`.
#[utoipa::path(get, path = "/api/routing/schema", tag = "routing",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<String>, Query), ("id" = Option<Vec<String>>, Query),
           ("type" = Option<Vec<String>>, Query), ("editor" = Option<bool>, Query), ("tags" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<RoutingSchema>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let mut ids = p.ints("id")?;
    ids.extend(p.ints("ids")?);
    let mut tags = p.all("tags");
    tags.extend(p.all("tags.name"));
    let filter = SchemaFilter {
        q: p.get("q").map(str::to_string),
        ids,
        name: p.get("name").map(str::to_string),
        kinds: p
            .all("type")
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        editor: p.get("editor").map(|v| v == "true" || v == "1"),
        tags,
    };
    let res = st.store.search_schemas(c.domain_id, &filter, &page).await?;
    Ok(Json(super::page_json(&p, &page, &res, to_wire)))
}

/// The tags in use, with how many schemas carry each: `q`, `type`, paging, `sort=name|-name`.
#[utoipa::path(get, path = "/api/routing/schema/tags", tag = "routing",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("type" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<RoutingSchemaTag>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn tags(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let kinds: Vec<String> = p
        .all("type")
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let res = st
        .store
        .schema_tags(c.domain_id, &kinds, p.get("q"), &page)
        .await?;
    Ok(Json(super::page_json(&p, &page, &res, |(name, count)| {
        RoutingSchemaTag {
            name: name.clone(),
            count: u32::try_from(*count).unwrap_or(u32::MAX),
        }
    })))
}

/// Read a routing schema with its flow.
#[utoipa::path(get, path = "/api/routing/schema/{id}", tag = "routing",
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingSchema), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RoutingSchema>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_schema(c.domain_id, path_id(&id, "schema")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    s: RoutingSchema,
    merge: bool,
) -> ApiResult<Json<RoutingSchema>> {
    c.require(CLASS, Access::Update)?;
    let id = path_id(&id, "schema")?;
    let base = st.store.get_schema(c.domain_id, id).await?;
    let input = apply(Some(&base), &s, merge)?;
    let row = st
        .store
        .update_schema(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Replace a routing schema.
#[utoipa::path(put, path = "/api/routing/schema/{id}", tag = "routing", request_body = RoutingSchema,
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingSchema), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<RoutingSchema>,
) -> ApiResult<Json<RoutingSchema>> {
    write(st, c, id, s, false).await
}

/// Change some fields of a routing schema.
#[utoipa::path(patch, path = "/api/routing/schema/{id}", tag = "routing", request_body = RoutingSchema,
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingSchema), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(s): JsonBody<RoutingSchema>,
) -> ApiResult<Json<RoutingSchema>> {
    write(st, c, id, s, true).await
}

/// Delete a routing schema that no route or gateway uses (409 `app.schema.in_use` otherwise).
#[utoipa::path(delete, path = "/api/routing/schema/{id}", tag = "routing",
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingSchema), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RoutingSchema>> {
    c.require(CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_schema(c.domain_id, path_id(&id, "schema")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flows_are_arrays_of_objects() {
        assert_eq!(
            flow_text(&json!([{"answer": ""}, {"hangup": "200"}])).unwrap(),
            r#"[{"answer":""},{"hangup":"200"}]"#
        );
        assert_eq!(flow_text(&json!([])).unwrap(), "[]");
        for bad in [
            json!({"answer": ""}),
            json!([1]),
            json!("x"),
            json!([{}, []]),
        ] {
            assert_eq!(
                flow_text(&bad).unwrap_err().0.id,
                "app.schema.valid.schema",
                "{bad}"
            );
        }
    }

    #[test]
    fn put_resets_and_patch_keeps_absent_fields() {
        let created = apply(
            None,
            &RoutingSchema {
                name: Some(" in ".into()),
                kind: Some("Voice".into()),
                schema: Some(json!([{"answer": ""}])),
                tags: Some(vec![
                    SchemaTag { name: "a".into() },
                    SchemaTag { name: "a".into() },
                ]),
                ..Default::default()
            },
            false,
        )
        .unwrap();
        assert_eq!(created.name, "in");
        assert_eq!(created.kind, "voice");
        assert_eq!(created.tags, ["a"]);
        assert_eq!(created.payload, "{}");
        let base = SchemaRow {
            id: 1,
            domain_id: 1,
            name: created.name.clone(),
            description: "d".into(),
            kind: created.kind.clone(),
            flow: created.flow.clone(),
            payload: created.payload.clone(),
            debug: true,
            editor: true,
            tags: created.tags.clone(),
            created_at: 1,
            created_by: None,
            updated_at: 1,
            updated_by: None,
        };
        let rename = RoutingSchema {
            name: Some("out".into()),
            ..Default::default()
        };
        let patched = apply(Some(&base), &rename, true).unwrap();
        assert_eq!(
            (patched.kind.as_str(), patched.flow.as_str(), patched.debug),
            ("voice", base.flow.as_str(), true)
        );
        let put = apply(Some(&base), &rename, false).unwrap();
        assert_eq!(
            (put.kind.as_str(), put.flow.as_str(), put.debug),
            ("default", "[]", false)
        );
        let bad_kind = RoutingSchema {
            kind: Some("fax".into()),
            ..rename
        };
        assert_eq!(
            apply(None, &bad_kind, false).unwrap_err().0.id,
            "app.schema.valid.type"
        );
    }
}
