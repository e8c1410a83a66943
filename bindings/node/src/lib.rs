//! kled for Node.js: the native half of `require('kled')`.
//!
//! This addon exposes the core's Manager, Terminal and ExecStream as small
//! native classes; `index.js` (hand-written) wraps them in the public API,
//! maps errors to `Error` subclasses and shapes results. Every I/O method
//! here is an `async fn`: napi-rs runs it on the addon's own tokio runtime
//! (created on first use) and settles a Promise on the JS thread, so the
//! event loop never waits for kled.
//!
//! Errors cross as `Error`s whose message is `KLED_<KIND>: <message>`;
//! index.js turns them into `KledError` subclasses with a `code`.
//!
//! Handles: a native object holds a clone of the core handle until it is
//! garbage-collected or `close()`d, whichever comes first.

#![deny(clippy::all)]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

// -- errors --

fn code_of(kind: kled::ErrorKind) -> String {
    format!("KLED_{}", kind.as_str().to_ascii_uppercase())
}

fn to_napi(e: kled::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {}", code_of(e.kind()), e.message()))
}

fn kerr(kind: kled::ErrorKind, message: impl Into<String>) -> napi::Error {
    to_napi(kled::Error::new(kind, message))
}

fn invalid(message: impl Into<String>) -> napi::Error {
    kerr(kled::ErrorKind::InvalidArgument, message)
}

trait OrNapi<T> {
    fn or_napi(self) -> Result<T>;
}

impl<T> OrNapi<T> for kled::Result<T> {
    fn or_napi(self) -> Result<T> {
        self.map_err(to_napi)
    }
}

