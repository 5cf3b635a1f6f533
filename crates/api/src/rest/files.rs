//! Call recordings: `/api/calls/{call_id}/files` (list, delete) and the binary
//! `/api/storage/file/{id}/download|stream` with HTTP Range, the token in `X-Webitel-Access` or
//! `?access_token=` (as webitel-sdk builds those URLs for `<audio src>`).

use super::ms;
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::path_id;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::io::SeekFrom;
use switchboard_model::CallFile;
use switchboard_store::FileRow;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

pub(crate) fn call_file(f: &FileRow) -> CallFile {
    CallFile {
        id: f.id.to_string(),
        name: f.name.clone(),
        size: f.size.to_string(),
        mime_type: f.mime_type.clone(),
        start_at: ms(f.start_at).unwrap_or_default(),
        stop_at: ms(f.stop_at).unwrap_or_default(),
        kind: "file_type_audio".into(),
    }
}

/// The recordings of a call (its root id).
#[utoipa::path(get, path = "/api/calls/{call_id}/files", tag = "calls",
    params(("call_id" = String, Path)),
    responses((status = 200, description = "{items:[File], next}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn list(
    State(st): State<AppState>,
    c: Caller,
    Path(call_id): Path<String>,
) -> ApiResult<Json<Value>> {
    c.require("recordings", Access::Read)?;
    let files = st.store.files_of_calls(c.domain_id, &[call_id]).await?;
    let items: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "id": f.id.to_string(), "name": f.name, "view_name": f.name,
                "mime_type": f.mime_type, "size": f.size.to_string(),
                "uploaded_at": f.created_at.to_string(), "reference_id": f.call_id,
                "channel": "call",
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "next": false })))
}

/// Deletes a call's recordings. The rows stay, marked with who deleted them and when.
#[utoipa::path(delete, path = "/api/calls/{call_id}/files", tag = "calls",
    params(("call_id" = String, Path)),
    responses((status = 200, description = "{}"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(call_id): Path<String>,
) -> ApiResult<Json<Value>> {
    c.require("recordings", Access::Delete)?;
    let gone = st
        .store
        .delete_call_files(c.domain_id, &call_id, c.user_id)
        .await?;
    for f in &gone {
        tracing::info!(file = f.id, call = %call_id, by = c.user_id, "recording deleted");
        if let Err(e) = tokio::fs::remove_file(&f.path).await {
            tracing::warn!(file = f.id, "recording file not removed: {e}");
        }
    }
    Ok(Json(json!({})))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against `len`: the inclusive range, or `Err` when
/// unsatisfiable. `None` when absent or not a single byte range (then the whole file).
fn range(headers: &HeaderMap, len: u64) -> Option<Result<(u64, u64), ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(r))
}

async fn serve(
    st: AppState,
    c: Caller,
    id: String,
    headers: HeaderMap,
    attach: bool,
) -> ApiResult<Response> {
    c.require("recordings", Access::Read)?;
    let f = st
        .store
        .get_file(c.domain_id, path_id(&id, "file")?)
        .await?;
    let mut file = tokio::fs::File::open(&f.path)
        .await
        .map_err(|_| ApiError::not_found("file"))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .len();
    let mut res = Response::builder()
        .header(header::CONTENT_TYPE, f.mime_type.as_str())
        .header(header::ACCEPT_RANGES, "bytes");
    if attach {
        res = res.header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", f.name.replace('"', "")),
        );
    }
    let (status, start, end) = match range(&headers, len) {
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
        Some(Ok((a, b))) => {
            res = res.header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"));
            (StatusCode::PARTIAL_CONTENT, a, b)
        }
        Some(Err(())) => {
            return res
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .map_err(|e| ApiError::internal(e.to_string()));
        }
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // Recordings are small (~16 KiB per minute of both parties): read the range at once.
    let mut buf = Vec::with_capacity(count as usize);
    file.take(count)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    res.status(status)
        .header(header::CONTENT_LENGTH, buf.len())
        .body(Body::from(buf))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The file as an attachment. Another domain's file is not found.
#[utoipa::path(get, path = "/api/storage/file/{id}/download", tag = "storage",
    params(("id" = String, Path), ("access_token" = Option<String>, Query)),
    responses((status = 200, description = "the file"), (status = 206, description = "a byte range"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn download(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(st, c, id, headers, true).await
}

/// The file for playing in place (`<audio src>`), with byte ranges.
#[utoipa::path(get, path = "/api/storage/file/{id}/stream", tag = "storage",
    params(("id" = String, Path), ("access_token" = Option<String>, Query)),
    responses((status = 200, description = "the file"), (status = 206, description = "a byte range"), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn stream(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(st, c, id, headers, false).await
}
