//! What each tool takes: one type per tool's arguments. rmcp derives the tool's
//! input schema from these (see schema.rs), so each field's doc comment is what
//! the model reads about it: the comments here are written for models.

use crate::errors::tool_error;
use kled::librechat::InputFile;
use kled::ErrorKind;
use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Timeout for exec and run_code when the call gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

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

impl From<CommandParam> for kled::Command {
    fn from(c: CommandParam) -> kled::Command {
        match c {
            CommandParam::Shell(s) => kled::Command::Shell(s),
            CommandParam::Argv(v) => kled::Command::Argv(v),
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

// How file content travels: read_file says which it used, write_file is told.
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

// The same type in and out, so a model can pass the returned files on as they are.
// (Doc comments on these types are schema descriptions that clients see.)
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

impl From<InputFile> for CodeFile {
    fn from(f: InputFile) -> CodeFile {
        CodeFile { id: f.id, session_id: f.session_id, name: f.name }
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

/// `timeout_secs` as a duration: DEFAULT_TIMEOUT when absent, a tool error
/// when it is not a usable number of seconds.
pub(crate) fn timeout(secs: Option<f64>) -> Result<Duration, CallToolResult> {
    match secs {
        None => Ok(DEFAULT_TIMEOUT),
        // The core's one rule for timeouts, in the tool's own words.
        Some(s) => kled::timeout_from_secs(s)
            .map_err(|e| tool_error(ErrorKind::InvalidArgument.as_str(), format!("timeout_secs: {}", e.message()))),
    }
}
