//! Uploads (`/upload`, `/upload/batch`) and the file routes (`/files`,
//! `/download`, `/sessions/{sid}/objects/{fid}`), in both protocol
//! generations. The current one names the owner with `kind`/`id`/`version`
//! (form fields on uploads, query parameters on the rest), as
//! ClickHouse/code-interpreter's router.ts and middleware/auth.ts; without
//! `kind`, a session is the caller's own or does not exist (404).

use crate::auth::Principal;
use crate::failure::Failure;
use crate::paths::check_path;
use crate::refs::{is_resource_id, owner_key};
use crate::store::Session;
use crate::time::rfc3339;
use crate::Inner;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kled::librechat::wire::{FileInfo, FileMetadata, UploadReply, UploadedFile};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Srv = State<Arc<Inner>>;
type Form = Result<Multipart, axum::extract::multipart::MultipartRejection>;

pub fn body_failure(status: StatusCode, text: String) -> Failure {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::too_large(format!("the request body is over the server's limit ({text})"))
    } else {
        Failure::bad_request(text)
    }
}

/// One file part: its name, and its bytes or why it was refused.
struct Part {
    name: String,
    data: Result<Vec<u8>, String>,
}

/// An upload's form, read whole (bounded by `max_body`).
struct UploadForm {
    kind: Option<String>,
    id: Option<String>,
    version: Option<String>,
    read_only: bool,
    entity_id: Option<String>,
    parts: Vec<Part>,
}

async fn read_form(srv: &Inner, form: Form) -> Result<UploadForm, Failure> {
    let mut mp =
        form.map_err(|_| Failure::bare(StatusCode::BAD_REQUEST, "Invalid content type. Must be multipart/form-data."))?;
    let max_file = srv.cfg.limits.max_file;
    let mut f =
        UploadForm { kind: None, id: None, version: None, read_only: false, entity_id: None, parts: Vec::new() };
    let fail = |e: axum::extract::multipart::MultipartError| body_failure(e.status(), e.body_text());
    while let Some(mut field) = mp.next_field().await.map_err(fail)? {
        let field_name = field.name().unwrap_or("").to_string();
        if matches!(field_name.as_str(), "file" | "files") {
            let name = field.file_name().map(str::to_string).unwrap_or_default();
            let mut data = Ok(Vec::new());
            while let Some(chunk) = field.chunk().await.map_err(fail)? {
                if let Ok(d) = &mut data {
                    if d.len() + chunk.len() > max_file {
                        data = Err("File size limit exceeded".to_string());
                    } else {
                        d.extend_from_slice(&chunk);
                    }
                }
            }
            f.parts.push(Part { name, data });
            continue;
        }
        let v = field.text().await.map_err(fail)?;
        match field_name.as_str() {
            "kind" => f.kind = Some(v),
            "id" => f.id = Some(v),
            "version" => f.version = Some(v).filter(|v| !v.is_empty()),
            "read_only" => f.read_only = v.eq_ignore_ascii_case("true"),
            "entity_id" => {
                let ok = !v.is_empty()
                    && v.len() <= 40
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !ok {
                    return Err(Failure::bad_request("entity_id must be 1 to 40 of A-Z a-z 0-9 _ -"));
                }
                f.entity_id = Some(v);
            }
            _ => {}
        }
    }
    Ok(f)
}

/// Whose files an upload makes: `kind`/`id`/`version` as the reference
/// server's parseUploadSessionKeyInput reads them, else the caller's own.
fn upload_owner(
    who: &Principal,
    kind: Option<&str>,
    id: Option<&str>,
    version: Option<&str>,
) -> Result<String, Failure> {
    let Some(kind) = kind else { return Ok(who.user_key()) };
    let bad = |m: String| Failure::bare(StatusCode::BAD_REQUEST, m);
    let id = id.filter(|s| !s.is_empty());
    let resource = match (kind, id) {
        (_, Some(id)) if is_resource_id(id) => id.to_string(),
        (_, Some(_)) => return Err(bad("id is invalid".into())),
        ("user", None) => who.user.clone(),
        (k, None) => return Err(bad(format!("id is required for kind: '{k}'"))),
    };
    let version = match version {
        Some(v) => Some(
            v.parse::<f64>()
                .map(|n| json!(n))
                .map_err(|_| bad(format!("version must be a number for kind: '{kind}'")))?,
        ),
        None => None,
    };
    owner_key(who, kind, &resource, version.as_ref()).map_err(bad)
}

