//! A handle on one named terminal: lifecycle, exec, code and files.

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Command, ExecEvent, ExecRequest, ExecResult, DEFAULT_MAX_OUTPUT};
use crate::kind::Kind;
use crate::languages::Language;
use crate::registry::{Connection, Registry};
use crate::state::{Record, State};
use crate::stream::ExecStream;
use kled_protocol::{AgentInfo, DirEntry, Spawn};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// What `list` shows of a terminal.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalInfo {
    pub name: String,
    pub kind: Kind,
    pub state: State,
    pub options: serde_json::Value,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Record> for TerminalInfo {
    fn from(r: &Record) -> TerminalInfo {
        TerminalInfo {
            name: r.name.clone(),
            kind: r.kind,
            state: r.state,
            options: r.options.clone(),
            created_at: r.created_at,
            error: r.error.clone(),
        }
    }
}

/// A terminal by name. Cheap to clone. Its state lives in the state dir, so
/// another process may change it: `state()` always reads the current one.
#[derive(Clone)]
pub struct Terminal {
    registry: Arc<Registry>,
    name: Arc<str>,
    kind: Kind,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal").field("name", &self.name).field("kind", &self.kind).finish()
    }
}

/// A `run_code` request. As JSON (for the C ABI and other front ends):
/// `{"lang": "py", "code": "...", "args": [], "stdin": "", "timeout_secs": 5}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub lang: String,
    pub code: String,
    /// Arguments for the program.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "crate::exec::opt_bytes::deserialize")]
    pub stdin: Option<Vec<u8>>,
    #[serde(default, rename = "timeout_secs", deserialize_with = "crate::exec::opt_secs::deserialize")]
    pub timeout: Option<Duration>,
    /// Run on the Code Interpreter API (`librechat` in the config) instead
    /// of inside the terminal. The terminal remembers the remote session, so
    /// files one remote run writes to /mnt/data are there for the next.
    #[serde(default)]
    pub remote: bool,
}

impl CodeRequest {
    pub fn new(lang: impl Into<String>, code: impl Into<String>) -> CodeRequest {
        CodeRequest {
            lang: lang.into(),
            code: code.into(),
            args: Vec::new(),
            stdin: None,
            timeout: None,
            remote: false,
        }
    }
}

