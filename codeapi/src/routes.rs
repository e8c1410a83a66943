//! The HTTP surface: routes, the caller and rate-limit check, `/exec`,
//! `/health` and `/metrics`. The file routes are in `files.rs`.

use crate::auth::Principal;
use crate::failure::Failure;
use crate::files::{self, body_failure};
use crate::metrics::Sandboxes;
use crate::Inner;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use kled::librechat::wire::ExecBody;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Srv = State<Arc<Inner>>;

/// Past the run timeout, how long an exec may still take (a sandbox to
/// start, files to copy) before the answer is 504 `execution_timeout`.
const EXEC_GRACE: Duration = Duration::from_secs(90);

pub fn router(srv: Arc<Inner>) -> Router {
    let limit = crate::drain::DrainLimit(srv.cfg.limits.max_body);
    let api = Router::new()
        .route("/exec", post(exec))
        .route("/upload", post(files::upload))
        .route("/upload/batch", post(files::upload_batch))
        .route("/files/{session_id}", get(files::list_files))
        .route("/files/{session_id}/{file_id}", delete(files::delete_file))
        .route("/download/{session_id}/{file_id}", get(files::download))
        .route("/sessions/{session_id}/objects/{file_id}", get(files::object))
        .layer(middleware::from_fn_with_state(srv.clone(), authorize))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(srv.clone(), count))
        .layer(DefaultBodyLimit::max(srv.cfg.limits.max_body))
        .with_state(srv);
    Router::new()
        .nest("/v1", api.clone())
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        // Outermost: an answer given before the body was read must not cost
        // the client its connection.
        .layer(middleware::from_fn_with_state(limit, crate::drain::keep_alive))
}

async fn wrong_method() -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "see the API's routes: POST /exec, POST /upload, POST /upload/batch, GET /files/{session_id}, \
         GET /download/{session_id}/{file_id}, GET /sessions/{session_id}/objects/{file_id}, DELETE /files/{session_id}/{file_id}",
    )
}

/// Every API route but /health and /metrics: a known caller, within its rate.
async fn authorize(State(srv): Srv, mut req: Request, next: Next) -> Response {
    let who = match srv.auth.check(req.headers()) {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    if let Err(f) = srv.limiter.take(&who) {
        return f.into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

/// Requests by route (as matched, ids not included) and status.
async fn count(State(srv): Srv, path: MatchedPath, req: Request, next: Next) -> Response {
    let route = path.as_str().trim_start_matches("/v1").to_string();
    let r = next.run(req).await;
    srv.metrics.request(&route, r.status().as_u16());
    r
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": kled::VERSION}))
}

async fn metrics(State(srv): Srv) -> Response {
    let (held, busy) = srv.store.sandbox_counts();
    let text = srv.metrics.render(Sandboxes { busy, idle: held - busy, warm: srv.pool.warm_count() });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn not_found() -> Failure {
    Failure::not_found("no such endpoint: the API has /exec, /upload, /upload/batch, /files, /download, /sessions")
}

async fn exec(
    State(srv): Srv,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_failure(e.status(), e.body_text()).into_response(),
    };
    let (body, refs) = match parse_exec(&body) {
        Ok(b) => b,
        Err(e) => return Failure::bad_request(format!("the body is not a valid exec request: {e}")).into_response(),
    };
    let inputs = match crate::refs::authorize(&srv, &who, &refs).await {
        Ok(i) => i,
        Err(f) => return f.into_response(),
    };
    let started = Instant::now();
    let deadline = Duration::from_secs(srv.cfg.limits.run_timeout) + EXEC_GRACE;
    // In a task of its own: a client that goes away mid-run must not cut
    // the run short between "started" and "killed, sandbox recycled".
    let task_srv = srv.clone();
    let run = tokio::spawn(async move { crate::exec::exec(&task_srv, &who, body, inputs).await });
    let r = match tokio::time::timeout(deadline, run).await {
        Ok(Ok(Ok(out))) => Json(out).into_response(),
        Ok(Ok(Err(f))) => f.into_response(),
        Ok(Err(e)) => {
            Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "Execution failed", format!("the run failed: {e}"))
                .into_response()
        }
        // The reference server's answer when a job outlives its deadline.
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            Json(serde_json::json!({"error": "execution_timeout", "message": "Execution timed out"})),
        )
            .into_response(),
    };
    if r.status().is_success() {
        srv.metrics.exec_took(started.elapsed());
    }
    r
}

/// The exec body, its `files` read in both generations' shapes.
fn parse_exec(bytes: &[u8]) -> Result<(ExecBody, Vec<crate::refs::RefIn>), serde_json::Error> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes)?;
    let files = v.as_object_mut().and_then(|m| m.remove("files")).unwrap_or(serde_json::Value::Null);
    let refs = if files.is_null() { Vec::new() } else { serde_json::from_value(files)? };
    Ok((serde_json::from_value(v)?, refs))
}
