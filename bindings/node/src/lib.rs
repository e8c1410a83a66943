//! kled for Node.js: the native half of `require('kled')`.
//!
//! This addon exposes the core's Manager, Terminal and ExecStream as small
//! native classes; `index.js` (hand-written) wraps them in the public API,
//! maps errors to `Error` subclasses and shapes results. Every I/O method
//! here returns a Promise (errors::promise): napi-rs runs the work on the
//! addon's own tokio runtime (created on first use) and settles the Promise
//! on the JS thread, so the event loop never waits for kled.
//!
//! Errors cross as JS errors the addon makes with `code`, `hint` and `cause`
//! properties (errors.rs); index.js picks the `KledError` subclass by `code`.
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

mod errors;

use errors::{invalid, promise, sync};

type Result<T, E = kled::Error> = std::result::Result<T, E>;

fn parse_json(what: &str, text: Option<String>) -> Result<serde_json::Value> {
    match text {
        None => Ok(serde_json::Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

fn to_json(v: impl serde::Serialize) -> Result<String> {
    serde_json::to_string(&v).map_err(|e| kled::Error::new(kled::ErrorKind::Io, format!("cannot serialize: {e}")))
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
    pub fn new(
        env: &Env,
        state_dir: Option<String>,
        config_path: Option<String>,
        config_json: Option<String>,
    ) -> napi::Result<Self> {
        sync(env, Self::open(state_dir, config_path, config_json))
    }

    fn open(state_dir: Option<String>, config_path: Option<String>, config_json: Option<String>) -> Result<Self> {
        let config = match (config_path, config_json) {
            (Some(_), Some(_)) => return Err(invalid("give the config as a file path or as an object, not both")),
            (None, Some(text)) => kled::Config::from_yaml(&text, "the config option")?,
            (path, None) => kled::Config::load(path.as_deref().map(std::path::Path::new))?,
        };
        let manager = kled::Manager::new(state_dir.map(Into::into), config)?;
        let state_dir = manager.state_dir().display().to_string();
        LIVE_MANAGERS.fetch_add(1, Ordering::Relaxed);
        Ok(NativeManager { inner: RwLock::new(Some(manager)), state_dir })
    }

    fn get(&self) -> Result<kled::Manager> {
        self.inner
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| kled::Error::new(kled::ErrorKind::InvalidState, "this Manager was closed"))
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
    pub fn create_terminal<'env>(
        &self,
        env: &'env Env,
        kind: String,
        name: String,
        options_json: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, NativeTerminal>> {
        let m = self.get();
        promise(env, async move {
            let options = parse_json("options", options_json)?;
            Ok(NativeTerminal::new(m?.create_terminal(&kind, &name, options).await?))
        })
    }

    #[napi]
    pub fn get_terminal<'env>(&self, env: &'env Env, name: String) -> napi::Result<PromiseRaw<'env, NativeTerminal>> {
        let m = self.get();
        promise(env, async move { Ok(NativeTerminal::new(m?.get_terminal(&name).await?)) })
    }

    /// `{"terminals": [TerminalInfo...], "problems": [{name, error}...]}`
    #[napi]
    pub fn list_terminals<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let m = self.get();
        promise(env, async move {
            let listing = m?.list_terminals().await?;
            let problems: Vec<serde_json::Value> =
                listing.problems.iter().map(|p| serde_json::json!({ "name": p.name, "error": p.error })).collect();
            to_json(serde_json::json!({ "terminals": listing.terminals, "problems": problems }))
        })
    }

    #[napi]
    pub fn remove_terminal<'env>(&self, env: &'env Env, name: String) -> napi::Result<PromiseRaw<'env, ()>> {
        let m = self.get();
        promise(env, async move { m?.remove_terminal(&name).await })
    }

    /// The core judges count and concurrency (BulkRequest::validate).
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn create_bulk<'env>(
        &self,
        env: &'env Env,
        kind: String,
        count: u32,
        options_json: Option<String>,
        prefix: Option<String>,
        start: Option<bool>,
        concurrency: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<NativeTerminal>>> {
        let m = self.get();
        promise(env, async move {
            let mut req = kled::BulkRequest::new(kind, count as usize);
            req.options = parse_json("options", options_json)?;
            req.prefix = prefix;
            req.start = start.unwrap_or(false);
            if let Some(c) = concurrency {
                req.concurrency = c as usize;
            }
            let terminals = m?.create_bulk(req).await?;
            Ok(terminals.into_iter().map(NativeTerminal::new).collect())
        })
    }

    /// JSON: `[{kind, available, description, needs, reason?}...]`. Probing
    /// a runtime may touch the file system or an engine: off the JS thread.
    #[napi]
    pub fn providers<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let m = self.get();
        promise(env, async move {
            let m = m?;
            let list = tokio::task::spawn_blocking(move || m.providers())
                .await
                .map_err(|e| kled::Error::new(kled::ErrorKind::Io, format!("providers task failed: {e}")))?;
            to_json(list)
        })
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
            kled::Error::new(
                kled::ErrorKind::InvalidState,
                format!("this handle on terminal {:?} was closed", self.name),
            )
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
    pub fn state<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let t = self.get();
        promise(env, async move { Ok(t?.state().await?.as_str().to_string()) })
    }

    /// JSON of the core's TerminalInfo.
    #[napi]
    pub fn info<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let t = self.get();
        promise(env, async move { to_json(t?.info().await?) })
    }

    #[napi]
    pub fn start<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let t = self.get();
        promise(env, async move { t?.start().await })
    }

    #[napi]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let t = self.get();
        promise(env, async move { t?.stop().await })
    }

    #[napi]
    pub fn remove<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let t = self.get();
        promise(env, async move { t?.remove().await })
    }

    #[napi]
    pub fn exec<'env>(
        &self,
        env: &'env Env,
        req: NativeExecRequest,
    ) -> napi::Result<PromiseRaw<'env, NativeExecResult>> {
        let t = self.get();
        // Buffers belong to the JS thread: take their bytes here.
        let req = req.into_core();
        promise(env, async move { Ok(t?.exec(req?).await?.into()) })
    }

    #[napi]
    pub fn exec_stream<'env>(
        &self,
        env: &'env Env,
        req: NativeExecRequest,
    ) -> napi::Result<PromiseRaw<'env, NativeExecStream>> {
        let t = self.get();
        let req = req.into_core();
        promise(env, async move { Ok(NativeExecStream::new(t?.exec_stream(req?).await?)) })
    }

    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn run_code<'env>(
        &self,
        env: &'env Env,
        lang: String,
        code: String,
        args: Option<Vec<String>>,
        stdin: Option<Buffer>,
        timeout_ms: Option<f64>,
        remote: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, NativeExecResult>> {
        let t = self.get();
        let mut req = kled::CodeRequest::new(lang, code);
        req.args = args.unwrap_or_default();
        req.stdin = stdin.map(|b| b.to_vec());
        req.remote = remote.unwrap_or(false);
        let timeout = millis("timeout", timeout_ms);
        promise(env, async move {
            req.timeout = timeout?;
            Ok(t?.run_code_with(req).await?.into())
        })
    }

    #[napi]
    pub fn read_file<'env>(&self, env: &'env Env, path: String) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let t = self.get();
        promise(env, async move { Ok(t?.read_file(&path).await?.into()) })
    }

    /// The mode is judged by the core (kled::file_mode).
    #[napi]
    pub fn write_file<'env>(
        &self,
        env: &'env Env,
        path: String,
        data: Buffer,
        mode: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let t = self.get();
        let data = data.to_vec();
        promise(env, async move { t?.write_file(&path, &data, mode).await })
    }

    /// JSON: `[{name, kind, size, mode}...]`.
    #[napi]
    pub fn list_dir<'env>(&self, env: &'env Env, path: String) -> napi::Result<PromiseRaw<'env, String>> {
        let t = self.get();
        promise(env, async move { to_json(t?.list_dir(&path).await?) })
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
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<NativeExecEvent>>> {
        let (mut closed, stream) = (self.closed.subscribe(), Arc::clone(&self.stream));
        promise(env, async move { Self::next_event(&mut closed, &stream).await })
    }
}