/// `POST /upload`: every file into one new session; any bad file fails it.
pub async fn upload(State(srv): Srv, Extension(who): Extension<Principal>, form: Form) -> Result<Response, Failure> {
    let f = read_form(&srv, form).await?;
    let owner = upload_owner(&who, f.kind.as_deref(), f.id.as_deref(), f.version.as_deref())?;
    if f.parts.is_empty() {
        return Err(Failure::bad_request("no file in the upload: send it as a multipart part named \"file\""));
    }
    if f.parts.len() > srv.cfg.limits.max_files {
        return Err(Failure::bad_request(format!(
            "{} files in one upload; the limit is {}",
            f.parts.len(),
            srv.cfg.limits.max_files
        )));
    }
    for p in &f.parts {
        check_path(&p.name)?;
        if let Err(e) = &p.data {
            return Err(Failure::too_large(format!("{}: {e} ({} bytes per file)", p.name, srv.cfg.limits.max_file)));
        }
    }
    let session = srv.store.create(owner).map_err(|e| Failure::internal(&e))?;
    let mut st = session.state.lock().await;
    let mut out = Vec::new();
    for p in f.parts {
        let data = p.data.expect("checked");
        let stored = srv.store.put(&session, &mut st, &p.name, &data, f.entity_id.clone(), f.read_only).await;
        let stored = stored.map_err(|e| Failure::internal(&e))?;
        out.push(UploadedFile { file_id: stored.id, filename: stored.name });
    }
    srv.store.save(&session, &st);
    let reply = UploadReply {
        message: "success".into(),
        session_id: session.id.clone(),
        storage_session_id: Some(session.id.clone()),
        files: out,
    };
    Ok(Json(reply).into_response())
}

