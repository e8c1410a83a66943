//! The Code Interpreter client against a stand-in for the hosted service
//! (api.librechat.ai, which this machine cannot reach). The stand-in answers
//! with the bytes the hosted service sends (its JSON shapes, its 429 body and
//! Retry-After header) from a script, and records every request so the tests
//! can check what the client sent, byte for byte.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kled::librechat::{ApiErrorKind, Auth, Client, ExecBody, InputFile, RetryPolicy, UploadFile};
use kled::Secret;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "sk-standin-0123456789";

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

/// One scripted answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Clone, Default)]
struct Standin {
    script: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Standin {
    /// Serves `script` in order (then 500s) on a loopback port.
    async fn start(script: Vec<Answer>) -> (Standin, String) {
        let s = Standin { script: Arc::new(Mutex::new(script.into())), ..Standin::default() };
        let state = s.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { state.answer(method, uri, headers, body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (s, format!("http://{addr}/v1"))
    }

    fn answer(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        self.seen.lock().unwrap().push(Seen {
            method,
            uri: uri.to_string(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        let (status, extra, body) = self.script.lock().unwrap().pop_front().unwrap_or((500, vec![], "{}".into()));
        let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
        r.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        for (k, v) in extra {
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        r
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok(body: &str) -> Answer {
    (200, vec![], body.to_string())
}

/// The hosted service's rate-limit answer.
fn rate_limited(secs: u32) -> Answer {
    (
        429,
        vec![("retry-after", secs.to_string())],
        format!(r#"{{"error":"rate_limited","retry_after_seconds":{secs}}}"#),
    )
}

fn unavailable() -> Answer {
    (503, vec![], r#"{"error":"Service Unavailable","details":"sandbox pool exhausted"}"#.into())
}

fn client(base: &str, policy: RetryPolicy) -> Client {
    Client::builder(base).auth(Auth::ApiKey(Secret::new(KEY))).retry(policy).build().unwrap()
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        deadline: Duration::from_secs(20),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        ..RetryPolicy::default()
    }
}

const EXEC_REPLY: &str = r#"{"session_id":"Zq3xW8kP1mN5bV7cX9zA2","stdout":"1\n","stderr":"","files":[{"id":"Hk2mP9xQ4wE7rT1yU3iO5","name":"plot.png","path":"/mnt/data/plot.png"}]}"#;

#[tokio::test]
async fn exec_sends_what_librechat_sends_and_reads_the_reply() {
    let (s, base) = Standin::start(vec![ok(EXEC_REPLY)]).await;
    let c = client(&base, fast_policy());
    let body = ExecBody { lang: "py".into(), code: "print(1)".into(), ..Default::default() };
    let out = c.exec(&body).await.unwrap();
    assert_eq!(out.session_id, "Zq3xW8kP1mN5bV7cX9zA2");
    assert_eq!(out.stdout(), "1\n");
    assert_eq!(out.files[0].name, "plot.png");
    assert_eq!(
        out.inputs(),
        vec![InputFile {
            id: "Hk2mP9xQ4wE7rT1yU3iO5".into(),
            session_id: "Zq3xW8kP1mN5bV7cX9zA2".into(),
            name: "plot.png".into()
        }]
    );
    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!((r.method.as_str(), r.uri.as_str()), ("POST", "/v1/exec"));
    assert_eq!(r.body, br#"{"lang":"py","code":"print(1)"}"#);
    assert_eq!(r.headers["x-api-key"], KEY);
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers["user-agent"].to_str().unwrap().starts_with("kled/"), "{:?}", r.headers["user-agent"]);
    assert!(r.headers.get("authorization").is_none());
}

#[tokio::test]
async fn exec_with_files_and_args() {
    let (s, base) = Standin::start(vec![ok(EXEC_REPLY)]).await;
    let c = client(&base, fast_policy());
    let body = ExecBody {
        lang: "py".into(),
        code: "x".into(),
        args: vec!["a".into()],
        files: vec![InputFile { id: "f".repeat(21), session_id: "s".repeat(21), name: "d.csv".into() }],
        ..Default::default()
    };
    c.exec(&body).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&s.seen()[0].body).unwrap();
    // Both generations' shapes at once: legacy `session_id`, current
    // `storage_session_id`, `resource_id`, `kind`.
    assert_eq!(
        v,
        serde_json::json!({"lang": "py", "code": "x", "args": ["a"],
            "files": [{"id": "f".repeat(21), "session_id": "s".repeat(21), "storage_session_id": "s".repeat(21),
                       "name": "d.csv", "resource_id": "s".repeat(21), "kind": "user"}]})
    );
}

#[tokio::test]
async fn upload_is_multipart_with_file_parts_and_entity_id() {
    let reply = r#"{"message":"success","session_id":"Zq3xW8kP1mN5bV7cX9zA2","files":[{"fileId":"Hk2mP9xQ4wE7rT1yU3iO5","filename":"a.txt"},{"fileId":"Jk2mP9xQ4wE7rT1yU3iO6","filename":"b.bin"}]}"#;
    let (s, base) = Standin::start(vec![ok(reply)]).await;
    let c = client(&base, fast_policy());
    let files = vec![
        UploadFile { name: "a.txt".into(), data: b"hello".to_vec() },
        UploadFile { name: "b.bin".into(), data: vec![0, 255, 1] },
    ];
    let up = c.upload_many(files, Some("asst_123")).await.unwrap();
    assert_eq!(up.files.len(), 2);
    assert_eq!(up.inputs()[1].name, "b.bin");
    let r = &s.seen()[0];
    assert_eq!(r.uri, "/v1/upload");
    let ct = r.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("name=\"entity_id\"\r\n\r\nasst_123\r\n"), "{body}");
    assert!(body.contains("name=\"file\"; filename=\"a.txt\""), "{body}");
    assert!(body.contains("name=\"file\"; filename=\"b.bin\""), "{body}");
    assert!(r.body.windows(3).any(|w| w == [0, 255, 1]));
}

#[tokio::test]
async fn upload_not_success_is_an_error() {
    let (_s, base) = Standin::start(vec![ok(r#"{"message":"quota","session_id":"x","files":[]}"#)]).await;
    let e =
        client(&base, fast_policy()).upload(UploadFile { name: "a".into(), data: vec![1] }, None).await.unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::Protocol);
    assert!(e.message.contains("quota"), "{e}");
}

#[tokio::test]
async fn files_download_delete() {
    let list = r#"[{"name":"Zq3xW8kP1mN5bV7cX9zA2/Hk2mP9xQ4wE7rT1yU3iO5","fileId":"Hk2mP9xQ4wE7rT1yU3iO5","lastModified":"2026-11-28T18:00:00.000Z","metadata":{"content-type":"text/plain","original-filename":"a.txt"}}]"#;
    let (s, base) = Standin::start(vec![ok(list), (200, vec![], "raw bytes\u{0}".into()), ok("")]).await;
    let c = client(&base, fast_policy());
    let files = c.list_files("Zq3xW8kP1mN5bV7cX9zA2", true).await.unwrap();
    assert_eq!(files[0].file_id(), "Hk2mP9xQ4wE7rT1yU3iO5");
    assert_eq!(files[0].filename(), "a.txt");
    assert_eq!(c.download("Zq3xW8kP1mN5bV7cX9zA2", "Hk2mP9xQ4wE7rT1yU3iO5").await.unwrap(), b"raw bytes\0");
    c.delete("Zq3xW8kP1mN5bV7cX9zA2", "Hk2mP9xQ4wE7rT1yU3iO5").await.unwrap();
    let seen = s.seen();
    assert_eq!(seen[0].uri, "/v1/files/Zq3xW8kP1mN5bV7cX9zA2?detail=full");
    assert_eq!(seen[1].uri, "/v1/download/Zq3xW8kP1mN5bV7cX9zA2/Hk2mP9xQ4wE7rT1yU3iO5");
    assert_eq!(
        (seen[2].method.as_str(), seen[2].uri.as_str()),
        ("DELETE", "/v1/files/Zq3xW8kP1mN5bV7cX9zA2/Hk2mP9xQ4wE7rT1yU3iO5")
    );
}

#[tokio::test]
async fn ids_cannot_escape_their_path_segment() {
    let (s, base) = Standin::start(vec![ok("[]")]).await;
    client(&base, fast_policy()).list_files("../../admin?x=1#", false).await.unwrap();
    assert_eq!(s.seen()[0].uri, "/v1/files/..%2F..%2Fadmin%3Fx=1%23?detail=summary");
}

#[tokio::test]
async fn a_429_waits_what_the_server_says_then_succeeds() {
    let (s, base) = Standin::start(vec![rate_limited(1), ok(EXEC_REPLY)]).await;
    let c = client(&base, fast_policy());
    let t0 = Instant::now();
    c.exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() }).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950) && gap < Duration::from_millis(2500), "{gap:?}");
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn retry_after_is_capped() {
    let (s, base) = Standin::start(vec![rate_limited(3600), ok(EXEC_REPLY)]).await;
    let policy = RetryPolicy { max_retry_after: Duration::from_millis(300), ..fast_policy() };
    client(&base, policy).exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() }).await.unwrap();
    let seen = s.seen();
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(280) && gap < Duration::from_millis(1500), "{gap:?}");
}

#[tokio::test]
async fn a_429_past_the_deadline_fails_fast_with_the_servers_words() {
    let (s, base) = Standin::start(vec![rate_limited(30)]).await;
    let policy = RetryPolicy { deadline: Duration::from_secs(5), ..fast_policy() };
    let t0 = Instant::now();
    let e = client(&base, policy)
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "waited {:?}", t0.elapsed());
    assert_eq!(e.kind, ApiErrorKind::RateLimited);
    assert_eq!(e.status, Some(429));
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    assert!(e.message.contains("rate_limited"), "{e}");
    assert_eq!(s.seen().len(), 1);
    let k: kled::Error = e.into();
    assert_eq!(k.kind(), kled::ErrorKind::Timeout);
}

#[tokio::test]
async fn a_503_and_a_504_back_off_with_jitter_then_succeed() {
    // A GET: a 504 there is safe to try again (an exec's is not, below).
    let (s, base) = Standin::start(vec![unavailable(), (504, vec![], String::new()), ok("[]")]).await;
    client(&base, fast_policy()).list_files("Zq3xW8kP1mN5bV7cX9zA2", false).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen.len(), 3);
    let (g1, g2) = (seen[1].at - seen[0].at, seen[2].at - seen[1].at);
    // Equal jitter: the first wait is in [50, 100] ms, the second in [100, 200].
    assert!(g1 >= Duration::from_millis(45) && g1 < Duration::from_millis(600), "{g1:?}");
    assert!(g2 >= Duration::from_millis(95) && g2 < Duration::from_millis(800), "{g2:?}");
}

#[tokio::test]
async fn a_503_that_lasts_gives_up_after_max_attempts() {
    let (s, base) = Standin::start(vec![unavailable(); 10]).await;
    let policy = RetryPolicy { max_attempts: 3, ..fast_policy() };
    let e = client(&base, policy)
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(s.seen().len(), 3);
    assert_eq!(e.kind, ApiErrorKind::Unavailable);
    assert!(e.message.contains("sandbox pool exhausted") && e.message.contains("3 tries"), "{e}");
}

#[tokio::test]
async fn other_errors_are_never_retried_and_keep_the_message() {
    for (status, body, kind) in [
        (400, r#"{"error":"Unsupported language","details":"cobol"}"#, ApiErrorKind::BadRequest),
        (401, r#"{"error":"Invalid API key"}"#, ApiErrorKind::Unauthorized),
        (404, r#"{"error":"File not found"}"#, ApiErrorKind::NotFound),
        (413, r#"{"error":"File too large"}"#, ApiErrorKind::TooLarge),
        (500, "upstream exploded", ApiErrorKind::Server),
        (502, "<html>bad gateway</html>", ApiErrorKind::Unavailable),
    ] {
        let (s, base) = Standin::start(vec![(status, vec![], body.into()), ok(EXEC_REPLY)]).await;
        let e = client(&base, fast_policy())
            .exec(&ExecBody { lang: "cobol".into(), code: "1".into(), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(s.seen().len(), 1, "{status} was retried");
        assert_eq!((e.kind, e.status), (kind, Some(status)));
        let first = body.trim_start_matches("{\"error\":\"").split('"').next().unwrap();
        assert!(e.to_string().contains(first), "{status}: {e}");
    }
}

#[tokio::test]
async fn the_key_never_shows() {
    let (_s, base) = Standin::start(vec![(401, vec![], r#"{"error":"Invalid API key"}"#.into())]).await;
    let c = client(&base, fast_policy());
    let e = c.exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() }).await.unwrap_err();
    for shown in [e.to_string(), format!("{e:?}"), format!("{c:?}"), kled::Error::from(e).to_string()] {
        assert!(!shown.contains(KEY), "{shown}");
    }
    let mut cfg = kled::Config::default();
    cfg.librechat.api_key = Some(Secret::new(KEY));
    assert!(!format!("{cfg:?}").contains(KEY));
}

#[tokio::test]
async fn bearer_style() {
    let (s, base) = Standin::start(vec![ok(EXEC_REPLY)]).await;
    let c = Client::builder(&base).auth(Auth::Bearer(Secret::new(KEY))).build().unwrap();
    c.exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() }).await.unwrap();
    let r = &s.seen()[0];
    assert_eq!(r.headers["authorization"], format!("Bearer {KEY}").as_str());
    assert!(r.headers.get("x-api-key").is_none());
}

#[tokio::test]
async fn no_server_is_a_transport_error_and_deadline_holds() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = client(&format!("http://{addr}/v1"), fast_policy())
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::Transport);
    assert!(e.to_string().contains("LIBRECHAT_CODE_BASEURL"), "{e}");

    // A server that accepts and never answers: the deadline ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((sock, _)) = silent.accept().await {
                held.push(sock);
            }
        }
    });
    let policy = RetryPolicy { deadline: Duration::from_millis(700), ..fast_policy() };
    let t0 = Instant::now();
    let e = client(&format!("http://{addr}/v1"), policy)
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::Deadline);
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn bad_base_urls_are_config_errors() {
    for url in ["", "ftp://x/v1", "not a url", "mailto:a@b"] {
        let e = Client::builder(url).build().unwrap_err();
        assert_eq!(e.kind(), kled::ErrorKind::Config, "{url}");
    }
}

#[tokio::test]
async fn a_terminal_runs_code_remotely_and_keeps_its_session() {
    let second = r#"{"session_id":"Zq3xW8kP1mN5bV7cX9zA2","stdout":"","stderr":"","files":[]}"#;
    let (s, base) = Standin::start(vec![ok(EXEC_REPLY), ok(second)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = kled::Config::default();
    config.librechat.base_url = base;
    config.librechat.api_key = Some(Secret::new(KEY));
    let m = kled::Manager::new(Some(dir.path().to_path_buf()), config).unwrap();
    // Never started: a remote run needs nothing local.
    let t = m.create_terminal("local", "remote-only", serde_json::json!({})).await.unwrap();
    let mut req = kled::CodeRequest::new("python", "print(1)");
    req.remote = true;
    let r = t.run_code_with(req.clone()).await.unwrap();
    assert_eq!(r.stdout, b"1\n");
    assert_eq!(r.exit_code, None, "the hosted service reports no exit code");
    t.run_code_with(req.clone()).await.unwrap();
    let second: serde_json::Value = serde_json::from_slice(&s.seen()[1].body).unwrap();
    assert_eq!(second["session_id"], "Zq3xW8kP1mN5bV7cX9zA2");
    assert_eq!(second["files"][0]["name"], "plot.png");
    assert_eq!(second["lang"], "py");
    req.stdin = Some(b"x".to_vec());
    assert_eq!(t.run_code_with(req).await.unwrap_err().kind(), kled::ErrorKind::InvalidArgument);
    t.remove().await.unwrap();
}

#[tokio::test]
async fn a_hostile_retry_after_never_panics() {
    // Issue 14 finding 4: `Retry-After: 1e30` (header or body) made
    // Duration::from_secs_f64 panic. Now it is clamped, then capped by the
    // policy, so the client gives up at once with the server's words.
    let answer =
        |status: u16, header: &str, body: &str| (status, vec![("retry-after", header.to_string())], body.to_string());
    let policy =
        RetryPolicy { deadline: Duration::from_secs(3), max_retry_after: Duration::from_secs(60), ..fast_policy() };
    let body = || ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() };
    for (status, header, reply) in [
        (429, "1e30", r#"{"error":"rate_limited","retry_after_seconds":1e30}"#),
        (429, "1e308", r#"{"error":"rate_limited","retry_after_seconds":-1e30}"#),
        (429, "-5", r#"{"error":"rate_limited","retry_after_seconds":1.7976931348623157e308}"#),
        (429, "1e30", r#"{"error":"rate_limited","retry_after_seconds":1e400}"#),
        (503, "1e30", r#"{"error":"Service unavailable"}"#),
        (503, "18446744073709551616", r#"{"error":"Service unavailable"}"#),
    ] {
        let (s, base) = Standin::start(vec![answer(status, header, reply), ok(EXEC_REPLY)]).await;
        let t0 = Instant::now();
        let e = client(&base, policy.clone()).exec(&body()).await.unwrap_err();
        assert_eq!(e.status, Some(status), "{header} {reply}: {e}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{header} {reply}: waited {:?}", t0.elapsed());
        assert!(e.retry_after.is_some_and(|d| d <= Duration::from_secs(86_400)), "{:?}", e.retry_after);
        assert_eq!(s.seen().len(), 1);
    }
    // A header that is no number at all falls back to backoff and succeeds.
    let (s, base) = Standin::start(vec![answer(503, "NaN", "{}"), ok(EXEC_REPLY)]).await;
    client(&base, policy).exec(&body()).await.unwrap();
    assert_eq!(s.seen().len(), 2);
}

#[tokio::test]
async fn an_exec_504_is_never_retried_it_may_have_run() {
    let (s, base) = Standin::start(vec![
        (504, vec![], r#"{"error":"execution_timeout","message":"Execution timed out"}"#.into()),
        ok(EXEC_REPLY),
    ])
    .await;
    let e = client(&base, fast_policy())
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(s.seen().len(), 1, "the exec was sent twice");
    assert_eq!(e.status, Some(504));
    assert!(e.message.contains("execution_timeout") && e.message.contains("not retried"), "{e}");
}

#[tokio::test]
async fn a_token_callback_is_asked_at_every_try() {
    let (s, base) = Standin::start(vec![unavailable(), ok(EXEC_REPLY)]).await;
    let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = n.clone();
    let auth = Auth::token(move || {
        let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Secret::new(format!("minted-{i}")))
    });
    let c = Client::builder(&base).auth(auth).retry(fast_policy()).build().unwrap();
    assert!(!format!("{c:?}").contains("minted"));
    c.exec(&ExecBody { lang: "py".into(), code: "1".into(), ..Default::default() }).await.unwrap();
    let seen = s.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer minted-0");
    assert_eq!(seen[1].headers["authorization"], "Bearer minted-1");
    let failing = Client::builder(&base).auth(Auth::token(|| Err("signer down".into()))).build().unwrap();
    let e = failing.list_files("Zq3xW8kP1mN5bV7cX9zA2", false).await.unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::Unauthorized);
}

#[tokio::test]
async fn current_servers_replies_are_read() {
    // ClickHouse/code-interpreter: `storage_session_id` on uploads and on
    // output files, the exit code at the top level.
    let up = r#"{"message":"success","storage_session_id":"Zq3xW8kP1mN5bV7cX9zA2","files":[{"fileId":"Hk2mP9xQ4wE7rT1yU3iO5","filename":"data/a.csv"}]}"#;
    let exec = r#"{"session_id":"Xq3xW8kP1mN5bV7cX9zA2","stdout":"","stderr":"","code":3,"files":[{"id":"Hk2mP9xQ4wE7rT1yU3iO5","name":"data/a.csv","storage_session_id":"Zq3xW8kP1mN5bV7cX9zA2","inherited":true}]}"#;
    let (s, base) = Standin::start(vec![ok(up), ok(exec)]).await;
    let c = client(&base, fast_policy());
    let reply = c.upload(UploadFile { name: "data/a.csv".into(), data: b"1".to_vec() }, None).await.unwrap();
    assert_eq!(reply.session_id, "Zq3xW8kP1mN5bV7cX9zA2");
    assert!(String::from_utf8_lossy(&s.seen()[0].body).contains("name=\"kind\"\r\n\r\nuser\r\n"));
    let out = c
        .exec(&ExecBody { lang: "py".into(), code: "1".into(), files: reply.inputs(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(out.exit_code(), Some(3));
    assert_eq!(out.inputs()[0].session_id, "Zq3xW8kP1mN5bV7cX9zA2", "the file's own storage session");
}
