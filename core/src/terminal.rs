//! A handle on one named terminal: lifecycle, exec, code and files.

use crate::backend::Process;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Command, ExecEvent, ExecRequest, ExecResult, ExitStatus, DEFAULT_MAX_OUTPUT};
use crate::kind::Kind;
use crate::languages::Language;
use crate::manager::{Connection, Manager};
use crate::runtime::runtime_for;
use crate::state::{Record, State};
use kled_protocol::{AgentInfo, DirEntry, Spawn};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long past its own timeout an exec may go before the client gives up
/// on the agent (which enforces the timeout itself).
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

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
    manager: Manager,
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
    pub(crate) fn new(manager: Manager, name: &str, kind: Kind) -> Terminal {
        Terminal { manager, name: name.into(), kind }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    fn record(&self) -> Result<Record> {
        self.manager.inner.state.load(&self.name)
    }

    pub async fn state(&self) -> Result<State> {
        Ok(self.record()?.state)
    }

    pub async fn info(&self) -> Result<TerminalInfo> {
        Ok(TerminalInfo::from(&self.record()?))
    }

    /// Makes the terminal runnable. Idempotent.
    pub async fn start(&self) -> Result<()> {
        let _lock = self.manager.lock(&self.name).await?;
        let mut record = self.record()?;
        let runtime = runtime_for(record.kind)?;
        let ctx = self.manager.ctx();
        if record.state == State::Running {
            if let Ok(client) = runtime.connect(&ctx, &record).await {
                self.manager.remember(&self.name, Connection::new(client, runtime.profile(&record)?));
                return Ok(());
            }
        }
        self.manager.forget(&self.name);
        match runtime.start(&ctx, &mut record).await {
            Ok(client) => {
                record.state = State::Running;
                record.error = None;
                let profile = runtime.profile(&record)?;
                self.manager.inner.state.save(&record)?;
                self.manager.remember(&self.name, Connection::new(client, profile));
                tracing::info!(terminal = %self.name, "started");
                Ok(())
            }
            Err(e) => {
                record.state = State::Failed;
                record.error = Some(e.message().to_string());
                let _ = self.manager.inner.state.save(&record);
                Err(e)
            }
        }
    }

    /// Stops everything running in the terminal and keeps its data. Idempotent.
    pub async fn stop(&self) -> Result<()> {
        let _lock = self.manager.lock(&self.name).await?;
        let mut record = self.record()?;
        self.manager.forget(&self.name);
        let runtime = runtime_for(record.kind)?;
        match record.state {
            State::Stopped => return Ok(()),
            // Never started, as far as the record knows; but a start that
            // was killed midway may have left an agent or container running.
            State::Created => {
                let _ = runtime.stop(&self.manager.ctx(), &mut record).await;
                return Ok(());
            }
            State::Running | State::Failed => runtime.stop(&self.manager.ctx(), &mut record).await?,
        }
        record.state = State::Stopped;
        self.manager.inner.state.save(&record)?;
        tracing::info!(terminal = %self.name, "stopped");
        Ok(())
    }

    /// Stops the terminal and deletes it and its data.
    pub async fn remove(&self) -> Result<()> {
        let _lock = self.manager.lock(&self.name).await?;
        let mut record = self.record()?;
        self.manager.forget(&self.name);
        let runtime = runtime_for(record.kind)?;
        let ctx = self.manager.ctx();
        match record.state {
            State::Running | State::Failed => runtime.stop(&ctx, &mut record).await?,
            // Best effort: a start killed midway may have left something running.
            State::Created | State::Stopped => {
                let _ = runtime.stop(&ctx, &mut record).await;
            }
        }
        runtime.remove(&ctx, &record).await?;
        self.manager.inner.state.delete(&self.name)?;
        _lock.unlink();
        tracing::info!(terminal = %self.name, "removed");
        Ok(())
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
        let deadline = stream.timeout.map(|t| tokio::time::Instant::now() + t + WATCHDOG_GRACE);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => {
                        // The agent should have ended it long ago: stop waiting.
                        let _ = stream.handle.kill(libc::SIGKILL);
                        let status = ExitStatus {
                            exit_code: None,
                            signal: None,
                            timed_out: true,
                            truncated: false,
                            duration: stream.started.elapsed(),
                        };
                        return Ok(ExecResult::new(stdout, stderr, status));
                    }
                },
                None => stream.next().await,
            };
            match next {
                Some(Ok(ExecEvent::Stdout(b))) => stdout.extend_from_slice(&b),
                Some(Ok(ExecEvent::Stderr(b))) => stderr.extend_from_slice(&b),
                Some(Ok(ExecEvent::Exit(st))) => return Ok(ExecResult::new(stdout, stderr, st)),
                Some(Err(e)) => return Err(self.explain(e)),
                None => return Err(Error::agent("exec ended without an exit status")),
            }
        }
    }

    /// Starts a command and streams its output. Dropping the stream before
    /// the exit kills the command.
    pub async fn exec_stream(&self, req: ExecRequest) -> Result<ExecStream> {
        req.validate()?;
        let mut conn = self.manager.connection(&self.name).await?;
        let display = match &req.command {
            Command::Shell(s) => s.clone(),
            Command::Argv(v) => v.join(" "),
        };
        let handle = match conn.client.spawn(self.spawn_spec(&conn, &req), req.stdin.as_deref(), &display).await {
            Ok(h) => h,
            Err(_) if conn.client.is_closed() => {
                // The cached connection died under us (agent restarted): once more.
                self.manager.forget(&self.name);
                conn = self.manager.connection(&self.name).await?;
                conn.client
                    .spawn(self.spawn_spec(&conn, &req), req.stdin.as_deref(), &display)
                    .await
                    .map_err(|e| self.explain(e))?
            }
            Err(e) => return Err(self.explain(e)),
        };
        Ok(ExecStream { handle, timeout: req.timeout, started: Instant::now() })
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
        let conn = self.manager.connection(&self.name).await?;
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
        let client = crate::librechat::Client::from_config(&self.manager.config().librechat)?;
        let before = self.record()?.remote.unwrap_or_default();
        let session = Some(before.session_id.clone()).filter(|s| !s.is_empty());
        let run = client.run_code(req, before.files, session).await?;
        let _lock = self.manager.lock(&self.name).await?;
        let mut record = self.record()?;
        record.remote.get_or_insert_with(Default::default).absorb(&run.output);
        self.manager.inner.state.save(&record)?;
        Ok(run.result)
    }

    /// The whole content of a file in the terminal (relative paths are from
    /// its working directory).
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        check_path(path)?;
        let conn = self.manager.connection(&self.name).await?;
        conn.client.read_file(path).await.map_err(|e| self.explain(e))
    }

    /// Writes a file atomically, creating parent directories. `mode` defaults
    /// to the existing file's, else 0644.
    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> Result<()> {
        check_path(path)?;
        crate::file_mode::check(mode)?;
        let conn = self.manager.connection(&self.name).await?;
        conn.client.write_file(path, data, mode, true).await.map(|_| ()).map_err(|e| self.explain(e))
    }

    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        check_path(path)?;
        let conn = self.manager.connection(&self.name).await?;
        conn.client.list_dir(path).await.map_err(|e| self.explain(e))
    }

    /// Facts about where the terminal runs (kernel, host name, user).
    pub async fn agent_info(&self) -> Result<AgentInfo> {
        let conn = self.manager.connection(&self.name).await?;
        conn.client.info().await.map_err(|e| self.explain(e))
    }
}

