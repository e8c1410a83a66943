//! A connection to a Neovim server, used as a terminal's agent: commands
//! run as Neovim jobs, files go through Neovim's Lua, and the editor
//! operations (open, read and set lines, write, list buffers) act on real
//! buffers. Everything goes through one small Lua helper (helper.lua),
//! loaded once per server.

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{ExecEvent, ExitStatus};
use crate::mux::Router;
use kled_protocol::{AgentInfo, DirEntry, Spawn};
use nvim_rs::{Handler, Neovim, Value};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

const HELPER: &str = include_str!("helper.lua");
/// Changes whenever helper.lua does (FNV-1a of its text), so a server
/// running another helper (started by another kled) gets this one on the
/// next connect.
const HELPER_VERSION: u64 = {
    let bytes = HELPER.as_bytes();
    let mut h: u64 = 0xcbf29ce484222325;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x100000001b3);
        i += 1;
    }
    h
};

type Writer = Box<dyn futures::io::AsyncWrite + Send + Unpin>;

/// Events a job's route holds before the connection's reader waits for its
/// consumer. Neovim notifications cannot be flow-controlled end to end (the
/// job's output is read by Neovim, which queues it for us however slow we
/// are), so the bound only moves the backlog: `handle_notify` awaits the
/// bounded send, nvim-rs's reader stops, and the backlog stays in the
/// socket and in Neovim's own memory instead of ours. The cost: while one
/// job's consumer does not read, every other route and every RPC reply on
/// that connection waits too (a reader that waits on a second exec of the
/// same terminal before draining the first stalls both).
const JOB_ROUTE: usize = 256;

/// Routes the helper's exec notifications to the exec they belong to.
#[derive(Clone)]
struct Notifications {
    router: Arc<Router<u64, ExecEvent>>,
}

#[async_trait::async_trait]
impl Handler for Notifications {
    type Writer = Writer;

    async fn handle_notify(&self, name: String, args: Vec<Value>, _nvim: Neovim<Writer>) {
        if name != "kled_exec" {
            return;
        }
        let (Some(token), Some(kind)) = (args.first().and_then(Value::as_u64), args.get(1).and_then(Value::as_str))
        else {
            return;
        };
        let event = match kind {
            "o" | "e" => {
                let data = args.get(2).map(bytes_of).unwrap_or_default();
                if kind == "o" {
                    ExecEvent::Stdout(data)
                } else {
                    ExecEvent::Stderr(data)
                }
            }
            "x" => {
                let code = args.get(2).and_then(Value::as_i64).unwrap_or(-1) as i32;
                let timed_out = args.get(3).and_then(Value::as_bool).unwrap_or(false);
                let truncated = args.get(4).and_then(Value::as_bool).unwrap_or(false);
                let ms = args.get(5).and_then(|v| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64))).unwrap_or(0.0);
                // Neovim reports a death by signal N as exit code 128+N and
                // cannot tell it from `exit 128+N`. Only a timeout, where
                // kled itself sent SIGKILL, is known to be a signal.
                let (exit_code, signal) = if timed_out && code == 128 + libc::SIGKILL {
                    (None, Some(libc::SIGKILL))
                } else {
                    (Some(code), None)
                };
                ExecEvent::Exit(ExitStatus {
                    exit_code,
                    signal,
                    timed_out,
                    truncated,
                    duration: Duration::from_secs_f64(ms.max(0.0) / 1000.0),
                })
            }
            _ => return,
        };
        let last = matches!(event, ExecEvent::Exit(_));
        self.router.deliver(token, event, last).await;
    }
}

// What nvim-rs's use_tokio feature would provide, without tokio "full".
impl nvim_rs::create::Spawner for Notifications {
    type Handle = tokio::task::JoinHandle<()>;

    fn spawn<Fut>(&self, future: Fut) -> Self::Handle
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(future)
    }
}

fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Binary(b) => b.clone(),
        _ => Vec::new(),
    }
}

fn str_of(v: &Value) -> String {
    String::from_utf8_lossy(&bytes_of(v)).into_owned()
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
}

struct Inner {
    nvim: Neovim<Writer>,
    /// This connection's channel id on the server (where notifications go).
    chan: std::sync::atomic::AtomicI64,
    router: Arc<Router<u64, ExecEvent>>,
    next_token: AtomicU64,
    io: tokio::task::JoinHandle<()>,
    label: String,
    /// Relative paths and cwds are taken from here, not from Neovim's
    /// current directory (a person attached may `:cd`).
    workdir: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.io.abort();
    }
}

