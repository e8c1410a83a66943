//! The HTTP surface: routes, the key and rate-limit check, and the
//! handlers for upload, files, download and delete.

use crate::failure::Failure;
use crate::store::check_name;
use crate::time::rfc3339;
use crate::{auth::KeyId, Inner};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use kled::librechat::wire::{ExecBody, FileInfo, FileMetadata, UploadReply, UploadedFile};
use serde::Deserialize;
use std::sync::Arc;

type Srv = State<Arc<Inner>>;

pub fn router(srv: Arc<Inner>) -> Router {
    let api = Router::new()
        .route("/exec", post(exec))
        .route("/upload", post(upload))
        .route("/files/{session_id}", get(list_files))
        .route("/files/{session_id}/{file_id}", axum::routing::delete(delete_file))
        .route("/download/{session_id}/{file_id}", get(download))
        .layer(middleware::from_fn_with_state(srv.clone(), authorize))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(srv.cfg.limits.max_body))
        .with_state(srv);
    Router::new().nest("/v1", api.clone()).merge(api).fallback(not_found).method_not_allowed_fallback(wrong_method)
}

async fn wrong_method() -> Failure {
    Failure::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "see the API's routes: POST /exec, POST /upload, GET /files/{session_id}, GET /download/{session_id}/{file_id}, DELETE /files/{session_id}/{file_id}")
}

/// Every API route but /health: a known key, within its rate.
async fn authorize(State(srv): Srv, mut req: Request, next: Next) -> Response {
    let key = match srv.keys.check(req.headers()) {
        Ok(k) => k,
        Err(f) => return f.into_response(),
    };
    if let Err(f) = srv.limiter.take(key) {
        return f.into_response();
    }
    req.extensions_mut().insert(key);
    next.run(req).await
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": kled::VERSION}))
}

async fn not_found() -> Failure {
    Failure::not_found("no such endpoint: the API has /exec, /upload, /files, /download")
}

async fn exec(
    State(srv): Srv,
    Extension(key): Extension<KeyId>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_failure(e.status(), e.body_text()).into_response(),
    };
    let body: ExecBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return Failure::bad_request(format!("the body is not a valid exec request: {e}")).into_response(),
    };
    // In a task of its own: a client that goes away mid-run must not cut
    // the run short between "started" and "killed, sandbox recycled".
    let run = tokio::spawn(async move { crate::exec::exec(&srv, key, body).await });
    match run.await {
        Ok(Ok(out)) => Json(out).into_response(),
        Ok(Err(f)) => f.into_response(),
        Err(e) => Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "Execution failed", format!("the run failed: {e}"))
            .into_response(),
    }
}

fn body_failure(status: StatusCode, text: String) -> Failure {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::too_large(format!("the request body is over the server's limit ({text})"))
    } else {
        Failure::bad_request(text)
    }
}

