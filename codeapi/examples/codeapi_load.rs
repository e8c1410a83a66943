//! Load generator for `kled serve codeapi` (bench/codeapi.bench.sh): N
//! concurrent clients send `print(1)` in Python to POST /v1/exec until
//! `--max-requests` have been started or `--max-secs` have passed, checking
//! every reply's stdout is "1\n". Prints one line of JSON.
//!
//! ```text
//! codeapi_load --url http://127.0.0.1:8700/v1 --key k1 --concurrency 8 \
//!     --max-requests 200 --max-secs 20 --mode new|session
//! codeapi_load --concurrency 8 --max-requests 30 --max-secs 30 --mode cmd -- \
//!     podman run --rm --runtime runsc localhost/kled-debian python3 -c 'print(1)'
//! ```
//!
//! - `new`: every request starts a new session (no `session_id`).
//! - `session`: each client first makes one session (not timed), then sends
//!   its `session_id` with every request (the session's sandbox is reused).
//! - `cmd`: the baseline; each request runs the command after `--` as a
//!   child process and checks its stdout the same way.
//!
//! `requests` counts requests completed, `failures` those with a wrong
//! status or stdout; of those, `transport_errors` got no HTTP answer at all
//! (a reset or closed connection: the server meant to answer, issue 14
//! finding 17), `statuses` counts the other answers by status, and
//! `no_retry_after` the 429 and 503 answers without a `Retry-After`. `rps`
//! and the latencies (nearest rank) are over the successful ones, timed
//! from sending to having the whole reply. `secs` runs from the first
//! request to the last reply (setup excluded).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A single request gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Failures printed to stderr in full; the rest are only counted.
const SHOWN_FAILURES: usize = 20;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    New,
    Session,
    Cmd,
}

struct Args {
    url: String,
    key: String,
    /// Mint an EdDSA JWT per request with this private key (PEM file), as
    /// LibreChat does, instead of sending `key`.
    jwt_key: Option<jsonwebtoken::EncodingKey>,
    jwt_kid: String,
    concurrency: usize,
    max_requests: u64,
    max_secs: f64,
    mode: Mode,
    cmd: Vec<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("codeapi_load: {msg}");
    eprintln!(
        "usage: codeapi_load [--url URL (--key KEY | --jwt-key PEM --jwt-kid KID)] --concurrency N \
         --max-requests N --max-secs S --mode new|session|cmd [-- COMMAND...]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8700/v1".into(),
        key: String::new(),
        jwt_key: None,
        jwt_kid: String::new(),
        concurrency: 1,
        max_requests: 100,
        max_secs: 10.0,
        mode: Mode::New,
        cmd: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--" {
            a.cmd = it.by_ref().collect();
            break;
        }
        let val = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| -> f64 { v.parse().unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}"))) };
        match flag.as_str() {
            "--url" => a.url = val.trim_end_matches('/').to_string(),
            "--key" => a.key = val,
            "--jwt-kid" => a.jwt_kid = val,
            "--jwt-key" => {
                let pem = std::fs::read(&val).unwrap_or_else(|e| usage(&format!("--jwt-key {val}: {e}")));
                let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem)
                    .unwrap_or_else(|e| usage(&format!("--jwt-key {val}: not an Ed25519 private key: {e}")));
                a.jwt_key = Some(key);
            }
            "--concurrency" => a.concurrency = num(&val) as usize,
            "--max-requests" => a.max_requests = num(&val) as u64,
            "--max-secs" => a.max_secs = num(&val),
            "--mode" => {
                a.mode = match val.as_str() {
                    "new" => Mode::New,
                    "session" => Mode::Session,
                    "cmd" => Mode::Cmd,
                    _ => usage(&format!("--mode {val}: expected new, session or cmd")),
                }
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if a.concurrency == 0 || a.max_requests == 0 || a.max_secs <= 0.0 {
        usage("--concurrency, --max-requests and --max-secs must be positive");
    }
    match a.mode {
        Mode::Cmd if a.cmd.is_empty() => usage("--mode cmd needs a command after --"),
        Mode::New | Mode::Session if a.key.is_empty() && a.jwt_key.is_none() => usage("--key or --jwt-key is required"),
        _ => {}
    }
    a
}

/// What all clients share.
struct Shared {
    args: Args,
    http: reqwest::Client,
    /// Requests claimed so far (bounded by `max_requests`).
    claimed: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    failures: AtomicU64,
    transport_errors: AtomicU64,
    no_retry_after: AtomicU64,
    /// Answers other than 200, by status.
    statuses: Mutex<std::collections::BTreeMap<u16, u64>>,
    completed: AtomicU64,
    shown: Mutex<usize>,
}

/// Why a request failed.
enum Fail {
    /// No HTTP answer: the connection failed, was reset or closed.
    Transport(String),
    /// An answer other than 200; whether it carried `Retry-After`.
    Status(u16, bool, String),
    /// A 200 with the wrong body.
    Wrong(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Transport(m) | Fail::Wrong(m) => f.write_str(m),
            Fail::Status(s, _, body) => write!(f, "HTTP {s}: {body}"),
        }
    }
}

