//! The MCP tools: kled's terminals for models.

use crate::cap::{cap, Capped, HeadTail, MODEL_KEEP};
use kled::librechat::{Client, InputFile};
use kled::{CodeRequest, Error, ErrorKind, ExecEvent, ExecRequest, Manager, Terminal, TerminalInfo};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{schema_for_input, schema_for_output};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::JsonObject;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, ProgressToken, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, Peer, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timeout for exec and run_code when the call gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a running exec reports progress (when the client asked for it).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Output collected per stream by exec. Far above what a model is shown:
/// only the first and last 16 KiB are kept in memory, so a large cap costs
/// nothing but lets the shown tail be the real end of the output.
const EXEC_MAX_OUTPUT: u64 = 1 << 30;

/// How long past its timeout an exec may run before the server stops waiting
/// for the agent (which enforces the timeout itself).
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

const INSTRUCTIONS: &str = "kled gives you named, long-lived terminals: environments in which you run shell \
commands and code. A terminal keeps its files and working directory between calls, and other programs \
(the kled CLI, Python, Node) see the same terminals. Typical flow: list_terminals (or create_terminal \
with kind \"local\"), then exec / run_code / read_file / write_file against it by name. A non-zero exit \
code is a normal result, not a tool error. Output longer than 32 KiB per stream is cut in the middle and \
the cut is stated. providers tells which kinds of terminal work on this machine. code_interpreter_run runs \
code on the Code Interpreter API (LibreChat's, or kled serve codeapi) without any terminal; pass the files \
it returns to the next code_interpreter_run to keep working on them.";

// ---- parameters ----

