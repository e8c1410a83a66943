//! A client for the Code Interpreter API (see the module docs for the
//! endpoints). Each call retries per [`RetryPolicy`] within its deadline
//! and fails with an [`ApiError`] that keeps the server's message.

use super::error::{ApiError, ApiErrorKind};
use super::retry::{parse_retry_after, server_seconds, RetryPolicy};
use super::wire::{ErrorBody, ExecBody, ExecOutput, FileInfo, UploadReply};
use crate::config::{LibreChatAuth, LibreChatConfig, Secret};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use std::time::{Duration, Instant};

/// Makes a fresh bearer token for each try (a LibreChat-style minted JWT,
/// which lives at most 300 s).
pub type TokenSource = std::sync::Arc<dyn Fn() -> Result<Secret, String> + Send + Sync>;

/// How the key is presented.
#[derive(Clone)]
pub enum Auth {
    /// `X-API-Key: KEY`, as the hosted service wants.
    ApiKey(Secret),
    /// `Authorization: Bearer KEY`, as self-hosted servers want.
    Bearer(Secret),
    /// `Authorization: Bearer TOKEN`, TOKEN from the callback at each try.
    Token(TokenSource),
    None,
}

impl Auth {
    /// Bearer tokens from `f`, called before every try.
    pub fn token(f: impl Fn() -> Result<Secret, String> + Send + Sync + 'static) -> Auth {
        Auth::Token(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::ApiKey(_) => "ApiKey(<redacted>)",
            Auth::Bearer(_) => "Bearer(<redacted>)",
            Auth::Token(_) => "Token(<callback>)",
            Auth::None => "None",
        })
    }
}

/// A file to upload.
#[derive(Debug, Clone)]
pub struct UploadFile {
    pub name: String,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    policy: RetryPolicy,
}

#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    auth: Auth,
    policy: RetryPolicy,
}