impl Shared {
    fn fail(&self, what: &Fail, took: Duration) {
        self.failures.fetch_add(1, Ordering::SeqCst);
        match what {
            Fail::Transport(_) => {
                self.transport_errors.fetch_add(1, Ordering::SeqCst);
            }
            Fail::Status(status, retry_after, _) => {
                *self.statuses.lock().unwrap().entry(*status).or_default() += 1;
                if matches!(status, 429 | 503) && !retry_after {
                    self.no_retry_after.fetch_add(1, Ordering::SeqCst);
                }
            }
            Fail::Wrong(_) => {}
        }
        let what = format!("after {} ms: {what}", took.as_millis());
        let mut shown = self.shown.lock().unwrap();
        *shown += 1;
        if *shown <= SHOWN_FAILURES {
            eprintln!("codeapi_load: failure: {what}");
        } else if *shown == SHOWN_FAILURES + 1 {
            eprintln!("codeapi_load: (further failures only counted)");
        }
    }
}

/// A token as LibreChat mints them (packages/api/src/auth/codeapi.ts).
fn mint(key: &jsonwebtoken::EncodingKey, kid: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": "librechat", "aud": "codeapi", "sub": "bench-user", "iat": now,
        "nbf": now, "exp": now + 300, "jti": format!("bench-{now}-{}", fastrand_u64()), "tenant_id": "legacy",
        "role": "USER", "principal_source": "librechat_jwt", "auth_context_hash": "bench"});
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    h.kid = Some(kid.to_string());
    h.typ = Some("JWT".into());
    jsonwebtoken::encode(&h, &claims, key).expect("signing a JWT")
}

fn fastrand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// One exec; Ok(session id) when stdout is "1\n".
async fn exec(sh: &Shared, session: Option<&str>) -> Result<String, Fail> {
    let mut body = serde_json::json!({"lang": "py", "code": "print(1)"});
    if let Some(id) = session {
        body["session_id"] = id.into();
    }
    let req = sh.http.post(format!("{}/exec", sh.args.url));
    let req = match &sh.args.jwt_key {
        Some(k) => req.bearer_auth(mint(k, &sh.args.jwt_kid)),
        None => req.header("X-API-Key", &sh.args.key),
    };
    // The source of a hyper error says what the socket said (reset, broken pipe).
    let transport = |what: &str, e: reqwest::Error| {
        let mut msg = format!("{what}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Fail::Transport(msg)
    };
    let resp = req.json(&body).send().await.map_err(|e| transport("sending", e))?;
    let status = resp.status();
    let retry_after = resp.headers().contains_key(reqwest::header::RETRY_AFTER);
    let text = resp.text().await.map_err(|e| transport(&format!("reading the reply ({status})"), e))?;
    let head = || text.chars().take(300).collect::<String>();
    if !status.is_success() {
        return Err(Fail::Status(status.as_u16(), retry_after, head()));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Fail::Wrong(format!("reply is not JSON ({e}): {}", head())))?;
    if v["stdout"] != "1\n" {
        return Err(Fail::Wrong(format!("wrong stdout: {}", head())));
    }
    Ok(v["session_id"].as_str().unwrap_or_default().to_string())
}

/// One run of the command; Ok when it exits 0 with stdout "1\n".
async fn run_cmd(sh: &Shared) -> Result<(), Fail> {
    let out = tokio::process::Command::new(&sh.args.cmd[0])
        .args(&sh.args.cmd[1..])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Fail::Wrong(format!("spawning {}: {e}", sh.args.cmd[0])))?;
    if !out.status.success() || out.stdout != b"1\n" {
        return Err(Fail::Wrong(format!(
            "{}; stdout {:?}; stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).chars().take(300).collect::<String>()
        )));
    }
    Ok(())
}