impl Terminal {
    /// A lost agent connection often means another process stopped or
    /// removed the terminal: say that rather than "connection lost".
    fn explain(&self, e: Error) -> Error {
        if e.kind() != ErrorKind::Agent {
            return e;
        }
        match self.record() {
            Ok(r) if r.state != State::Running => crate::manager::check_running(&r).err().unwrap_or(e),
            Err(not_found) if not_found.kind() == ErrorKind::NotFound => not_found,
            _ => e,
        }
    }
}

fn check_path(path: &str) -> Result<()> {
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

/// The events of a running exec.
pub struct ExecStream {
    handle: Process,
    timeout: Option<Duration>,
    started: Instant,
}

impl ExecStream {
    /// The next chunk of output, or the exit; None after the exit.
    pub async fn next(&mut self) -> Option<Result<ExecEvent>> {
        self.handle.next().await
    }

    /// Sends a signal to the command's process group.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.handle.kill(signal)
    }

    /// A cloneable handle that signals, feeds or resizes this command from
    /// another task or thread while one waits in `next()` (which needs
    /// `&mut self`).
    pub fn control(&self) -> ExecControl {
        ExecControl(self.handle.control())
    }

    /// Collects the rest of the output into a result.
    pub async fn exit_status(mut self) -> Result<ExitStatus> {
        while let Some(ev) = self.next().await {
            if let ExecEvent::Exit(st) = ev? {
                return Ok(st);
            }
        }
        Err(Error::agent("exec ended without an exit status"))
    }
}