fn parse_json(what: &str, text: Option<String>) -> Result<serde_json::Value> {
    match text {
        None => Ok(serde_json::Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

fn to_json(v: impl serde::Serialize) -> Result<String> {
    serde_json::to_string(&v).map_err(|e| napi::Error::from_reason(format!("cannot serialize: {e}")))
}

/// A positive number of milliseconds as a Duration.
fn millis(what: &str, ms: Option<f64>) -> Result<Option<Duration>> {
    match ms {
        None => Ok(None),
        // The core's one rule (kled::timeout_from_secs), said in milliseconds.
        Some(ms) => kled::timeout_from_secs(ms / 1000.0).map(Some).map_err(|_| {
            invalid(format!(
                "{what} must be a positive number of milliseconds up to {:e}, not {ms}",
                kled::MAX_TIMEOUT_SECS * 1000.0
            ))
        }),
    }
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// -- live handle counts (for the GC / close() tests) --

static LIVE_MANAGERS: AtomicUsize = AtomicUsize::new(0);
static LIVE_TERMINALS: AtomicUsize = AtomicUsize::new(0);
static LIVE_STREAMS: AtomicUsize = AtomicUsize::new(0);

#[napi(object)]
pub struct LiveHandles {
    pub managers: u32,
    pub terminals: u32,
    pub streams: u32,
}

/// How many native handles exist right now (closed ones included until
/// they are collected; their core handles are released at close()).
#[napi]
pub fn live_handles() -> LiveHandles {
    LiveHandles {
        managers: LIVE_MANAGERS.load(Ordering::Relaxed) as u32,
        terminals: LIVE_TERMINALS.load(Ordering::Relaxed) as u32,
        streams: LIVE_STREAMS.load(Ordering::Relaxed) as u32,
    }
}

#[napi]
pub fn version() -> String {
    kled::VERSION.to_string()
}

// -- Manager --

#[napi]
pub struct NativeManager {
    inner: RwLock<Option<kled::Manager>>,
    state_dir: String,
}

impl Drop for NativeManager {
    fn drop(&mut self) {
        LIVE_MANAGERS.fetch_sub(1, Ordering::Relaxed);
    }
}

#[napi]
impl NativeManager {
    /// `config_path`: a YAML file; `config_json`: the configuration itself
    /// (JSON is YAML). Neither: `$KLED_CONFIG` or the default file.
    #[napi(constructor)]
    pub fn new(state_dir: Option<String>, config_path: Option<String>, config_json: Option<String>) -> Result<Self> {
        let config = match (config_path, config_json) {
            (Some(_), Some(_)) => return Err(invalid("give the config as a file path or as an object, not both")),
            (None, Some(text)) => kled::Config::from_yaml(&text, "the config option").or_napi()?,
            (path, None) => kled::Config::load(path.as_deref().map(std::path::Path::new)).or_napi()?,
        };
        let manager = kled::Manager::new(state_dir.map(Into::into), config).or_napi()?;
        let state_dir = manager.state_dir().display().to_string();
        LIVE_MANAGERS.fetch_add(1, Ordering::Relaxed);
        Ok(NativeManager { inner: RwLock::new(Some(manager)), state_dir })
    }

    fn get(&self) -> Result<kled::Manager> {
        self.inner.read().unwrap().clone().ok_or_else(|| kerr(kled::ErrorKind::InvalidState, "this Manager was closed"))
    }

    #[napi(getter)]
    pub fn state_dir(&self) -> String {
        self.state_dir.clone()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.read().unwrap().is_none()
    }

    /// Releases this handle's reference to the core manager. Terminals
    /// obtained from it keep their own.
    #[napi]
    pub fn close(&self) {
        self.inner.write().unwrap().take();
    }

    #[napi]
    pub async fn create_terminal(
        &self,
        kind: String,
        name: String,
        options_json: Option<String>,
    ) -> Result<NativeTerminal> {
        let m = self.get()?;
        let options = parse_json("options", options_json)?;
        let t = m.create_terminal(&kind, &name, options).await.or_napi()?;
        Ok(NativeTerminal::new(t))
    }

    #[napi]
    pub async fn get_terminal(&self, name: String) -> Result<NativeTerminal> {
        let m = self.get()?;
        Ok(NativeTerminal::new(m.get_terminal(&name).await.or_napi()?))
    }

    /// `{"terminals": [TerminalInfo...], "problems": [{name, error}...]}`
    #[napi]
    pub async fn list_terminals(&self) -> Result<String> {
        let m = self.get()?;
        let listing = m.list_terminals().await.or_napi()?;
        let problems: Vec<serde_json::Value> =
            listing.problems.iter().map(|p| serde_json::json!({ "name": p.name, "error": p.error })).collect();
        to_json(serde_json::json!({ "terminals": listing.terminals, "problems": problems }))
    }

    #[napi]
    pub async fn remove_terminal(&self, name: String) -> Result<()> {
        self.get()?.remove_terminal(&name).await.or_napi()
    }

    #[napi]
    pub async fn create_bulk(
        &self,
        kind: String,
        count: u32,
        options_json: Option<String>,
        prefix: Option<String>,
        start: Option<bool>,
        concurrency: Option<u32>,
    ) -> Result<Vec<NativeTerminal>> {
        let m = self.get()?;
        let mut req = kled::BulkRequest::new(kind, count as usize);
        req.options = parse_json("options", options_json)?;
        req.prefix = prefix;
        req.start = start.unwrap_or(false);
        if let Some(c) = concurrency {
            req.concurrency = c as usize;
        }
        let terminals = m.create_bulk(req).await.or_napi()?;
        Ok(terminals.into_iter().map(NativeTerminal::new).collect())
    }

    /// JSON: `[{kind, available, description, needs, reason?}...]`. Probing
    /// a runtime may touch the file system or an engine: off the JS thread.
    #[napi]
    pub async fn providers(&self) -> Result<String> {
        let m = self.get()?;
        let list = tokio::task::spawn_blocking(move || m.providers())
            .await
            .map_err(|e| kerr(kled::ErrorKind::Io, format!("providers task failed: {e}")))?;
        to_json(list)
    }
}

// -- Terminal --

#[napi]
pub struct NativeTerminal {
    inner: RwLock<Option<kled::Terminal>>,
    name: String,
    kind: String,
}

impl Drop for NativeTerminal {
    fn drop(&mut self) {
        LIVE_TERMINALS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What `execute` and `execStream` ask for (index.js builds it).
#[napi(object)]
pub struct NativeExecRequest {
    /// A command for the terminal's shell...
    pub shell: Option<String>,
    /// ...or an argv run directly.
    pub argv: Option<Vec<String>>,
    pub env: Option<HashMap<String, String>>,
    pub cwd: Option<String>,
    pub stdin: Option<Buffer>,
    pub timeout_ms: Option<f64>,
    pub max_output: Option<f64>,
    /// A pseudo-terminal of tty_rows x tty_cols.
    pub tty_rows: Option<u32>,
    pub tty_cols: Option<u32>,
    pub stdin_open: Option<bool>,
}

impl NativeExecRequest {
    fn into_core(self) -> Result<kled::ExecRequest> {
        let command = match (self.shell, self.argv) {
            (Some(s), None) => kled::Command::Shell(s),
            (None, Some(v)) => kled::Command::Argv(v),
            _ => return Err(invalid("a command is a string (for the shell) or an array of strings (argv)")),
        };
        let mut req = kled::ExecRequest::new(command);
        req.env = self.env.unwrap_or_default().into_iter().collect();
        req.cwd = self.cwd;
        req.stdin = self.stdin.map(|b| b.to_vec());
        req.timeout = millis("timeout", self.timeout_ms)?;
        req.max_output = match self.max_output {
            None => None,
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9.0e15 => Some(n as u64),
            Some(n) => return Err(invalid(format!("maxOutput must be a whole number of bytes, not {n}"))),
        };
        match (self.tty_rows, self.tty_cols) {
            (None, None) => {}
            (Some(r @ 1..=0xffff), Some(c @ 1..=0xffff)) => req = req.tty(r as u16, c as u16),
            _ => return Err(invalid("tty must be { rows, cols }, each from 1 to 65535")),
        }
        req.stdin_open = self.stdin_open.unwrap_or(false);
        Ok(req)
    }
}

#[napi(object)]
pub struct NativeExecResult {
    pub stdout: Buffer,
    pub stderr: Buffer,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration_ms: f64,
}

impl From<kled::ExecResult> for NativeExecResult {
    fn from(r: kled::ExecResult) -> Self {
        NativeExecResult {
            stdout: r.stdout.into(),
            stderr: r.stderr.into(),
            exit_code: r.exit_code,
            signal: r.signal,
            timed_out: r.timed_out,
            truncated: r.truncated,
            duration_ms: ms_of(r.duration),
        }
    }
}

impl NativeTerminal {
    fn new(t: kled::Terminal) -> NativeTerminal {
        LIVE_TERMINALS.fetch_add(1, Ordering::Relaxed);
        NativeTerminal { name: t.name().to_string(), kind: t.kind().to_string(), inner: RwLock::new(Some(t)) }
    }

    fn get(&self) -> Result<kled::Terminal> {
        self.inner.read().unwrap().clone().ok_or_else(|| {
            kerr(kled::ErrorKind::InvalidState, format!("this handle on terminal {:?} was closed", self.name))
        })
    }
}

#[napi]
impl NativeTerminal {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    #[napi(getter)]
    pub fn kind(&self) -> String {
        self.kind.clone()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.read().unwrap().is_none()
    }

    /// Releases this handle (and with the last one, the agent connection).
    /// The terminal itself keeps running.
    #[napi]
    pub fn close(&self) {
        self.inner.write().unwrap().take();
    }

    #[napi]
    pub async fn state(&self) -> Result<String> {
        Ok(self.get()?.state().await.or_napi()?.as_str().to_string())
    }

    /// JSON of the core's TerminalInfo.
    #[napi]
    pub async fn info(&self) -> Result<String> {
        to_json(self.get()?.info().await.or_napi()?)
    }

    #[napi]
    pub async fn start(&self) -> Result<()> {
        self.get()?.start().await.or_napi()
    }

    #[napi]
    pub async fn stop(&self) -> Result<()> {
        self.get()?.stop().await.or_napi()
    }

    #[napi]
    pub async fn remove(&self) -> Result<()> {
        self.get()?.remove().await.or_napi()
    }

    #[napi]
    pub async fn exec(&self, req: NativeExecRequest) -> Result<NativeExecResult> {
        let t = self.get()?;
        let req = req.into_core()?;
        Ok(t.exec(req).await.or_napi()?.into())
    }

    #[napi]
    pub async fn exec_stream(&self, req: NativeExecRequest) -> Result<NativeExecStream> {
        let t = self.get()?;
        let req = req.into_core()?;
        let stream = t.exec_stream(req).await.or_napi()?;
        Ok(NativeExecStream::new(stream))
    }

    #[napi]
    pub async fn run_code(
        &self,
        lang: String,
        code: String,
        args: Option<Vec<String>>,
        stdin: Option<Buffer>,
        timeout_ms: Option<f64>,
        remote: Option<bool>,
    ) -> Result<NativeExecResult> {
        let t = self.get()?;
        let mut req = kled::CodeRequest::new(lang, code);
        req.args = args.unwrap_or_default();
        req.stdin = stdin.map(|b| b.to_vec());
        req.timeout = millis("timeout", timeout_ms)?;
        req.remote = remote.unwrap_or(false);
        Ok(t.run_code_with(req).await.or_napi()?.into())
    }

    #[napi]
    pub async fn read_file(&self, path: String) -> Result<Buffer> {
        Ok(self.get()?.read_file(&path).await.or_napi()?.into())
    }

    #[napi]
    pub async fn write_file(&self, path: String, data: Buffer, mode: Option<u32>) -> Result<()> {
        self.get()?.write_file(&path, &data, mode).await.or_napi()
    }

    /// JSON: `[{name, kind, size, mode}...]`.
    #[napi]
    pub async fn list_dir(&self, path: String) -> Result<String> {
        to_json(self.get()?.list_dir(&path).await.or_napi()?)
    }
}

// -- ExecStream --

/// A running command's events. `next()` calls are served one at a time;
/// `close()` (or garbage collection) before the exit kills the command,
/// also while a `next()` is waiting.
#[napi]
pub struct NativeExecStream {
    stream: Arc<tokio::sync::Mutex<Option<kled::ExecStream>>>,
    closed: tokio::sync::watch::Sender<bool>,
    /// Signals the command while a `next()` holds the stream.
    control: kled::ExecControl,
}

impl Drop for NativeExecStream {
    fn drop(&mut self) {
        LIVE_STREAMS.fetch_sub(1, Ordering::Relaxed);
    }
}

#[napi(object)]
pub struct NativeExecEvent {
    /// "stdout", "stderr" or "exit".
    pub kind: String,
    pub data: Option<Buffer>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: Option<bool>,
    pub truncated: Option<bool>,
    pub duration_ms: Option<f64>,
}

impl NativeExecEvent {
    fn output(kind: &str, data: Vec<u8>) -> Self {
        NativeExecEvent {
            kind: kind.to_string(),
            data: Some(data.into()),
            exit_code: None,
            signal: None,
            timed_out: None,
            truncated: None,
            duration_ms: None,
        }
    }
}

impl NativeExecStream {
    fn new(stream: kled::ExecStream) -> Self {
        LIVE_STREAMS.fetch_add(1, Ordering::Relaxed);
        NativeExecStream {
            control: stream.control(),
            stream: Arc::new(tokio::sync::Mutex::new(Some(stream))),
            closed: tokio::sync::watch::channel(false).0,
        }
    }
}

#[napi]
impl NativeExecStream {
    /// The next event, or null after the exit (or after close()).
    #[napi]
    pub async fn next(&self) -> Result<Option<NativeExecEvent>> {
        let mut closed = self.closed.subscribe();
        let mut guard = self.stream.lock().await;
        loop {
            if *closed.borrow() {
                *guard = None;
                return Ok(None);
            }
            let Some(stream) = guard.as_mut() else { return Ok(None) };
            tokio::select! {
                ev = stream.next() => {
                    return match ev {
                        None => {
                            *guard = None;
                            Ok(None)
                        }
                        Some(Err(e)) => {
                            *guard = None;
                            Err(to_napi(e))
                        }
                        Some(Ok(kled::ExecEvent::Stdout(b))) => Ok(Some(NativeExecEvent::output("stdout", b))),
                        Some(Ok(kled::ExecEvent::Stderr(b))) => Ok(Some(NativeExecEvent::output("stderr", b))),
                        Some(Ok(kled::ExecEvent::Exit(st))) => {
                            *guard = None;
                            Ok(Some(NativeExecEvent {
                                kind: "exit".to_string(),
                                data: None,
                                exit_code: st.exit_code,
                                signal: st.signal,
                                timed_out: Some(st.timed_out),
                                truncated: Some(st.truncated),
                                duration_ms: Some(ms_of(st.duration)),
                            }))
                        }
                    };
                }
                _ = closed.changed() => continue,
            }
        }
    }

    /// Sends a signal (a number) to the command's process group, also while
    /// a `next()` is waiting; ignored once the command has ended.
    #[napi]
    pub fn signal(&self, signal: i32) -> Result<()> {
        if signal <= 0 || signal > 64 {
            return Err(invalid(format!("no such signal: {signal}")));
        }
        self.control.signal(signal).or_napi()
    }

    /// Writes to the command's stdin (a stream started with stdinOpen).
    #[napi]
    pub fn write(&self, data: Buffer) -> Result<()> {
        self.control.write_stdin(&data).or_napi()
    }

    /// Ends the command's stdin (EOF; on a pseudo-terminal, ^D).
    #[napi]
    pub fn close_stdin(&self) -> Result<()> {
        self.control.close_stdin().or_napi()
    }

    /// New size for the command's pseudo-terminal.
    #[napi]
    pub fn resize(&self, rows: u32, cols: u32) -> Result<()> {
        if !(1..=0xffff).contains(&rows) || !(1..=0xffff).contains(&cols) {
            return Err(invalid("rows and cols must each be from 1 to 65535"));
        }
        self.control.resize(rows as u16, cols as u16).or_napi()
    }

    /// Stops reading; a command still running is killed.
    #[napi]
    pub fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut guard) = self.stream.try_lock() {
            guard.take();
        }
    }
}