async fn client(sh: Arc<Shared>, session: Option<String>, deadline: Instant) {
    loop {
        if Instant::now() >= deadline || sh.claimed.fetch_add(1, Ordering::SeqCst) >= sh.args.max_requests {
            return;
        }
        let t0 = Instant::now();
        let r = tokio::time::timeout(REQUEST_TIMEOUT, async {
            match sh.args.mode {
                Mode::Cmd => run_cmd(&sh).await,
                _ => exec(&sh, session.as_deref()).await.map(|_| ()),
            }
        })
        .await
        .unwrap_or_else(|_| Err(Fail::Transport(format!("no reply in {}s", REQUEST_TIMEOUT.as_secs()))));
        let took = t0.elapsed();
        sh.completed.fetch_add(1, Ordering::SeqCst);
        match r {
            Ok(()) => sh.latencies.lock().unwrap().push(took),
            Err(e) => sh.fail(&e, took),
        }
    }
}

/// Nearest-rank percentile in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1e3
}

fn round(x: f64, places: i32) -> serde_json::Value {
    if !x.is_finite() {
        return serde_json::Value::Null;
    }
    let f = 10f64.powi(places);
    serde_json::json!((x * f).round() / f)
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().expect("building the HTTP client");
    let sh = Arc::new(Shared {
        args,
        http,
        claimed: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
        failures: AtomicU64::new(0),
        transport_errors: AtomicU64::new(0),
        no_retry_after: AtomicU64::new(0),
        statuses: Mutex::default(),
        completed: AtomicU64::new(0),
        shown: Mutex::new(0),
    });
    let n = sh.args.concurrency;

    // Session mode: every client's session first, all at once, not timed.
    let mut sessions: Vec<Option<String>> = vec![None; n];
    let mut setup_failed = 0;
    if sh.args.mode == Mode::Session {
        let t0 = Instant::now();
        let made = futures::future::join_all((0..n).map(|_| exec(&sh, None))).await;
        for (slot, r) in sessions.iter_mut().zip(made) {
            match r {
                Ok(id) => *slot = Some(id),
                Err(e) => {
                    setup_failed += 1;
                    eprintln!("codeapi_load: making a session failed: {e}");
                }
            }
        }
        eprintln!("codeapi_load: {} sessions made in {} ms", n - setup_failed, t0.elapsed().as_millis());
    }

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(sh.args.max_secs);
    let tasks: Vec<_> = sessions
        .into_iter()
        .filter(|s| sh.args.mode != Mode::Session || s.is_some())
        .map(|s| tokio::spawn(client(sh.clone(), s, deadline)))
        .collect();
    for t in tasks {
        t.await.expect("a client panicked");
    }
    let secs = start.elapsed().as_secs_f64();

    let mut lat = std::mem::take(&mut *sh.latencies.lock().unwrap());
    lat.sort();
    let mode = match sh.args.mode {
        Mode::New => "new",
        Mode::Session => "session",
        Mode::Cmd => "cmd",
    };
    let mut out = serde_json::json!({
        "mode": mode,
        "concurrency": n,
        "requests": sh.completed.load(Ordering::SeqCst),
        "failures": sh.failures.load(Ordering::SeqCst),
        "transport_errors": sh.transport_errors.load(Ordering::SeqCst),
        "statuses": sh.statuses.lock().unwrap().iter().map(|(s, n)| (s.to_string(), (*n).into())).collect::<serde_json::Map<_, _>>(),
        "no_retry_after": sh.no_retry_after.load(Ordering::SeqCst),
        "secs": round(secs, 3),
        "rps": round(lat.len() as f64 / secs, 2),
        "p50_ms": round(pct(&lat, 50.0), 2),
        "p99_ms": round(pct(&lat, 99.0), 2),
    });
    if setup_failed > 0 {
        out["setup_failures"] = setup_failed.into();
    }
    println!("{out}");
}