/// A cheap-to-clone handle on one connection to a Neovim server.
#[derive(Clone)]
pub struct NvimClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NvimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvimClient").field("label", &self.inner.label).field("chan", &self.chan()).finish()
    }
}

/// A buffer as the editor operations report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferInfo {
    /// Neovim's buffer number.
    pub number: i64,
    /// The buffer's name: the absolute file path, or `kled://log`.
    pub name: String,
    /// Number of lines.
    pub lines: i64,
    /// Changed since it was last written.
    pub modified: bool,
    pub loaded: bool,
}

impl BufferInfo {
    fn from_value(v: &Value) -> Result<BufferInfo> {
        Ok(BufferInfo {
            number: field(v, "number").and_then(Value::as_i64).ok_or_else(|| bad_reply("buffer", v))?,
            name: field(v, "name").map(str_of).unwrap_or_default(),
            lines: field(v, "lines").and_then(Value::as_i64).unwrap_or(0),
            modified: field(v, "modified").and_then(Value::as_bool).unwrap_or(false),
            loaded: field(v, "loaded").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

fn bad_reply(what: &str, v: &Value) -> Error {
    Error::agent(format!("unexpected reply from Neovim to {what}: {v}"))
}

impl NvimClient {
    /// Connects over `reader`/`writer` (a unix socket, or a proxied stream)
    /// and loads the helper.
    pub async fn connect<R, W>(
        reader: R,
        writer: W,
        label: &str,
        workdir: &str,
        deadline: Duration,
    ) -> Result<NvimClient>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
        W: tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let router = Arc::new(Router::new());
        let writer: Writer = Box::new(writer.compat_write());
        let (nvim, io) = Neovim::new(reader.compat(), writer, Notifications { router: router.clone() });
        let io_router = router.clone();
        let io = tokio::spawn(async move {
            let why = match io.await {
                Ok(()) => "Neovim closed the connection".to_string(),
                Err(e) if e.is_channel_closed() => "Neovim closed the connection".to_string(),
                Err(e) => e.to_string(),
            };
            io_router.close(why);
        });
        let client = NvimClient {
            inner: Arc::new(Inner {
                nvim,
                chan: std::sync::atomic::AtomicI64::new(0),
                router,
                next_token: AtomicU64::new(1),
                io,
                label: label.to_string(),
                workdir: workdir.to_string(),
            }),
        };
        let setup = async {
            let info = client.call("nvim_get_api_info", vec![]).await?;
            let chan = info
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_i64)
                .ok_or_else(|| bad_reply("nvim_get_api_info", &info))?;
            client
                .call("nvim_exec_lua", vec![HELPER.into(), Value::Array(vec![format!("{HELPER_VERSION:016x}").into()])])
                .await?;
            Ok::<i64, Error>(chan)
        };
        let chan = tokio::time::timeout(deadline, setup).await.map_err(|_| {
            Error::new(ErrorKind::Timeout, format!("{label}: Neovim did not answer within {deadline:?}"))
        })??;
        client.inner.chan.store(chan, Ordering::Relaxed);
        Ok(client)
    }

    /// Dials a Neovim server's unix socket.
    pub async fn dial(socket: &std::path::Path, label: &str, workdir: &str, deadline: Duration) -> Result<NvimClient> {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| Error::agent(format!("{label}: cannot reach its Neovim at {}: {e}", socket.display())))?;
        let (r, w) = stream.into_split();
        NvimClient::connect(r, w, label, workdir, deadline).await
    }

    /// This connection's channel id on the server (known after the handshake).
    fn chan(&self) -> i64 {
        self.inner.chan.load(Ordering::Relaxed)
    }

    pub fn is_closed(&self) -> bool {
        self.inner.router.closed().is_some()
    }

    fn lost(&self) -> Error {
        let why = self.inner.router.closed().unwrap_or_else(|| "connection lost".into());
        Error::agent(format!(
            "{}: lost the connection to Neovim ({why}); if the Neovim process is gone, starting the terminal again starts a new one",
            self.inner.label
        ))
    }

    /// One RPC call. Errors Neovim raises (a bad line range, a Lua error)
    /// are InvalidArgument; a broken connection is Agent.
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        match self.inner.nvim.call(method, args).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let msg = match &e {
                    Value::Array(a) if a.len() == 2 => str_of(&a[1]),
                    other => other.to_string(),
                };
                Err(Error::new(ErrorKind::InvalidArgument, format!("{}: Neovim: {msg}", self.inner.label)))
            }
            Err(_) => Err(self.lost()),
        }
    }

    /// Calls `kled_rt.NAME(args...)` in the helper.
    async fn helper(&self, name: &str, args: Vec<Value>) -> Result<Value> {
        let mut all = vec![Value::from(name)];
        all.extend(args);
        self.call(
            "nvim_exec_lua",
            vec!["local f = ...; return _G.kled_rt[f](select(2, ...))".into(), Value::Array(all)],
        )
        .await
    }

    /// The helper's `{ err = code, msg = text }` as an error, else the value.
    fn checked(&self, v: Value) -> Result<Value> {
        if let Some(code) = field(&v, "err") {
            let kind = match code.as_str() {
                Some("not_found") => ErrorKind::NotFound,
                Some("invalid") => ErrorKind::InvalidArgument,
                _ => ErrorKind::Io,
            };
            return Err(Error::new(kind, field(&v, "msg").map(str_of).unwrap_or_default()));
        }
        Ok(v)
    }

    /// An absolute path: relative ones are from the terminal's workdir.
    pub fn resolve(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", self.inner.workdir.trim_end_matches('/'))
        }
    }

    /// Starts a process as a Neovim job; output and exit arrive through the handle.
    pub async fn spawn(&self, spawn: Spawn, stdin: Option<&[u8]>, display: &str) -> Result<NvimProcess> {
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let rx = self.inner.router.open(token, JOB_ROUTE).map_err(|_| self.lost())?;
        // From here on, dropping the handle removes the route (and kills the job).
        let process = NvimProcess { client: self.clone(), token, rx, done: false };
        let cwd = self.resolve(spawn.cwd.as_deref().unwrap_or("."));
        let mut opts: Vec<(Value, Value)> = vec![
            ("cwd".into(), cwd.into()),
            ("env".into(), Value::Map(spawn.env.iter().map(|(k, v)| (k.as_str().into(), v.as_str().into())).collect())),
            // Neovim takes integers as i64 (Lua numbers, exact to 2^53):
            // "no cap" (u64::MAX) would be refused as invalid arguments.
            ("max_output".into(), spawn.max_output.min(1 << 53).into()),
            ("display".into(), display.into()),
        ];
        if let Some(ms) = spawn.timeout_ms {
            opts.push(("timeout_ms".into(), ms.min(1 << 53).into()));
        }
        if let Some(data) = stdin {
            opts.push(("stdin".into(), Value::Binary(data.to_vec())));
        }
        let argv = Value::Array(spawn.argv.iter().map(|a| a.as_str().into()).collect());
        self.helper("exec", vec![self.chan().into(), token.into(), argv, Value::Map(opts)]).await?;
        Ok(process)
    }

    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let v = self.checked(self.helper("read", vec![self.resolve(path).into()]).await?)?;
        field(&v, "data").map(bytes_of).ok_or_else(|| bad_reply("read", &v))
    }

    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>, create_dirs: bool) -> Result<u64> {
        let mode = mode.map(Value::from).unwrap_or(Value::Nil);
        let v = self.checked(
            self.helper(
                "write",
                vec![self.resolve(path).into(), Value::Binary(data.to_vec()), mode, create_dirs.into()],
            )
            .await?,
        )?;
        field(&v, "bytes").and_then(Value::as_u64).ok_or_else(|| bad_reply("write", &v))
    }

    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let v = self.checked(self.helper("list", vec![self.resolve(path).into()]).await?)?;
        let entries = field(&v, "entries").and_then(Value::as_array).ok_or_else(|| bad_reply("list", &v))?;
        Ok(entries
            .iter()
            .map(|e| DirEntry {
                name: field(e, "name").map(str_of).unwrap_or_default(),
                kind: field(e, "kind").map(str_of).unwrap_or_default(),
                size: field(e, "size").and_then(Value::as_u64).unwrap_or(0),
                mode: field(e, "mode").and_then(Value::as_u64).unwrap_or(0) as u32,
                mtime_ns: field(e, "mtime").and_then(Value::as_u64).unwrap_or(0).saturating_mul(1_000_000_000),
            })
            .collect())
    }

    pub async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.helper("remove", vec![self.resolve(path).into(), recursive.into()]).await.map(|_| ())
    }

    pub async fn which(&self, programs: &[String]) -> Result<Vec<Option<String>>> {
        let list = Value::Array(programs.iter().map(|p| p.as_str().into()).collect());
        let v = self.helper("which", vec![list]).await?;
        let found = v.as_array().ok_or_else(|| bad_reply("which", &v))?;
        Ok((0..programs.len())
            .map(|i| found.get(i).filter(|v| !v.is_nil()).map(str_of).filter(|s| !s.is_empty()))
            .collect())
    }

    pub async fn info(&self) -> Result<AgentInfo> {
        let v = self.helper("info", vec![]).await?;
        let s = |k: &str| field(&v, k).map(str_of).unwrap_or_default();
        let n = |k: &str| field(&v, k).and_then(Value::as_u64).unwrap_or(0) as u32;
        Ok(AgentInfo {
            pid: n("pid"),
            uid: n("uid"),
            hostname: s("hostname"),
            kernel_release: s("kernel_release"),
            kernel_version: s("kernel_version"),
            os: s("os"),
            arch: s("arch"),
            cwd: s("cwd"),
        })
    }

    /// Kills every job still running, then asks the server to quit.
    pub async fn shutdown(&self) {
        let _ = self.helper("kill_all", vec![]).await;
        // The server exits before it can answer: the reply never comes.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.call("nvim_command", vec!["qall!".into()])).await;
    }

    /// The lines of the visible command log (`kled://log`).
    pub async fn log_lines(&self) -> Result<Vec<String>> {
        let v = self.helper("log_lines", vec![]).await?;
        Ok(v.as_array().map(|a| a.iter().map(str_of).collect()).unwrap_or_default())
    }

    // -- editor operations --

    pub async fn open(&self, path: &str) -> Result<BufferInfo> {
        BufferInfo::from_value(&self.helper("open", vec![self.resolve(path).into()]).await?)
    }

    pub async fn buffers(&self) -> Result<Vec<BufferInfo>> {
        let v = self.helper("buffers", vec![]).await?;
        v.as_array().ok_or_else(|| bad_reply("buffers", &v))?.iter().map(BufferInfo::from_value).collect()
    }

    pub async fn get_lines(&self, path: &str, start: i64, end: i64) -> Result<Vec<String>> {
        let v = self.helper("get_lines", vec![self.resolve(path).into(), start.into(), end.into()]).await?;
        Ok(v.as_array().ok_or_else(|| bad_reply("get_lines", &v))?.iter().map(str_of).collect())
    }

    pub async fn set_lines(&self, path: &str, start: i64, end: i64, lines: &[String]) -> Result<BufferInfo> {
        let lines = Value::Array(lines.iter().map(|l| l.as_str().into()).collect());
        BufferInfo::from_value(
            &self.helper("set_lines", vec![self.resolve(path).into(), start.into(), end.into(), lines]).await?,
        )
    }

    pub async fn write_buffer(&self, path: &str) -> Result<BufferInfo> {
        BufferInfo::from_value(&self.helper("write_buffer", vec![self.resolve(path).into()]).await?)
    }
}