fn default_kind() -> String {
    "local".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTerminalParams {
    /// Name of the new terminal: 1 to 63 characters from letters, digits, '_', '.' and '-', starting with a
    /// letter or digit. Later calls refer to the terminal by this name.
    pub name: String,
    /// Runtime: "local" (processes on the machine running kled; the default), "container" (a Podman or
    /// Docker container; needs options.image), "gvisor" or "kata" (isolated containers). Call providers to
    /// see which work here.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Runtime options, e.g. {"image": "docker.io/library/python:3.12", "cpus": 1, "memory": 512} for a
    /// container (memory in MiB), or {"env": {"FOO": "bar"}, "workdir": "/abs/dir", "shell": "/bin/bash"}
    /// for a local terminal. Omit for the defaults.
    #[serde(default)]
    pub options: Option<serde_json::Map<String, Value>>,
    /// Start the terminal right away so that it can run commands (default true).
    #[serde(default = "yes")]
    pub start: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameParams {
    /// The terminal's name (list_terminals shows them).
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyParams {}

/// A command: a string for the terminal's shell, or an argv list run directly.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
#[schemars(inline)]
pub enum CommandParam {
    /// A shell command line, e.g. "ls -la | head".
    Shell(String),
    /// A program and its arguments, run without a shell, e.g. ["ls", "-la"].
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for CommandParam {
    /// By hand, for an error that says what a command may be.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let wrong = |v: &Value| {
            D::Error::custom(format!(
                "command must be a string (a shell command line) or a list of strings (a program and its \
                 arguments), not {v}"
            ))
        };
        match Value::deserialize(d)? {
            Value::String(s) => Ok(CommandParam::Shell(s)),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(wrong(&other)),
                })
                .collect::<Result<_, _>>()
                .map(CommandParam::Argv),
            other => Err(wrong(&other)),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecParams {
    /// Name of the terminal to run in.
    pub terminal: String,
    /// A string is run by the terminal's shell (pipes, &&, globs work); a list of strings is a program and
    /// its arguments, run directly.
    pub command: CommandParam,
    /// Kill the command and everything it started after this many seconds (default 300). Output so far is
    /// returned with timed_out true.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Working directory (default: the terminal's own working directory).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables for this command.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// Text fed to the command's standard input (default: empty input).
    #[serde(default)]
    pub stdin: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeParams {
    /// Name of the terminal to run in.
    pub terminal: String,
    /// Language: python (py), javascript (js), typescript (ts), bash, sh, c, cpp, java, php, rust (rs), go,
    /// d, fortran (f90), r. The interpreter or compiler must be installed in the terminal.
    pub lang: String,
    /// The program's source code.
    pub code: String,
    /// Kill the program after this many seconds (default 300).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileParams {
    /// Name of the terminal.
    pub terminal: String,
    /// Path of the file; a relative path is from the terminal's working directory.
    pub path: String,
    /// Start reading at this byte offset (default 0).
    #[serde(default)]
    pub offset: Option<u64>,
    /// Read at most this many bytes from offset (default: to the end). Text longer than 32 KiB is shown as
    /// its first and last 16 KiB; use offset and length to read the middle.
    #[serde(default)]
    pub length: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[schemars(inline)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileParams {
    /// Name of the terminal.
    pub terminal: String,
    /// Path of the file; a relative path is from the terminal's working directory. Missing parent
    /// directories are created; an existing file is replaced atomically.
    pub path: String,
    /// The new content of the whole file.
    pub content: String,
    /// How content is encoded: "utf-8" text (the default) or "base64" for binary data.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Permission bits in octal, e.g. "755" for an executable script (default: the existing file's, else 644).
    #[serde(default)]
    pub mode: Option<String>,
}

/// A file on the Code Interpreter API, as code_interpreter_run returns it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct CodeFile {
    /// The file's id (21 characters).
    pub id: String,
    /// The session that holds the file (21 characters).
    pub session_id: String,
    /// The file's name: the code finds it as /mnt/data/NAME.
    pub name: String,
}

impl From<CodeFile> for InputFile {
    fn from(f: CodeFile) -> InputFile {
        InputFile { id: f.id, session_id: f.session_id, name: f.name }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInterpreterRunParams {
    /// Language: py, js, ts, c, cpp, java, php, rs, go, d, f90, r or bash (long names such as python work
    /// too).
    pub lang: String,
    /// The program's source code. Its working directory is /mnt/data, where the given files are and where
    /// the files it writes are collected.
    pub code: String,
    /// Arguments for the program.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// Files from earlier code_interpreter_run calls (their files, exactly as returned), put in /mnt/data
    /// for this run.
    #[serde(default)]
    pub files: Option<Vec<CodeFile>>,
    /// Run in this session (from an earlier code_interpreter_run): kled's server keeps the session's
    /// sandbox and all its files; other servers start a new session, so pass files too.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Give up after this many seconds, retries included (default: the configured librechat.timeout,
    /// 300).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInterpreterFilesParams {
    /// The session whose files to list: the session_id an earlier code_interpreter_run returned.
    pub session_id: String,
}

// ---- structured results ----

/// A terminal as tools report it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct TerminalView {
    pub name: String,
    /// The runtime (local, container, ...).
    pub kind: String,
    /// created, running, stopped or failed.
    pub state: String,
    /// The options it was created with.
    pub options: Value,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl From<TerminalInfo> for TerminalView {
    fn from(t: TerminalInfo) -> TerminalView {
        TerminalView {
            name: t.name,
            kind: t.kind.to_string(),
            state: t.state.to_string(),
            options: t.options,
            created_at: t.created_at,
            error: t.error,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TerminalOutput {
    pub terminal: TerminalView,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct ProblemView {
    pub name: String,
    pub error: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    pub terminals: Vec<TerminalView>,
    /// Records in the state directory that could not be read.
    pub problems: Vec<ProblemView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RemovedOutput {
    /// Name of the terminal that was removed.
    pub removed: String,
}

/// The outcome of exec or run_code.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecOutput {
    pub terminal: String,
    /// The exit code; null when the command was killed by a signal or timed out.
    pub exit_code: Option<i32>,
    /// The signal that killed the command, if one did.
    pub signal: Option<i32>,
    /// The command ran out of time and was killed with everything it started.
    pub timed_out: bool,
    pub duration_secs: f64,
    #[serde(flatten)]
    pub streams: Streams,
    /// kled stopped collecting output at its per-stream limit, so the end of the output is missing.
    pub output_limit_reached: bool,
}

/// stdout and stderr capped for a model, and how much was cut.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Streams {
    /// Standard output: all of it, or its first and last 16 KiB with a note of the cut in between.
    pub stdout: String,
    /// Standard error, capped the same way.
    pub stderr: String,
    /// Length of the whole standard output in bytes.
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// Bytes of standard output left out of `stdout` (0 when nothing was cut).
    pub stdout_cut_bytes: u64,
    pub stderr_cut_bytes: u64,
}

impl Streams {
    fn of(o: Capped, e: Capped) -> Streams {
        Streams {
            stdout: o.text,
            stderr: e.text,
            stdout_bytes: o.total,
            stderr_bytes: e.total,
            stdout_cut_bytes: o.cut,
            stderr_cut_bytes: e.cut,
        }
    }

    /// Whole outputs, capped.
    fn capped(stdout: &[u8], stderr: &[u8]) -> Streams {
        Streams::of(cap(stdout, MODEL_KEEP, "stdout"), cap(stderr, MODEL_KEEP, "stderr"))
    }

    #[cfg(test)]
    fn plain(stdout: &str, stderr: &str) -> Streams {
        Streams::capped(stdout.as_bytes(), stderr.as_bytes())
    }
}

/// The outcome of code_interpreter_run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CodeInterpreterRunOutput {
    /// The session the code ran in: pass it as session_id to the next code_interpreter_run.
    pub session_id: String,
    /// The exit code, when the service reports it.
    pub exit_code: Option<i32>,
    pub duration_secs: f64,
    #[serde(flatten)]
    pub streams: Streams,
    /// The files the run wrote to /mnt/data: pass them in files of the next code_interpreter_run.
    pub files: Vec<CodeFile>,
}

/// A file of a Code Interpreter session.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct SessionFileView {
    pub id: String,
    pub session_id: String,
    pub name: String,
    /// Size in bytes, when the service says.
    pub size: Option<u64>,
    /// When the file last changed, as the service gives it.
    pub last_modified: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CodeInterpreterFilesOutput {
    pub session_id: String,
    /// The session's files (id, session_id and name can go into files of code_interpreter_run).
    pub files: Vec<SessionFileView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadFileOutput {
    pub terminal: String,
    pub path: String,
    /// The bytes read (see encoding), capped like command output for text.
    pub content: String,
    /// "utf-8" for text, "base64" for binary data.
    pub encoding: Encoding,
    /// Size of the whole file in bytes.
    pub size: u64,
    /// Where the returned part starts.
    pub offset: u64,
    /// Bytes of the requested range left out of `content` (0 when nothing was cut).
    pub cut_bytes: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteFileOutput {
    pub terminal: String,
    pub path: String,
    pub bytes_written: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct ProviderView {
    /// The runtime name to pass to create_terminal as kind.
    pub kind: String,
    /// Terminals of this kind can be created on this machine now.
    pub available: bool,
    pub description: String,
    /// What the runtime needs installed or configured.
    pub needs: String,
    /// Why it is not available, when it is not.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProvidersOutput {
    pub providers: Vec<ProviderView>,
}

/// JSON Schema `format` values that validators know. schemars also emits
/// Rust-specific ones ("uint64", "int32", "double"), which clients such as
/// Ajv warn about on every call: those are dropped.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

fn strip_formats(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str).is_some_and(|f| !STANDARD_FORMATS.contains(&f)) {
                map.remove("format");
            }
            map.values_mut().for_each(strip_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_formats),
        _ => {}
    }
}

fn plain(schema: &JsonObject) -> Arc<JsonObject> {
    let mut v = Value::Object(schema.clone());
    strip_formats(&mut v);
    match v {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("an object stays an object"),
    }
}

/// A tool's input schema, from its parameter type.
fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("invalid input schema for {}: {e}", std::any::type_name::<T>()));
    plain(&schema)
}

/// A tool's output schema, from its result type.
fn output_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    plain(&schema_for_output::<T>())
}

// ---- the server ----

/// The MCP server: one per client connection (cheap to clone; clones share
/// the manager and so its agent connections).
#[derive(Clone)]
pub struct KledMcp {
    manager: Manager,
    tool_router: Arc<ToolRouter<KledMcp>>,
}

impl std::fmt::Debug for KledMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KledMcp").field("manager", &self.manager).finish()
    }
}

fn structured<T: Serialize>(value: &T, text: String) -> CallToolResult {
    let value = serde_json::to_value(value).expect("tool outputs serialize");
    let mut r = CallToolResult::structured(value);
    r.content = vec![ContentBlock::text(text)];
    r
}

/// A tool error: `isError` set and the message as text. No structured
/// content: clients (the TypeScript SDK) check it against the tool's output
/// schema even on errors.
fn tool_error(kind: &str, message: String) -> CallToolResult {
    tracing::debug!(kind, "tool error: {message}");
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// A core error as a tool error, with a hint in the tools' own terms.
fn core_error(e: &Error, terminal: Option<&str>) -> CallToolResult {
    let hint = match (e.kind(), terminal) {
        (ErrorKind::InvalidState, Some(name)) => {
            format!(" Call start_terminal with {{\"name\": {name:?}}} to start it.")
        }
        (ErrorKind::RuntimeUnavailable, _) => " Call providers to see which kinds of terminal work here.".into(),
        (ErrorKind::AlreadyExists, _) => {
            " Pick another name, or use the existing terminal (list_terminals shows it).".into()
        }
        _ => String::new(),
    };
    let message = e.message().trim_end();
    let stop = if hint.is_empty() || message.ends_with(['.', '!', '?']) { "" } else { "." };
    tool_error(e.kind().as_str(), format!("{message}{stop}{hint}"))
}

/// A failed Code Interpreter call as a tool error. The core's message names
/// the request, the server's words and what to check (the base URL or key).
fn code_api_error(e: &Error) -> CallToolResult {
    let hint = match e.kind() {
        ErrorKind::NotFound => {
            " Sessions and their files expire: use a session_id and files that a recent code_interpreter_run \
             returned, or start afresh without them."
        }
        _ => "",
    };
    let message = e.message().trim_end();
    let stop = if hint.is_empty() || message.ends_with(['.', '!', '?']) { "" } else { "." };
    tool_error(e.kind().as_str(), format!("{message}{stop}{hint}"))
}

/// Checks a session or file id before it goes into a request.
fn check_id(what: &str, id: &str) -> Result<(), CallToolResult> {
    if kled::librechat::wire::is_id(id) {
        return Ok(());
    }
    Err(tool_error(
        ErrorKind::InvalidArgument.as_str(),
        format!(
            "{what} {id:?} is not a Code Interpreter id (21 characters of letters, digits, '_' and '-'); use \
             one that code_interpreter_run returned"
        ),
    ))
}

/// Waits for `work`, telling the client "`doing` for Ns" every
/// PROGRESS_EVERY when it asked for progress. None when the client
/// cancelled the call: `work` is dropped then.
async fn await_reporting<F: std::future::Future>(
    ctx: &RequestContext<RoleServer>,
    doing: &str,
    work: F,
) -> Option<F::Output> {
    let reporter = Reporter::new(ctx);
    let started = Instant::now();
    tokio::pin!(work);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.ct.cancelled() => return None,
            _ = tick.tick(), if reporter.wanted() => {
                reporter.report(format!("{doing} for {}s", started.elapsed().as_secs())).await;
            }
            r = &mut work => return Some(r),
        }
    }
}

/// The two streams under headings, or a plain "(no output)".
fn push_streams(text: &mut String, stdout: &str, stderr: &str) {
    for (name, body) in [("stdout", stdout), ("stderr", stderr)] {
        if !body.is_empty() {
            text.push_str(&format!("--- {name} ---\n{body}"));
            if !body.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    if stdout.is_empty() && stderr.is_empty() {
        text.push_str("(no output)\n");
    }
}

fn render_code_run(o: &CodeInterpreterRunOutput) -> String {
    let status = match o.exit_code {
        Some(c) => format!("exit code {c} in {:.3}s", o.duration_secs),
        None => format!("finished in {:.3}s (the service gave no exit code)", o.duration_secs),
    };
    let mut text = format!("{status} (Code Interpreter session {})\n", o.session_id);
    push_streams(&mut text, &o.streams.stdout, &o.streams.stderr);
    if !o.files.is_empty() {
        let names: Vec<&str> = o.files.iter().map(|f| f.name.as_str()).collect();
        text.push_str(&format!(
            "--- files ---\nThe run wrote {} to /mnt/data. To use them in the next code_interpreter_run, pass \
             \"files\": {}\n",
            names.join(", "),
            serde_json::to_string(&o.files).expect("files serialize")
        ));
    }
    text
}

fn timeout(secs: Option<f64>) -> Result<Duration, CallToolResult> {
    match secs {
        None => Ok(DEFAULT_TIMEOUT),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(tool_error(
            ErrorKind::InvalidArgument.as_str(),
            format!("timeout_secs must be a positive number of seconds, not {s}"),
        )),
    }
}

/// Sends progress notifications when the request carried a progress token.
struct Reporter {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    started: Instant,
}

impl Reporter {
    fn new(ctx: &RequestContext<RoleServer>) -> Reporter {
        Reporter { peer: ctx.peer.clone(), token: ctx.meta.get_progress_token(), started: Instant::now() }
    }

    fn wanted(&self) -> bool {
        self.token.is_some()
    }

    async fn report(&self, message: String) {
        if let Some(token) = &self.token {
            // Progress is the elapsed time in seconds: it grows with every report.
            let progress = (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            let param = ProgressNotificationParam::new(token.clone(), progress).with_message(message);
            if let Err(e) = self.peer.notify_progress(param).await {
                tracing::debug!("progress notification not sent: {e}");
            }
        }
    }
}

fn render_exec(o: &ExecOutput) -> String {
    let status = if o.timed_out {
        format!("timed out after {:.1}s and was killed (with everything it started)", o.duration_secs)
    } else if let Some(s) = o.signal {
        format!("killed by signal {s} after {:.3}s", o.duration_secs)
    } else {
        format!("exit code {} in {:.3}s", o.exit_code.map_or("?".to_string(), |c| c.to_string()), o.duration_secs)
    };
    let mut text = format!("{status} (terminal {})\n", o.terminal);
    push_streams(&mut text, &o.streams.stdout, &o.streams.stderr);
    if o.output_limit_reached {
        text.push_str("(kled stopped collecting output at its per-stream limit: the end of the output is missing)\n");
    }
    text
}

fn progress_message(out: &HeadTail, err: &HeadTail, started: Instant) -> String {
    let mut m = format!(
        "running for {}s; {} bytes of stdout, {} of stderr so far",
        started.elapsed().as_secs(),
        out.total(),
        err.total()
    );
    if let Some(line) = out.last_line(120).or_else(|| err.last_line(120)) {
        m.push_str(&format!("; last line: {line}"));
    }
    m
}

#[tool_router]
impl KledMcp {
    pub fn new(manager: Manager) -> KledMcp {
        KledMcp { manager, tool_router: Arc::new(Self::tool_router()) }
    }

    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The terminal, or a tool error that lists the terminals that exist.
    async fn terminal(&self, name: &str) -> Result<Terminal, CallToolResult> {
        match self.manager.get_terminal(name).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(self.unknown_terminal(name).await),
            Err(e) => Err(core_error(&e, None)),
        }
    }

    async fn unknown_terminal(&self, name: &str) -> CallToolResult {
        let known: Vec<String> = match self.manager.list_terminals().await {
            Ok(l) => l.terminals.iter().map(|t| format!("{} ({}, {})", t.name, t.kind, t.state)).collect(),
            Err(_) => Vec::new(),
        };
        let message = if known.is_empty() {
            format!(
                "No terminal named {name:?}: no terminals exist yet. Create one with create_terminal, e.g. \
                 {{\"name\": {name:?}, \"kind\": \"local\"}}."
            )
        } else {
            format!(
                "No terminal named {name:?}. The terminals that exist are: {}. Use one of these names, or create \
                 {name:?} with create_terminal.",
                known.join(", ")
            )
        };
        tool_error(ErrorKind::NotFound.as_str(), message)
    }

    async fn view(&self, t: &Terminal) -> Result<TerminalView, CallToolResult> {
        t.info().await.map(TerminalView::from).map_err(|e| core_error(&e, Some(t.name())))
    }

    #[tool(
        description = "Create a terminal: a named environment that keeps its files between calls, in which exec, \
                       run_code, read_file and write_file run. It is started too unless start is false. Use kind \
                       \"local\" unless the user wants a container or an isolated sandbox.",
        output_schema = output_schema::<TerminalOutput>(),
        input_schema = input_schema::<CreateTerminalParams>()
    )]
    async fn create_terminal(&self, Parameters(p): Parameters<CreateTerminalParams>) -> CallToolResult {
        let options = p.options.map(Value::Object).unwrap_or_else(|| json!({}));
        let t = match self.manager.create_terminal(&p.kind, &p.name, options).await {
            Ok(t) => t,
            Err(e) => return core_error(&e, None),
        };
        if p.start {
            if let Err(e) = t.start().await {
                return tool_error(
                    e.kind().as_str(),
                    format!(
                        "Created terminal {:?} but could not start it: {}. Fix the cause and call start_terminal, \
                         or remove it with remove_terminal.",
                        p.name,
                        e.message()
                    ),
                );
            }
        }
        let view = match self.view(&t).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let text = format!(
            "Created {} terminal {:?}; it is {}.",
            view.kind,
            view.name,
            if p.start { "running" } else { "created but not started (call start_terminal)" }
        );
        structured(&TerminalOutput { terminal: view }, text)
    }

    #[tool(
        description = "List every terminal with its kind (runtime), state (created, running, stopped, failed) and \
                       options.",
        output_schema = output_schema::<ListOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<EmptyParams>()
    )]
    async fn list_terminals(&self, Parameters(_): Parameters<EmptyParams>) -> CallToolResult {
        let listing = match self.manager.list_terminals().await {
            Ok(l) => l,
            Err(e) => return core_error(&e, None),
        };
        let mut text = if listing.terminals.is_empty() {
            "No terminals. Create one with create_terminal.\n".to_string()
        } else {
            listing
                .terminals
                .iter()
                .map(|t| {
                    let why = t.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                    format!("{}: {} terminal, {}{why}\n", t.name, t.kind, t.state)
                })
                .collect()
        };
        for p in &listing.problems {
            text.push_str(&format!("unreadable record {}: {}\n", p.name, p.error));
        }
        let out = ListOutput {
            terminals: listing.terminals.into_iter().map(TerminalView::from).collect(),
            problems: listing
                .problems
                .into_iter()
                .map(|p| ProblemView { name: p.name.to_string(), error: p.error.to_string() })
                .collect(),
        };
        structured(&out, text)
    }

    #[tool(
        description = "Start a terminal so that it can run commands. Does nothing if it is already running.",
        output_schema = output_schema::<TerminalOutput>(),
        annotations(idempotent_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn start_terminal(&self, Parameters(p): Parameters<NameParams>) -> CallToolResult {
        let t = match self.terminal(&p.name).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        if let Err(e) = t.start().await {
            return core_error(&e, Some(&p.name));
        }
        match self.view(&t).await {
            Ok(v) => structured(&TerminalOutput { terminal: v }, format!("Terminal {:?} is running.", p.name)),
            Err(r) => r,
        }
    }

    #[tool(
        description = "Stop a terminal: everything running in it is killed; its files are kept and start_terminal \
                       resumes it. Does nothing if it is already stopped.",
        output_schema = output_schema::<TerminalOutput>(),
        annotations(idempotent_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn stop_terminal(&self, Parameters(p): Parameters<NameParams>) -> CallToolResult {
        let t = match self.terminal(&p.name).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        if let Err(e) = t.stop().await {
            return core_error(&e, Some(&p.name));
        }
        match self.view(&t).await {
            Ok(v) => structured(&TerminalOutput { terminal: v }, format!("Terminal {:?} is stopped.", p.name)),
            Err(r) => r,
        }
    }

    #[tool(
        description = "Remove a terminal: stop it and delete it and its files. This cannot be undone.",
        output_schema = output_schema::<RemovedOutput>(),
        annotations(destructive_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn remove_terminal(&self, Parameters(p): Parameters<NameParams>) -> CallToolResult {
        let t = match self.terminal(&p.name).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        if let Err(e) = t.remove().await {
            return core_error(&e, Some(&p.name));
        }
        structured(&RemovedOutput { removed: p.name.clone() }, format!("Removed terminal {:?}.", p.name))
    }

    #[tool(
        description = "Run a command in a terminal and return its stdout, stderr and exit code. A non-zero exit \
                       code is a normal result. Each stream is shown in full up to 32 KiB, else its first and last \
                       16 KiB with the cut stated. Long commands report progress; cancelling the call kills the \
                       command and everything it started.",
        output_schema = output_schema::<ExecOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<ExecParams>()
    )]
    async fn exec(&self, Parameters(p): Parameters<ExecParams>, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let timeout = match timeout(p.timeout_secs) {
            Ok(t) => t,
            Err(r) => return r,
        };
        let t = match self.terminal(&p.terminal).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        let mut req = ExecRequest::new(match p.command {
            CommandParam::Shell(s) => kled::Command::Shell(s),
            CommandParam::Argv(v) => kled::Command::Argv(v),
        })
        .timeout(timeout)
        .max_output(EXEC_MAX_OUTPUT);
        req.cwd = p.cwd;
        req.env = p.env.unwrap_or_default();
        req.stdin = p.stdin.map(String::into_bytes);
        let mut stream = match t.exec_stream(req).await {
            Ok(s) => s,
            Err(e) => return core_error(&e, Some(&p.terminal)),
        };
        let reporter = Reporter::new(&ctx);
        let started = Instant::now();
        let (mut out, mut err) = (HeadTail::new(MODEL_KEEP), HeadTail::new(MODEL_KEEP));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watchdog = tokio::time::sleep(timeout + WATCHDOG_GRACE);
        tokio::pin!(watchdog);
        let status = loop {
            tokio::select! {
                _ = ctx.ct.cancelled() => {
                    // Dropping the stream kills the command's process group.
                    drop(stream);
                    tracing::info!(terminal = %p.terminal, "exec cancelled by the client");
                    return tool_error("cancelled", "The call was cancelled; the command was killed.".into());
                }
                _ = tick.tick(), if reporter.wanted() => {
                    reporter.report(progress_message(&out, &err, started)).await;
                }
                _ = &mut watchdog => {
                    let _ = stream.signal(libc::SIGKILL);
                    break kled::ExitStatus {
                        exit_code: None,
                        signal: None,
                        timed_out: true,
                        truncated: false,
                        duration: started.elapsed(),
                    };
                }
                ev = stream.next() => match ev {
                    Some(Ok(ExecEvent::Stdout(b))) => out.push(&b),
                    Some(Ok(ExecEvent::Stderr(b))) => err.push(&b),
                    Some(Ok(ExecEvent::Exit(st))) => break st,
                    Some(Err(e)) => return core_error(&e, Some(&p.terminal)),
                    None => return tool_error(ErrorKind::Agent.as_str(), "The command ended without an exit status.".into()),
                }
            }
        };
        let output = ExecOutput {
            terminal: p.terminal,
            exit_code: status.exit_code,
            signal: status.signal,
            timed_out: status.timed_out,
            duration_secs: status.duration.as_secs_f64(),
            streams: Streams::of(out.finish("stdout"), err.finish("stderr")),
            output_limit_reached: status.truncated,
        };
        let text = render_exec(&output);
        structured(&output, text)
    }

    #[tool(
        description = "Run a code snippet with the language's interpreter or compiler inside a terminal and return \
                       stdout, stderr and exit code (capped like exec). The toolchain must be installed in the \
                       terminal. Cancelling the call kills the program.",
        output_schema = output_schema::<ExecOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<RunCodeParams>()
    )]
    async fn run_code(
        &self,
        Parameters(p): Parameters<RunCodeParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let timeout = match timeout(p.timeout_secs) {
            Ok(t) => t,
            Err(r) => return r,
        };
        let t = match self.terminal(&p.terminal).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        let mut req = CodeRequest::new(p.lang, p.code);
        req.timeout = Some(timeout);
        // Dropping the run on cancellation drops its exec, which kills the program.
        let Some(result) = await_reporting(&ctx, "running", t.run_code_with(req)).await else {
            tracing::info!(terminal = %p.terminal, "run_code cancelled by the client");
            return tool_error("cancelled", "The call was cancelled; the program was killed.".into());
        };
        let r = match result {
            Ok(r) => r,
            Err(e) => return core_error(&e, Some(&p.terminal)),
        };
        let output = ExecOutput {
            terminal: p.terminal,
            exit_code: r.exit_code,
            signal: r.signal,
            timed_out: r.timed_out,
            duration_secs: r.duration.as_secs_f64(),
            streams: Streams::capped(&r.stdout, &r.stderr),
            output_limit_reached: r.truncated,
        };
        let text = render_exec(&output);
        structured(&output, text)
    }

    #[tool(
        description = "Run code on the Code Interpreter API (LibreChat's, or kled serve codeapi; configured with \
                       LIBRECHAT_CODE_BASEURL and LIBRECHAT_CODE_API_KEY), in the service's sandbox: no \
                       terminal is needed. Returns stdout, stderr (capped like exec), the exit code when the \
                       service reports it, the session_id, and the files the code wrote to /mnt/data. Files \
                       persist only by passing them on: give the returned files (and session_id) to the next \
                       call to keep working on them.",
        output_schema = output_schema::<CodeInterpreterRunOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<CodeInterpreterRunParams>()
    )]
    async fn code_interpreter_run(
        &self,
        Parameters(p): Parameters<CodeInterpreterRunParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let deadline = match p.timeout_secs {
            None => None,
            Some(s) => match timeout(Some(s)) {
                Ok(t) => Some(t),
                Err(r) => return r,
            },
        };
        if let Some(s) = &p.session_id {
            if let Err(r) = check_id("session_id", s) {
                return r;
            }
        }
        let files = p.files.unwrap_or_default();
        for f in &files {
            if let Err(r) = check_id("file id", &f.id).and_then(|_| check_id("file session_id", &f.session_id)) {
                return r;
            }
        }
        let client = match Client::from_config(&self.manager.config().librechat) {
            Ok(c) => c,
            Err(e) => return code_api_error(&e),
        };
        let mut req = CodeRequest::new(p.lang, p.code);
        req.args = p.args.unwrap_or_default();
        req.timeout = deadline;
        let run = client.run_code(&req, files.into_iter().map(InputFile::from).collect(), p.session_id);
        let Some(result) = await_reporting(&ctx, "waiting for the Code Interpreter", run).await else {
            tracing::info!("code_interpreter_run cancelled by the client");
            return tool_error(
                "cancelled",
                "The call was cancelled; kled stopped waiting (the service may still finish the run).".into(),
            );
        };
        let run = match result {
            Ok(r) => r,
            Err(e) => return code_api_error(&e),
        };
        let r = &run.result;
        let output = CodeInterpreterRunOutput {
            session_id: run.output.session_id.clone(),
            exit_code: r.exit_code,
            duration_secs: r.duration.as_secs_f64(),
            streams: Streams::capped(&r.stdout, &r.stderr),
            files: run
                .output
                .inputs()
                .into_iter()
                .map(|f| CodeFile { id: f.id, session_id: f.session_id, name: f.name })
                .collect(),
        };
        let text = render_code_run(&output);
        structured(&output, text)
    }

    #[tool(
        description = "List the files of a Code Interpreter session (the session_id a code_interpreter_run \
                       returned): id, name, size. Their id, session_id and name can go into files of \
                       code_interpreter_run.",
        output_schema = output_schema::<CodeInterpreterFilesOutput>(),
        annotations(read_only_hint = true, open_world_hint = true),
        input_schema = input_schema::<CodeInterpreterFilesParams>()
    )]
    async fn code_interpreter_files(&self, Parameters(p): Parameters<CodeInterpreterFilesParams>) -> CallToolResult {
        if let Err(r) = check_id("session_id", &p.session_id) {
            return r;
        }
        let client = match Client::from_config(&self.manager.config().librechat) {
            Ok(c) => c,
            Err(e) => return code_api_error(&e),
        };
        let listed = match client.list_files(&p.session_id, true).await {
            Ok(l) => l,
            Err(e) => return code_api_error(&Error::from(e)),
        };
        let files: Vec<SessionFileView> = listed
            .iter()
            .map(|f| SessionFileView {
                id: f.file_id().to_string(),
                session_id: f.session_id.clone().unwrap_or_else(|| p.session_id.clone()),
                name: f.filename().to_string(),
                size: f.size,
                last_modified: f.last_modified.clone(),
            })
            .collect();
        let mut text = if files.is_empty() {
            format!("Session {} has no files.\n", p.session_id)
        } else {
            format!("Session {} has {} file(s):\n", p.session_id, files.len())
        };
        for f in &files {
            let size = f.size.map(|s| format!(", {s} bytes")).unwrap_or_default();
            text.push_str(&format!("- {} (id {}{size})\n", f.name, f.id));
        }
        structured(&CodeInterpreterFilesOutput { session_id: p.session_id, files }, text)
    }

    #[tool(
        description = "Read a file in a terminal. Text comes back as UTF-8 (in full up to 32 KiB, else its first \
                       and last 16 KiB with the cut stated; use offset and length to read any part), binary data \
                       as base64 (at most 32 KiB per call).",
        output_schema = output_schema::<ReadFileOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<ReadFileParams>()
    )]
    async fn read_file(&self, Parameters(p): Parameters<ReadFileParams>) -> CallToolResult {
        let t = match self.terminal(&p.terminal).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        let data = match t.read_file(&p.path).await {
            Ok(d) => d,
            Err(e) => return core_error(&e, Some(&p.terminal)),
        };
        let size = data.len() as u64;
        let offset = p.offset.unwrap_or(0).min(size);
        let end = p.length.map_or(size, |l| offset.saturating_add(l).min(size));
        let window = &data[offset as usize..end as usize];
        let (content, encoding, cut) = match std::str::from_utf8(window) {
            Ok(_) => {
                let c = cap(window, MODEL_KEEP, "the file");
                (c.text, Encoding::Utf8, c.cut)
            }
            Err(_) => {
                let shown = &window[..window.len().min(2 * MODEL_KEEP)];
                (base64_encode(shown), Encoding::Base64, (window.len() - shown.len()) as u64)
            }
        };
        let mut text = match encoding {
            Encoding::Utf8 => format!("{} ({size} bytes", p.path),
            Encoding::Base64 => format!("{} ({size} bytes of binary data, shown as base64", p.path),
        };
        if offset > 0 || end < size {
            text.push_str(&format!("; bytes {offset}..{end}"));
        }
        text.push_str("):\n");
        text.push_str(&content);
        if encoding == Encoding::Base64 && cut > 0 {
            text.push_str(&format!(
                "\n[kled left out the {cut} bytes after the first {}; read them with offset {}]",
                window.len() as u64 - cut,
                offset + window.len() as u64 - cut
            ));
        }
        let out =
            ReadFileOutput { terminal: p.terminal, path: p.path, content, encoding, size, offset, cut_bytes: cut };
        structured(&out, text)
    }

    #[tool(
        description = "Write a whole file in a terminal (created or replaced atomically; parent directories are \
                       created). Content is UTF-8 text, or base64 with encoding \"base64\".",
        output_schema = output_schema::<WriteFileOutput>(),
        input_schema = input_schema::<WriteFileParams>()
    )]
    async fn write_file(&self, Parameters(p): Parameters<WriteFileParams>) -> CallToolResult {
        let data = match p.encoding.unwrap_or(Encoding::Utf8) {
            Encoding::Utf8 => p.content.into_bytes(),
            Encoding::Base64 => match base64_decode(&p.content) {
                Ok(d) => d,
                Err(why) => {
                    return tool_error(
                        ErrorKind::InvalidArgument.as_str(),
                        format!("content is not valid base64: {why}"),
                    )
                }
            },
        };
        let mode = match p.mode.as_deref().map(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8)) {
            None => None,
            Some(Ok(m)) if m <= 0o7777 => Some(m),
            Some(_) => {
                return tool_error(
                    ErrorKind::InvalidArgument.as_str(),
                    format!(
                        "mode must be octal permission bits such as \"644\" or \"755\", not {:?}",
                        p.mode.unwrap_or_default()
                    ),
                )
            }
        };
        let t = match self.terminal(&p.terminal).await {
            Ok(t) => t,
            Err(r) => return r,
        };
        if let Err(e) = t.write_file(&p.path, &data, mode).await {
            return core_error(&e, Some(&p.terminal));
        }
        let text = format!("Wrote {} bytes to {} in terminal {}.", data.len(), p.path, p.terminal);
        structured(&WriteFileOutput { terminal: p.terminal, path: p.path, bytes_written: data.len() as u64 }, text)
    }

    #[tool(
        description = "Every kind of terminal (runtime) kled knows, whether it works on this machine, and what it \
                       needs. Use an available kind with create_terminal.",
        output_schema = output_schema::<ProvidersOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<EmptyParams>()
    )]
    async fn providers(&self, Parameters(_): Parameters<EmptyParams>) -> CallToolResult {
        let providers: Vec<ProviderView> = self
            .manager
            .providers()
            .into_iter()
            .map(|p| ProviderView {
                kind: p.kind.to_string(),
                available: p.available,
                description: p.description.to_string(),
                needs: p.needs.to_string(),
                reason: p.reason,
            })
            .collect();
        let text: String = providers
            .iter()
            .map(|p| match (&p.available, &p.reason) {
                (true, _) => format!("{}: available — {}\n", p.kind, p.description),
                (false, Some(r)) => format!("{}: unavailable ({r}) — needs {}\n", p.kind, p.needs),
                (false, None) => format!("{}: unavailable — needs {}\n", p.kind, p.needs),
            })
            .collect();
        structured(&ProvidersOutput { providers }, text)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for KledMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("kled", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128, 7]] {
            let e = base64_encode(data);
            assert_eq!(base64_decode(&e).unwrap(), data, "{e}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("Zm8").is_err());
        assert!(base64_decode("Z=m8").is_err());
        assert!(base64_decode("Zm*=").is_err());
    }

    #[test]
    fn every_tool_has_an_object_input_schema_and_a_description() {
        let router = KledMcp::tool_router();
        let tools = router.list_all();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "code_interpreter_files",
                "code_interpreter_run",
                "create_terminal",
                "exec",
                "list_terminals",
                "providers",
                "read_file",
                "remove_terminal",
                "run_code",
                "start_terminal",
                "stop_terminal",
                "write_file"
            ]
        );
        for t in &tools {
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")), "{}", t.name);
            assert!(t.description.as_deref().is_some_and(|d| d.len() > 40), "{}", t.name);
            assert!(t.output_schema.is_some(), "{}", t.name);
            // Plain schemas: some clients do not follow $ref.
            let all = format!("{:?}{:?}", t.input_schema, t.output_schema);
            assert!(!all.contains("$ref"), "{}: {all}", t.name);
            assert!(!all.contains("uint") && !all.contains("int32") && !all.contains("double"), "{}: {all}", t.name);
        }
    }

    fn text_of(r: &CallToolResult) -> String {
        r.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
    }

    /// A server whose Code Interpreter is `base_url`, on a throwaway state dir.
    fn server_with_code_api(base_url: &str) -> (KledMcp, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "kled-mcp-unit-{}-{}",
            std::process::id(),
            kled::librechat::wire::new_id()
        ));
        let mut config = kled::Config::default();
        config.librechat.base_url = base_url.into();
        (KledMcp::new(Manager::new(Some(dir.clone()), config).unwrap()), dir)
    }

    #[tokio::test]
    async fn code_interpreter_errors_say_what_to_check() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (server, dir) = server_with_code_api(&format!("http://127.0.0.1:{port}/v1"));
        let sid = "A".repeat(21);
        let r = server.code_interpreter_files(Parameters(CodeInterpreterFilesParams { session_id: sid.clone() })).await;
        assert_eq!(r.is_error, Some(true));
        let t = text_of(&r);
        assert!(t.contains("LIBRECHAT_CODE_BASEURL") && t.contains(&format!("127.0.0.1:{port}")), "{t}");
        assert!(r.structured_content.is_none());

        let r =
            server.code_interpreter_files(Parameters(CodeInterpreterFilesParams { session_id: "../etc".into() })).await;
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains("is not a Code Interpreter id"), "{}", text_of(&r));
        std::fs::remove_dir_all(&dir).ok();

        let (server, dir) = server_with_code_api("not a url");
        let r = server.code_interpreter_files(Parameters(CodeInterpreterFilesParams { session_id: sid })).await;
        assert!(
            text_of(&r).contains("is not a URL") && text_of(&r).contains("LIBRECHAT_CODE_BASEURL"),
            "{}",
            text_of(&r)
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("session_id", &"a_B-9".repeat(4).chars().chain("x".chars()).collect::<String>()).is_ok());
        for bad in ["", "short", "../../../etc/passwd..", &"A".repeat(22)] {
            let r = check_id("session_id", bad).unwrap_err();
            assert!(text_of(&r).contains("code_interpreter_run returned"), "{}", text_of(&r));
        }
    }

    #[test]
    fn code_run_render_shows_files_to_pass_on() {
        let file = CodeFile { id: "F".repeat(21), session_id: "S".repeat(21), name: "out.csv".into() };
        let mut o = CodeInterpreterRunOutput {
            session_id: "S".repeat(21),
            exit_code: Some(0),
            duration_secs: 0.25,
            streams: Streams::plain("6\n", ""),
            files: vec![file],
        };
        let t = render_code_run(&o);
        assert!(
            t.starts_with(&format!(
                "exit code 0 in 0.250s (Code Interpreter session {})\n--- stdout ---\n6\n",
                "S".repeat(21)
            )),
            "{t}"
        );
        assert!(
            t.contains(&format!(
                r#""files": [{{"id":"{}","session_id":"{}","name":"out.csv"}}]"#,
                "F".repeat(21),
                "S".repeat(21)
            )),
            "{t}"
        );
        o.exit_code = None;
        o.files.clear();
        o.streams.stdout.clear();
        let t = render_code_run(&o);
        assert!(t.contains("gave no exit code") && t.ends_with("(no output)\n") && !t.contains("files"), "{t}");
    }

    #[test]
    fn render_says_what_happened() {
        let mut o = ExecOutput {
            terminal: "dev".into(),
            exit_code: Some(3),
            signal: None,
            timed_out: false,
            duration_secs: 0.5,
            streams: Streams::plain("out", ""),
            output_limit_reached: false,
        };
        assert_eq!(render_exec(&o), "exit code 3 in 0.500s (terminal dev)\n--- stdout ---\nout\n");
        o.timed_out = true;
        o.exit_code = None;
        o.streams.stdout.clear();
        assert!(render_exec(&o).starts_with("timed out after 0.5s and was killed"));
        assert!(render_exec(&o).ends_with("(no output)\n"));
    }
}
