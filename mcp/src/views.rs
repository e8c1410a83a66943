//! What each tool returns as structured content. rmcp derives the tools'
//! output schemas from these types, and clients validate results against
//! them, so a field here is part of the public tool surface: rename nothing.

use crate::cap::{cap, Capped, MODEL_KEEP};
use crate::params::{CodeFile, Encoding};
use kled::TerminalInfo;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

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

impl ExecOutput {
    /// exec and run_code report the same way, whichever path collected the output.
    pub(crate) fn new(terminal: String, status: &kled::ExitStatus, streams: Streams) -> ExecOutput {
        ExecOutput {
            terminal,
            exit_code: status.exit_code,
            signal: status.signal,
            timed_out: status.timed_out,
            duration_secs: status.duration.as_secs_f64(),
            streams,
            output_limit_reached: status.truncated,
        }
    }
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
    pub(crate) fn of(o: Capped, e: Capped) -> Streams {
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
    pub(crate) fn capped(stdout: &[u8], stderr: &[u8]) -> Streams {
        Streams::of(cap(stdout, MODEL_KEEP, "stdout"), cap(stderr, MODEL_KEEP, "stderr"))
    }

    #[cfg(test)]
    pub(crate) fn plain(stdout: &str, stderr: &str) -> Streams {
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