impl ClientBuilder {
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn build(self) -> crate::Result<Client> {
        let mut base = Url::parse(self.base_url.trim_end_matches('/')).map_err(|e| {
            crate::Error::new(
                crate::ErrorKind::Config,
                format!("Code Interpreter base URL {:?} is not a URL ({e}); set LIBRECHAT_CODE_BASEURL", self.base_url),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(crate::Error::new(
                crate::ErrorKind::Config,
                format!("Code Interpreter base URL {:?} must be http:// or https://", self.base_url),
            ));
        }
        // Url::join replaces the last segment unless the path ends in '/'.
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("kled/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| crate::Error::new(crate::ErrorKind::Config, format!("HTTP client: {e}")))?;
        Ok(Client { http, base, auth: self.auth, policy: self.policy })
    }
}

impl Client {
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder { base_url: base_url.into(), auth: Auth::None, policy: RetryPolicy::default() }
    }

    /// From the `librechat` section of the config (and its environment
    /// variables). A missing key is not an error here: the server decides.
    pub fn from_config(c: &LibreChatConfig) -> crate::Result<Client> {
        let auth = match (&c.api_key, c.auth) {
            (None, _) => Auth::None,
            (Some(k), LibreChatAuth::ApiKey) => Auth::ApiKey(k.clone()),
            (Some(k), LibreChatAuth::Bearer) => Auth::Bearer(k.clone()),
        };
        let policy = RetryPolicy { deadline: Duration::from_secs(c.timeout.max(1)), ..RetryPolicy::default() };
        Client::builder(c.base_url.clone()).auth(auth).retry(policy).build()
    }

    /// This client with a shorter total deadline per call.
    pub fn with_deadline(&self, deadline: Duration) -> Client {
        let mut c = self.clone();
        c.policy.deadline = c.policy.deadline.min(deadline);
        c
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `POST /exec`.
    pub async fn exec(&self, body: &ExecBody) -> Result<ExecOutput, ApiError> {
        let url = self.url(&["exec"]);
        // A 504 may come after the code ran: trying again would run it twice.
        let r = self.send_with(Method::POST, "POST /exec", false, || self.http.post(url.clone()).json(body)).await?;
        json(r, "POST /exec").await
    }

    /// `POST /upload` with one file.
    pub async fn upload(&self, file: UploadFile, entity_id: Option<&str>) -> Result<UploadReply, ApiError> {
        self.upload_many(vec![file], entity_id).await
    }

    /// `POST /upload` with several `file` parts: one session holds them all.
    pub async fn upload_many(&self, files: Vec<UploadFile>, entity_id: Option<&str>) -> Result<UploadReply, ApiError> {
        const REQ: &str = "POST /upload";
        if files.is_empty() {
            return Err(ApiError::new(ApiErrorKind::BadRequest, REQ, "no files to upload"));
        }
        let url = self.url(&["upload"]);
        let form = || {
            // `kind` for current servers (ClickHouse/code-interpreter
            // requires it); the legacy service ignores the field.
            let mut form = reqwest::multipart::Form::new().text("kind", "user");
            if let Some(e) = entity_id {
                form = form.text("entity_id", e.to_string());
            }
            for f in &files {
                let part = reqwest::multipart::Part::bytes(f.data.clone())
                    .file_name(f.name.clone())
                    .mime_str("application/octet-stream")
                    .expect("a valid mime type");
                form = form.part("file", part);
            }
            form
        };
        let r = self.send(Method::POST, REQ, || self.http.post(url.clone()).multipart(form())).await?;
        let reply: UploadReply = json(r, REQ).await?;
        if reply.message != "success" {
            return Err(ApiError::new(ApiErrorKind::Protocol, REQ, format!("upload said {:?}", reply.message)));
        }
        Ok(reply)
    }

    /// `GET /files/{session_id}?detail=full|summary`.
    pub async fn list_files(&self, session_id: &str, full: bool) -> Result<Vec<FileInfo>, ApiError> {
        const REQ: &str = "GET /files";
        let mut url = self.url(&["files", session_id]);
        url.query_pairs_mut().append_pair("detail", if full { "full" } else { "summary" });
        let r = self.send(Method::GET, REQ, || self.http.get(url.clone())).await?;
        json(r, REQ).await
    }

    /// `GET /download/{session_id}/{file_id}`: the file's bytes.
    pub async fn download(&self, session_id: &str, file_id: &str) -> Result<Vec<u8>, ApiError> {
        const REQ: &str = "GET /download";
        let url = self.url(&["download", session_id, file_id]);
        let r = self.send(Method::GET, REQ, || self.http.get(url.clone())).await?;
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| ApiError::new(ApiErrorKind::Transport, REQ, format!("reading the file: {e}")))
    }

    /// `DELETE /files/{session_id}/{file_id}`.
    pub async fn delete(&self, session_id: &str, file_id: &str) -> Result<(), ApiError> {
        let url = self.url(&["files", session_id, file_id]);
        self.send(Method::DELETE, "DELETE /files", || self.http.delete(url.clone())).await.map(|_| ())
    }

    /// The base URL plus `segments`, each percent-encoded: an id can never
    /// reach another path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("checked in build").pop_if_empty().extend(segments);
        url
    }

    /// Sends the request made by `make` (again for each try) until it
    /// succeeds, fails for good, or the deadline passes.
    async fn send(&self, method: Method, req: &str, make: impl Fn() -> RequestBuilder) -> Result<Response, ApiError> {
        self.send_with(method, req, true, make).await
    }

    /// [`Client::send`]; `retry_504` false makes a 504 final.
    async fn send_with(
        &self,
        method: Method,
        req: &str,
        retry_504: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ApiError> {
        let started = Instant::now();
        let deadline = started + self.policy.deadline;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.deadline_error(req));
            }
            let b = self.authorize(make(), req)?.timeout(left);
            let response = match b.send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return Err(self.deadline_error(req)),
                Err(e) => {
                    return Err(ApiError::new(
                        ApiErrorKind::Transport,
                        req,
                        format!("no answer from {}: {}", host(&self.base), cause(&e)),
                    ))
                }
            };
            let status = response.status();
            tracing::debug!(%method, request = req, status = status.as_u16(), attempt, "code interpreter");
            if status.is_success() {
                return Ok(response);
            }
            let err = error_of(response, req).await;
            if status == StatusCode::GATEWAY_TIMEOUT && !retry_504 {
                let mut err = err;
                err.message.push_str(" (not retried: the code may have run)");
                return Err(err);
            }
            match self.policy.wait(status.as_u16(), attempt, err.retry_after) {
                Some(wait) if Instant::now() + wait < deadline => {
                    tracing::info!(
                        request = req,
                        status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Some(_) => {
                    let mut err = err;
                    err.message.push_str(&format!(
                        " (gave up after {attempt} tries: the next wait would pass the {}s deadline)",
                        self.policy.deadline.as_secs()
                    ));
                    return Err(err);
                }
                None if attempt > 1
                    && matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
                    ) =>
                {
                    let mut err = err;
                    err.message.push_str(&format!(" (gave up after {attempt} tries)"));
                    return Err(err);
                }
                None => return Err(err),
            }
        }
    }

    fn authorize(&self, b: RequestBuilder, req: &str) -> Result<RequestBuilder, ApiError> {
        Ok(match &self.auth {
            Auth::ApiKey(k) => b.header("X-API-Key", k.expose()),
            Auth::Bearer(k) => b.bearer_auth(k.expose()),
            Auth::Token(f) => {
                let t = f().map_err(|e| ApiError::new(ApiErrorKind::Unauthorized, req, format!("no token: {e}")))?;
                b.bearer_auth(t.expose())
            }
            Auth::None => b,
        })
    }

    fn deadline_error(&self, req: &str) -> ApiError {
        ApiError::new(
            ApiErrorKind::Deadline,
            req,
            format!(
                "no result within the {}s deadline (librechat.timeout in the config)",
                self.policy.deadline.as_secs()
            ),
        )
    }
}

fn host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.as_str().to_string(),
    }
}

/// The innermost cause: reqwest's own Display is "error sending request".
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(s) = source.source() {
        source = s;
    }
    source.to_string()
}

async fn json<T: serde::de::DeserializeOwned>(r: Response, req: &str) -> Result<T, ApiError> {
    let bytes = r
        .bytes()
        .await
        .map_err(|e| ApiError::new(ApiErrorKind::Transport, req, format!("reading the answer: {}", cause(&e))))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        ApiError::new(ApiErrorKind::Protocol, req, format!("unexpected answer ({e}): {shown}"))
    })
}

/// An ApiError from a non-2xx answer: the server's `{error, details}` when
/// it sent JSON, else the start of its text.
async fn error_of(r: Response, req: &str) -> ApiError {
    let status = r.status().as_u16();
    let header =
        r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let body = r.bytes().await.unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    let from_body =
        parsed.as_ref().and_then(|b| b.retry_after_seconds).filter(|s| *s > 0.0).and_then(|s| server_seconds(s.ceil()));
    let message = match parsed {
        Some(b) => {
            let mut m = b.error;
            if let Some(d) = b.details.or(b.message).filter(|d| !d.is_empty()) {
                m = format!("{m}: {d}");
            }
            m
        }
        None if body.is_empty() => {
            StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_string()
        }
        None => String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string(),
    };
    ApiError::from_status(status, req, message, from_body.or(header))
}