/// `POST /upload/batch`: one session, a status per file; 400 when none
/// succeeded, as the reference server.
pub async fn upload_batch(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    form: Form,
) -> Result<Response, Failure> {
    let f = read_form(&srv, form).await?;
    let owner = upload_owner(&who, f.kind.as_deref(), f.id.as_deref(), f.version.as_deref())?;
    if f.parts.is_empty() {
        return Err(Failure::bare(StatusCode::BAD_REQUEST, "No files provided"));
    }
    let max = srv.cfg.limits.max_files;
    let limit_reached = f.parts.len() > max;
    let session = srv.store.create(owner).map_err(|e| Failure::internal(&e))?;
    let mut st = session.state.lock().await;
    let (mut results, mut ok, mut failed) = (Vec::new(), 0, 0);
    for p in f.parts.into_iter().take(max) {
        let stored = match (check_path(&p.name), p.data) {
            (Err(e), _) => Err(e.details.unwrap_or(e.error)),
            (_, Err(e)) => Err(e),
            (Ok(_), Ok(data)) => srv
                .store
                .put(&session, &mut st, &p.name, &data, f.entity_id.clone(), f.read_only)
                .await
                .map_err(|e| e.message().to_string()),
        };
        match stored {
            Ok(s) => {
                ok += 1;
                results.push(json!({"status": "success", "filename": s.name, "fileId": s.id}));
            }
            Err(e) => {
                failed += 1;
                results.push(json!({"status": "error", "filename": p.name, "error": e}));
            }
        }
    }
    srv.store.save(&session, &st);
    let message = match (ok, failed) {
        (_, 0) => "success",
        (0, _) => "error",
        _ => "partial_success",
    };
    let mut body = json!({
        "message": message, "storage_session_id": session.id, "session_id": session.id,
        "files": results, "succeeded": ok, "failed": failed,
    });
    if limit_reached {
        body["filesLimitReached"] = json!(true);
        body["maxFiles"] = json!(max);
    }
    let status = if message == "error" { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok((status, Json(body)).into_response())
}

/// `kind`, `id`, `version` on the file routes.
#[derive(Deserialize)]
pub struct Scope {
    detail: Option<String>,
    kind: Option<String>,
    id: Option<String>,
    version: Option<String>,
}

/// The session `sid` if the caller may read it: by `kind` (403 when the
/// owner differs, as sessionAuth), or as the caller's own (404).
fn session_for(srv: &Inner, who: &Principal, sid: &str, q: &Scope) -> Result<Arc<Session>, Failure> {
    if q.kind.is_none() {
        return srv.store.get(sid, &who.user_key());
    }
    if !kled::librechat::wire::is_id(sid) {
        return Err(Failure::bare(StatusCode::BAD_REQUEST, "Bad request"));
    }
    let owner = upload_owner(who, q.kind.as_deref(), q.id.as_deref(), q.version.as_deref())?;
    let s = srv.store.find(sid).ok().filter(|s| s.owner == owner).ok_or_else(|| Failure::forbidden("Unauthorized"))?;
    s.touch();
    Ok(s)
}

/// `GET /files/{session_id}?detail=simple|summary|full|normalized`.
pub async fn list_files(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    Path(sid): Path<String>,
    Query(q): Query<Scope>,
) -> Result<Response, Failure> {
    let session = session_for(&srv, &who, &sid, &q)?;
    let st = session.state.lock().await;
    if q.detail.as_deref() == Some("normalized") {
        let list: Vec<_> = st
            .files
            .values()
            .map(|f| {
                json!({"id": f.id, "name": f.name, "storage_session_id": sid, "size": f.size,
                       "contentType": content_type(&f.name), "lastModified": rfc3339(f.modified)})
            })
            .collect();
        return Ok(Json(list).into_response());
    }
    let full = q.detail.as_deref() == Some("full");
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
                info.etag = Some(etag(f));
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

fn etag(f: &crate::store::StoredFile) -> String {
    let nanos = f.modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:x}-{nanos:x}", f.size)
}

/// `GET /sessions/{session_id}/objects/{file_id}`: the metadata LibreChat
/// checks freshness with (`lastModified`).
pub async fn object(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<Scope>,
) -> Result<Response, Failure> {
    let session = session_for(&srv, &who, &sid, &q)?;
    let file = session.state.lock().await.files.get(&fid).cloned();
    let Some(f) = file else { return Err(Failure::bare(StatusCode::NOT_FOUND, "File not found")) };
    Ok(Json(json!({
        "name": format!("{sid}/{}", f.id), "originalFilename": f.name, "size": f.size,
        "lastModified": rfc3339(f.modified), "etag": etag(&f), "contentType": content_type(&f.name),
        "readOnly": f.read_only,
    }))
    .into_response())
}

pub async fn download(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<Scope>,
) -> Result<Response, Failure> {
    let session = session_for(&srv, &who, &sid, &q)?;
    let file = session.state.lock().await.files.get(&fid).cloned().ok_or_else(|| {
        Failure::new(StatusCode::NOT_FOUND, "File not found", "The file may have expired or does not exist")
    })?;
    let data = srv.store.read(&sid, &file).await.map_err(|e| Failure::internal(&e))?;
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file.name)));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `attachment; filename="ASCII"` plus, for any other name,
/// `filename*=UTF-8''PERCENT-ENCODED` (RFC 6266), of the path's last part.
fn content_disposition(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ascii: String =
        base.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    if ascii == base {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let encoded: String = base
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub async fn delete_file(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<Scope>,
) -> Result<Response, Failure> {
    let session = session_for(&srv, &who, &sid, &q)?;
    let mut st = session.state.lock().await;
    let name = st.files.get(&fid).map(|f| f.name.clone());
    if !srv.store.delete(&sid, &mut st, &fid) {
        return Err(Failure::not_found(format!("no file {fid:?} in session {sid:?}")));
    }
    srv.store.save(&session, &st);
    // Out of the sandbox too, so the next run does not see it.
    if let (Some(name), Some(sb)) = (name, st.sandbox.as_ref()) {
        if st.synced.get(&name) == Some(&fid) {
            let path = format!("{}/{name}", crate::pool::DATA_DIR);
            let argv = vec!["rm".into(), "-f".into(), "--".into(), path];
            let _ = sb.terminal.exec(kled::ExecRequest::new(kled::Command::Argv(argv))).await;
            st.synced.remove(&name);
        }
    }
    Ok(Json(json!({"message": "success"})).into_response())
}

pub fn content_type(name: &str) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_names_get_filename_star() {
        assert_eq!(content_disposition("out/plot.png"), "attachment; filename=\"plot.png\"");
        assert_eq!(
            content_disposition("données é.csv"),
            "attachment; filename=\"donn_es _.csv\"; filename*=UTF-8''donn%C3%A9es%20%C3%A9.csv"
        );
    }
}