impl NativeExecStream {
    async fn next_event(
        closed: &mut tokio::sync::watch::Receiver<bool>,
        stream: &tokio::sync::Mutex<Option<kled::ExecStream>>,
    ) -> Result<Option<NativeExecEvent>> {
        let mut guard = stream.lock().await;
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
                            Err(e)
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
}

#[napi]
impl NativeExecStream {
    /// Sends a signal (a number) to the command's process group, also while
    /// a `next()` is waiting; ignored once the command has ended.
    #[napi]
    pub fn signal(&self, env: &Env, signal: i32) -> napi::Result<()> {
        if signal <= 0 || signal > 64 {
            return sync(env, Err(invalid(format!("no such signal: {signal}"))));
        }
        sync(env, self.control.signal(signal))
    }

    /// Writes to the command's stdin (a stream started with stdinOpen).
    #[napi]
    pub fn write(&self, env: &Env, data: Buffer) -> napi::Result<()> {
        sync(env, self.control.write_stdin(&data))
    }

    /// Ends the command's stdin (EOF; on a pseudo-terminal, ^D).
    #[napi]
    pub fn close_stdin(&self, env: &Env) -> napi::Result<()> {
        sync(env, self.control.close_stdin())
    }

    /// New size for the command's pseudo-terminal.
    #[napi]
    pub fn resize(&self, env: &Env, rows: u32, cols: u32) -> napi::Result<()> {
        if !(1..=0xffff).contains(&rows) || !(1..=0xffff).contains(&cols) {
            return sync(env, Err(invalid("rows and cols must each be from 1 to 65535")));
        }
        sync(env, self.control.resize(rows as u16, cols as u16))
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