/// A command running as a Neovim job. Dropping it before the exit kills
/// its process group.
pub struct NvimProcess {
    client: NvimClient,
    token: u64,
    rx: mpsc::Receiver<ExecEvent>,
    done: bool,
}

impl NvimProcess {
    pub async fn next(&mut self) -> Option<Result<ExecEvent>> {
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            None => {
                self.done = true;
                Some(Err(self.client.lost()))
            }
            Some(ev) => {
                self.done = matches!(ev, ExecEvent::Exit(_));
                Some(Ok(ev))
            }
        }
    }

    /// Sends `signal` to the job's process group (fire and forget).
    pub fn kill(&self, signal: i32) -> Result<()> {
        self.control().kill(signal)
    }

    pub fn control(&self) -> NvimControl {
        NvimControl { client: self.client.clone(), token: self.token }
    }
}

/// Signals one Neovim job; the helper ignores a token whose job ended.
#[derive(Clone)]
pub struct NvimControl {
    client: NvimClient,
    token: u64,
}

impl NvimControl {
    pub fn kill(&self, signal: i32) -> Result<()> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::agent("cannot signal a Neovim job outside a tokio runtime"))?;
        let client = self.client.clone();
        let token = self.token;
        handle.spawn(async move {
            let _ = client.helper("kill", vec![client.chan().into(), token.into(), signal.into()]).await;
        });
        Ok(())
    }
}

impl Drop for NvimProcess {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.kill(libc::SIGKILL);
        }
        self.client.inner.router.remove(self.token);
    }
}