impl Terminal {
    pub(crate) fn new(registry: Arc<Registry>, name: &str, kind: Kind) -> Terminal {
        Terminal { registry, name: name.into(), kind }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What this terminal can do (the same for every terminal of its kind).
    pub fn caps(&self) -> crate::Caps {
        crate::Caps::of(self.kind)
    }

    pub(crate) fn record(&self) -> Result<Record> {
        self.registry.load(&self.name)
    }

    pub(crate) async fn connection(&self) -> Result<Connection> {
        self.registry.connection(&self.name).await
    }

    pub async fn state(&self) -> Result<State> {
        Ok(self.record()?.state)
    }

    pub async fn info(&self) -> Result<TerminalInfo> {
        Ok(TerminalInfo::from(&self.record()?))
    }

    /// Makes the terminal runnable. Idempotent.
    pub async fn start(&self) -> Result<()> {
        self.registry.start(&self.name).await
    }

    /// Stops everything running in the terminal and keeps its data. Idempotent.
    pub async fn stop(&self) -> Result<()> {
        self.registry.stop(&self.name).await
    }

    /// Stops the terminal and deletes it and its data.
    pub async fn remove(&self) -> Result<()> {
        self.registry.remove(&self.name).await
    }

    fn spawn_spec(&self, conn: &Connection, req: &ExecRequest) -> Spawn {
        let argv = match &req.command {
            Command::Shell(s) => conn.profile.shell_argv(s),
            Command::Argv(v) => v.clone(),
        };
        let mut env = conn.profile.env.clone();
        env.extend(req.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        Spawn {
            argv,
            env,
            cwd: req.cwd.clone(),
            // Kept open; otherwise the client sends `req.stdin` then EOF.
            stdin: req.stdin_open,
            timeout_ms: req.timeout.map(|t| t.as_millis().max(1) as u64),
            max_output: req.max_output.unwrap_or(DEFAULT_MAX_OUTPUT),
            tty: req.tty,
        }
    }

    /// Runs a command and collects its output. A non-zero exit is a result.
    pub async fn exec(&self, req: ExecRequest) -> Result<ExecResult> {
        let mut stream = self.exec_stream(req).await?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let status = stream
            .collect_into(|ev| match ev {
                ExecEvent::Stdout(b) => stdout.extend_from_slice(b),
                ExecEvent::Stderr(b) => stderr.extend_from_slice(b),
                ExecEvent::Exit(_) => {}
            })
            .await?;
        Ok(ExecResult::new(stdout, stderr, status))
    }

    /// Starts a command and streams its output. Dropping the stream before
    /// the exit kills the command.
    pub async fn exec_stream(&self, req: ExecRequest) -> Result<ExecStream> {
        req.validate()?;
        let mut conn = self.connection().await?;
        let display = match &req.command {
            Command::Shell(s) => s.clone(),
            Command::Argv(v) => v.join(" "),
        };
        let handle = match conn.client.spawn(self.spawn_spec(&conn, &req), req.stdin.as_deref(), &display).await {
            Ok(h) => h,
            Err(_) if conn.client.is_closed() => {
                // The cached connection died under us (agent restarted): once more.
                self.registry.forget_connection(&self.name);
                conn = self.connection().await?;
                conn.client
                    .spawn(self.spawn_spec(&conn, &req), req.stdin.as_deref(), &display)
                    .await
                    .map_err(|e| self.explain(e))?
            }
            Err(e) => return Err(self.explain(e)),
        };
        Ok(ExecStream::new(handle, req.timeout, self.registry.clone(), self.name.clone()))
    }

    /// Runs `code` with the language's interpreter (or compiler) in the terminal.
    pub async fn run_code(&self, lang: &str, code: &str) -> Result<ExecResult> {
        self.run_code_with(CodeRequest::new(lang, code)).await
    }

    pub async fn run_code_with(&self, req: CodeRequest) -> Result<ExecResult> {
        if req.remote {
            return self.run_code_remote(&req).await;
        }
        let language = Language::find(&req.lang)?;
        let conn = self.connection().await?;
        let programs = language.programs();
        let paths = conn
            .client
            .which(&programs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .await
            .map_err(|e| self.explain(e))?;
        let found =
            |p: &str| programs.iter().position(|q| *q == p).and_then(|i| paths.get(i)).is_some_and(Option::is_some);
        let dir = scratch_dir();
        let file = format!("{dir}/{}", language.file_name);
        let mut argv = language.command(&found, &file, &dir, &self.name)?;
        argv.extend(req.args.iter().cloned());
        let scratch = Scratch { client: Some(conn.client.clone()), dir };
        conn.client.write_file(&file, req.code.as_bytes(), Some(0o600), true).await?;
        let mut exec = ExecRequest::new(Command::Argv(argv));
        exec.stdin = req.stdin;
        exec.timeout = req.timeout;
        let result = self.exec(exec).await;
        scratch.remove().await;
        result
    }

    /// `run_code` on the Code Interpreter API, with this terminal's remote
    /// session (its files) carried from run to run.
    async fn run_code_remote(&self, req: &CodeRequest) -> Result<ExecResult> {
        let client = crate::librechat::Client::from_config(&self.registry.config().librechat)?;
        let before = self.record()?.remote.unwrap_or_default();
        let session = Some(before.session_id.clone()).filter(|s| !s.is_empty());
        let run = client.run_code(req, before.files, session).await?;
        self.registry.update(&self.name, |r| r.remote.get_or_insert_with(Default::default).absorb(&run.output)).await?;
        Ok(run.result)
    }

    /// The whole content of a file in the terminal (relative paths are from
    /// its working directory).
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        check_path(path)?;
        let conn = self.connection().await?;
        conn.client.read_file(path).await.map_err(|e| self.explain(e))
    }

    /// Writes a file atomically, creating parent directories. `mode` defaults
    /// to the existing file's, else 0644.
    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> Result<()> {
        check_path(path)?;
        crate::file_mode::check(mode)?;
        let conn = self.connection().await?;
        conn.client.write_file(path, data, mode, true).await.map(|_| ()).map_err(|e| self.explain(e))
    }

    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        check_path(path)?;
        let conn = self.connection().await?;
        conn.client.list_dir(path).await.map_err(|e| self.explain(e))
    }

    /// Facts about where the terminal runs (kernel, host name, user).
    pub async fn agent_info(&self) -> Result<AgentInfo> {
        let conn = self.connection().await?;
        conn.client.info().await.map_err(|e| self.explain(e))
    }
}

impl Terminal {
    /// A lost agent connection often means another process stopped or
    /// removed the terminal: say that rather than "connection lost".
    pub(crate) fn explain(&self, e: Error) -> Error {
        self.registry.explain(&self.name, e)
    }
}

pub(crate) fn check_path(path: &str) -> Result<()> {
    if path.is_empty() || path.contains('\0') {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("invalid path {path:?}")));
    }
    Ok(())
}

/// A fresh directory name for one run_code.
/// run_code's scratch directory, removed however the run ends: after it,
/// or, when the caller drops the run midway (a timeout around it, an HTTP
/// client that went away), by a task spawned on drop.
struct Scratch {
    client: Option<crate::backend::Backend>,
    dir: String,
}

impl Scratch {
    async fn remove(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.remove(&self.dir, true).await;
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (Some(c), Ok(rt)) = (self.client.take(), tokio::runtime::Handle::try_current()) else { return };
        let dir = std::mem::take(&mut self.dir);
        rt.spawn(async move {
            let _ = c.remove(&dir, true).await;
        });
    }
}

fn scratch_dir() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("/tmp/kled-code-{}-{nanos:x}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}