/// `POST /upload`: multipart, one or more `file` (or `files`) parts and an
/// optional `entity_id`. All land in one new session.
async fn upload(
    State(srv): Srv,
    Extension(key): Extension<KeyId>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    match upload_inner(&srv, key, multipart).await {
        Ok(r) => Json(r).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn upload_inner(
    srv: &Inner,
    key: KeyId,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<UploadReply, Failure> {
    let mut mp =
        multipart.map_err(|e| Failure::bad_request(format!("expected multipart/form-data: {}", e.body_text())))?;
    let max_file = srv.cfg.limits.max_file;
    let mut entity_id = None;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(|e| body_failure(e.status(), e.body_text()))? {
        match field.name().unwrap_or("") {
            "entity_id" => {
                let v = field.text().await.map_err(|e| body_failure(e.status(), e.body_text()))?;
                let ok = !v.is_empty()
                    && v.len() <= 40
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !ok {
                    return Err(Failure::bad_request("entity_id must be 1 to 40 of A-Z a-z 0-9 _ -"));
                }
                entity_id = Some(v);
            }
            "file" | "files" => {
                let name = field.file_name().map(str::to_string).unwrap_or_default();
                check_name(&name)?;
                let mut data = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| body_failure(e.status(), e.body_text()))? {
                    if data.len() + chunk.len() > max_file {
                        return Err(Failure::too_large(format!("{name} is over the {max_file} byte file limit")));
                    }
                    data.extend_from_slice(&chunk);
                }
                files.push((name, data));
            }
            _ => {}
        }
    }
    if files.is_empty() {
        return Err(Failure::bad_request("no file in the upload: send it as a multipart part named \"file\""));
    }
    if files.len() > srv.cfg.limits.max_files {
        return Err(Failure::bad_request(format!(
            "{} files in one upload; the limit is {}",
            files.len(),
            srv.cfg.limits.max_files
        )));
    }
    let session = srv.store.create(key).map_err(|e| Failure::internal(&e))?;
    let mut st = session.state.lock().await;
    let mut out = Vec::new();
    for (name, data) in files {
        let f = srv
            .store
            .put(&session, &mut st, &name, &data, entity_id.clone())
            .await
            .map_err(|e| Failure::internal(&e))?;
        out.push(UploadedFile { file_id: f.id, filename: f.name });
    }
    Ok(UploadReply { message: "success".into(), session_id: session.id.clone(), files: out })
}

#[derive(Deserialize)]
struct Detail {
    detail: Option<String>,
}

/// `GET /files/{session_id}?detail=summary|full` (`simple` = summary).
async fn list_files(
    State(srv): Srv,
    Extension(key): Extension<KeyId>,
    Path(sid): Path<String>,
    Query(q): Query<Detail>,
) -> Result<Response, Failure> {
    let session = srv.store.get(&sid, key)?;
    let full = q.detail.as_deref() == Some("full");
    let st = session.state.lock().await;
    let list: Vec<FileInfo> = st
        .files
        .values()
        .map(|f| {
            let mut info = FileInfo {
                name: format!("{sid}/{}", f.id),
                file_id: Some(f.id.clone()),
                last_modified: Some(rfc3339(f.modified)),
                ..FileInfo::default()
            };
            if full {
                info.id = Some(f.id.clone());
                info.session_id = Some(sid.clone());
                info.size = Some(f.size);
                info.etag = Some(format!(
                    "{:x}-{:x}",
                    f.size,
                    f.modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
                ));
                info.content_type = Some(content_type(&f.name).into());
                info.metadata = Some(FileMetadata {
                    content_type: Some(content_type(&f.name).into()),
                    original_filename: Some(f.name.clone()),
                });
                info.entity_id = f.entity_id.clone();
            }
            info
        })
        .collect();
    Ok(Json(list).into_response())
}

async fn download(
    State(srv): Srv,
    Extension(key): Extension<KeyId>,
    Path((sid, fid)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let session = srv.store.get(&sid, key)?;
    let file = session.state.lock().await.files.get(&fid).cloned().ok_or_else(|| missing(&sid, &fid))?;
    let data = srv.store.read(&sid, &file).await.map_err(|e| Failure::internal(&e))?;
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file.name)));
    let ascii: String =
        file.name.chars().map(|c| if c.is_ascii_graphic() && c != '"' || c == ' ' { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

fn missing(sid: &str, fid: &str) -> Failure {
    Failure::not_found(format!("no file {fid:?} in session {sid:?}"))
}

async fn delete_file(
    State(srv): Srv,
    Extension(key): Extension<KeyId>,
    Path((sid, fid)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let session = srv.store.get(&sid, key)?;
    let mut st = session.state.lock().await;
    let name = st.files.get(&fid).map(|f| f.name.clone());
    if !srv.store.delete(&sid, &mut st, &fid) {
        return Err(missing(&sid, &fid));
    }
    // Out of the sandbox too, so the next run does not see it.
    if let (Some(name), Some(sb)) = (name, st.sandbox.as_ref()) {
        if st.synced.get(&name) == Some(&fid) {
            let _ = sb
                .terminal
                .exec(kled::ExecRequest::new(kled::Command::Argv(vec![
                    "rm".into(),
                    "-f".into(),
                    "--".into(),
                    format!("{}/{name}", crate::pool::DATA_DIR),
                ])))
                .await;
            st.synced.remove(&name);
        }
    }
    Ok(Json(serde_json::json!({"message": "success"})).into_response())
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "md" | "py" | "js" | "ts" | "c" | "cpp" | "rs" | "go" | "java" | "sh" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