/// Reaches the command of an [`ExecStream`]; see [`ExecStream::control`].
/// Anything sent after the command ended is ignored.
#[derive(Clone)]
pub struct ExecControl(crate::backend::Control);

impl ExecControl {
    /// Sends `signal` to the command's process group.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.0.kill(signal)
    }

    /// More input, for a request made with `stdin_open`.
    pub fn write_stdin(&self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.0.write(data)
    }

    /// Ends the input (EOF; on a pseudo-terminal, ^D).
    pub fn close_stdin(&self) -> Result<()> {
        self.0.close()
    }

    /// New size for the command's pseudo-terminal (it gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.0.resize(rows, cols)
    }
}

impl std::fmt::Debug for ExecControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExecControl")
    }
}

/// Editor operations on a Neovim terminal's buffers: what an agent uses to
/// edit code through the editor. Files are named by path (relative paths
/// are from the terminal's working directory); each file's buffer is loaded
/// on first use and reloaded from disk when unmodified. Line ranges are
/// zero-based and end-exclusive, and negative indexes count from the end
/// (-1 is past the last line), as in Neovim's `nvim_buf_get_lines`.
#[derive(Clone, Debug)]
pub struct Editor {
    terminal: Terminal,
}

impl Terminal {
    /// The editor of a Neovim terminal; InvalidArgument for other kinds.
    pub fn editor(&self) -> Result<Editor> {
        match self.kind {
            Kind::Neovim | Kind::NeovimKata => Ok(Editor { terminal: self.clone() }),
            other => Err(Error::invalid(format!(
                "terminal {:?} is a {other} terminal: editor operations need a neovim terminal",
                self.name
            ))),
        }
    }
}

impl Editor {
    async fn nvim(&self) -> Result<crate::nvim::NvimClient> {
        let conn = self.terminal.manager.connection(&self.terminal.name).await?;
        conn.client
            .neovim()
            .cloned()
            .ok_or_else(|| Error::invalid(format!("terminal {:?} is not served by Neovim", self.terminal.name)))
    }

    fn check_lines(lines: &[String]) -> Result<()> {
        if let Some(l) = lines.iter().find(|l| l.contains('\n') || l.contains('\0')) {
            return Err(Error::invalid(format!("a buffer line may not contain a newline or NUL: {l:?}")));
        }
        Ok(())
    }

    /// Opens `path` in a buffer (a new file gets an empty one).
    pub async fn open(&self, path: &str) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        self.nvim().await?.open(path).await.map_err(|e| self.terminal.explain(e))
    }

    /// The listed buffers, including the command log `kled://log`.
    pub async fn buffers(&self) -> Result<Vec<crate::nvim::BufferInfo>> {
        self.nvim().await?.buffers().await.map_err(|e| self.terminal.explain(e))
    }

    /// Lines `start..end` of the file's buffer.
    pub async fn read_lines(&self, path: &str, start: i64, end: i64) -> Result<Vec<String>> {
        check_path(path)?;
        self.nvim().await?.get_lines(path, start, end).await.map_err(|e| self.terminal.explain(e))
    }

    /// Replaces lines `start..end` of the file's buffer with `lines` (an
    /// empty range inserts, empty `lines` deletes). The file on disk changes
    /// only on `write`.
    pub async fn set_lines(
        &self,
        path: &str,
        start: i64,
        end: i64,
        lines: &[String],
    ) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        Self::check_lines(lines)?;
        self.nvim().await?.set_lines(path, start, end, lines).await.map_err(|e| self.terminal.explain(e))
    }

    /// Writes the file's buffer to disk.
    pub async fn write(&self, path: &str) -> Result<crate::nvim::BufferInfo> {
        check_path(path)?;
        self.nvim().await?.write_buffer(path).await.map_err(|e| self.terminal.explain(e))
    }

    /// The visible command log: one `$ command` line per exec and one
    /// `[exit N]` line per exit.
    pub async fn log(&self) -> Result<Vec<String>> {
        self.nvim().await?.log_lines().await.map_err(|e| self.terminal.explain(e))
    }

    /// The Neovim server's socket on this host, for `nvim --remote-ui`.
    pub fn socket(&self) -> Result<Option<String>> {
        let r = self.terminal.record()?;
        Ok(r.runtime.get("socket").and_then(|s| s.as_str()).map(str::to_string))
    }
}
