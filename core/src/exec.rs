//! What an exec asks for and what it gives back.
//!
//! A non-zero exit is a result, not an error. Output is kept as bytes, stdout
//! and stderr apart; output past `max_output` per stream is dropped and
//! `truncated` set. On timeout the whole process group is killed and the
//! output so far is returned with `timed_out` set.

use crate::error::{Error, ErrorKind, Result};
pub use kled_protocol::TtySize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Cap on each of stdout and stderr unless a request says otherwise.
pub const DEFAULT_MAX_OUTPUT: u64 = 16 * 1024 * 1024;

/// A command: a string for the terminal's shell, or an argv run directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

impl From<&str> for Command {
    fn from(s: &str) -> Command {
        Command::Shell(s.to_string())
    }
}

impl From<String> for Command {
    fn from(s: String) -> Command {
        Command::Shell(s)
    }
}

impl From<Vec<String>> for Command {
    fn from(v: Vec<String>) -> Command {
        Command::Argv(v)
    }
}

impl<const N: usize> From<[&str; N]> for Command {
    fn from(v: [&str; N]) -> Command {
        Command::Argv(v.iter().map(|s| s.to_string()).collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    pub command: Command,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// Bytes fed to stdin (then EOF). Without it stdin is empty.
    #[serde(default, with = "opt_bytes")]
    pub stdin: Option<Vec<u8>>,
    #[serde(default, rename = "timeout_secs", with = "opt_secs")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub max_output: Option<u64>,
    /// Run on a pseudo-terminal of this size (`{"rows": 24, "cols": 80}`):
    /// stdout and stderr arrive merged as stdout, with the terminal's line
    /// endings (`\r\n`).
    #[serde(default)]
    pub tty: Option<TtySize>,
    /// Keep stdin open after `stdin` (if any): write more with
    /// `ExecControl::write_stdin`, end it with `close_stdin` (for streams).
    #[serde(default)]
    pub stdin_open: bool,
}

impl ExecRequest {
    pub fn new(command: impl Into<Command>) -> ExecRequest {
        ExecRequest {
            command: command.into(),
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            timeout: None,
            max_output: None,
            tty: None,
            stdin_open: false,
        }
    }

    /// A pseudo-terminal of `rows` x `cols`.
    pub fn tty(mut self, rows: u16, cols: u16) -> Self {
        self.tty = Some(TtySize { rows, cols });
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = Some(bytes);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        match &self.command {
            Command::Shell(s) if s.trim().is_empty() => return Err(Error::invalid("empty command")),
            Command::Argv(v) if v.is_empty() || v[0].is_empty() => return Err(Error::invalid("empty argv")),
            _ => {}
        }
        let nul = |s: &str| s.contains('\0');
        let has_nul = match &self.command {
            Command::Shell(s) => nul(s),
            Command::Argv(v) => v.iter().any(|a| nul(a)),
        } || self.env.iter().any(|(k, v)| nul(k) || nul(v))
            || self.cwd.as_deref().is_some_and(nul);
        if has_nul {
            return Err(Error::invalid("commands, environment and cwd may not contain NUL bytes"));
        }
        if let Some(k) = self.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return Err(Error::invalid(format!("invalid environment variable name {k:?}")));
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::invalid("timeout must be positive"));
        }
        Ok(())
    }
}

/// The longest timeout kled takes, in seconds (about 31 years: longer is a
/// mistake, and past ~1.8e19 a Duration cannot hold it).
pub const MAX_TIMEOUT_SECS: f64 = 1e9;

/// A timeout from a number of seconds, as every front end takes it: positive,
/// finite, at most [`MAX_TIMEOUT_SECS`]. The one place that rule lives.
pub fn timeout_from_secs(secs: f64) -> Result<Duration> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("a timeout must be a positive number of seconds up to {MAX_TIMEOUT_SECS:e}, not {secs}"),
        ))
    }
}

/// How a process ended and what it printed. As JSON, `stdout` and `stderr`
/// are text; when a stream is not valid UTF-8, `stdout_b64`/`stderr_b64`
/// carry its exact bytes as well (the text then has U+FFFD in their place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// None when killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Some output was dropped because it exceeded the cap.
    pub truncated: bool,
    pub duration: Duration,
}

impl Serialize for ExecResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine;
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (key, bytes) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            m.serialize_entry(key, &String::from_utf8_lossy(bytes))?;
            if std::str::from_utf8(bytes).is_err() {
                m.serialize_entry(&format!("{key}_b64"), &base64::engine::general_purpose::STANDARD.encode(bytes))?;
            }
        }
        m.serialize_entry("exit_code", &self.exit_code)?;
        m.serialize_entry("signal", &self.signal)?;
        m.serialize_entry("timed_out", &self.timed_out)?;
        m.serialize_entry("truncated", &self.truncated)?;
        m.serialize_entry("duration_secs", &self.duration.as_secs_f64())?;
        m.end()
    }
}

impl ExecResult {
    /// The collected output and how the process ended.
    pub fn new(stdout: Vec<u8>, stderr: Vec<u8>, status: ExitStatus) -> ExecResult {
        ExecResult {
            stdout,
            stderr,
            exit_code: status.exit_code,
            signal: status.signal,
            timed_out: status.timed_out,
            truncated: status.truncated,
            duration: status.duration,
        }
    }

    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit status as a shell reports it: the code, or 128 + signal.
    pub fn shell_status(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        }
    }

    /// An error unless the command exited 0 within its timeout.
    pub fn check(&self) -> Result<&Self> {
        if self.success() {
            return Ok(self);
        }
        let how = if self.timed_out {
            format!("timed out after {:.1}s", self.duration.as_secs_f64())
        } else if let Some(s) = self.signal {
            format!("was killed by signal {s}")
        } else {
            format!("exited with status {}", self.shell_status())
        };
        let tail: String = self.stderr_str().chars().rev().take(500).collect::<Vec<_>>().into_iter().rev().collect();
        let tail = tail.trim();
        let message = if tail.is_empty() { format!("command {how}") } else { format!("command {how}: {tail}") };
        Err(Error::new(ErrorKind::InvalidState, message))
    }
}

/// One step of a streamed exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(ExitStatus),
}

/// The end of a streamed exec (an `ExecResult` without the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExitStatus {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    #[serde(rename = "duration_secs", with = "secs")]
    pub duration: Duration,
}

impl From<kled_protocol::ExitInfo> for ExitStatus {
    fn from(e: kled_protocol::ExitInfo) -> ExitStatus {
        ExitStatus {
            exit_code: e.code,
            signal: e.signal,
            timed_out: e.timed_out,
            truncated: e.stdout_truncated || e.stderr_truncated,
            duration: Duration::from_micros(e.duration_us),
        }
    }
}

mod secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

pub(crate) mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(f) => super::timeout_from_secs(f)
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("timeout_secs: {}", e.message()))),
        }
    }
}

pub(crate) mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Stdin crosses JSON as a UTF-8 string.
    pub fn serialize<S: Serializer>(d: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(b) => s.serialize_some(&String::from_utf8_lossy(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(String::into_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_forms() {
        let r: ExecRequest =
            serde_json::from_str(r#"{"command":"echo hi","timeout_secs":1.5,"env":{"A":"b"}}"#).unwrap();
        assert_eq!(r.command, Command::Shell("echo hi".into()));
        assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
        let r: ExecRequest = serde_json::from_str(r#"{"command":["ls","-l"]}"#).unwrap();
        assert_eq!(r.command, Command::Argv(vec!["ls".into(), "-l".into()]));
        assert!(serde_json::from_str::<ExecRequest>(r#"{"command":"x","bogus":1}"#).is_err());
        assert!(serde_json::from_str::<ExecRequest>(r#"{"command":"x","timeout_secs":-1}"#).is_err());
    }

    #[test]
    fn json_keeps_bytes_that_are_not_text() {
        let mut r = ExecResult {
            stdout: b"ok\n".to_vec(),
            stderr: vec![0xff, 0xfe, b'x'],
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            truncated: false,
            duration: Duration::from_millis(5),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["stdout"], "ok\n");
        assert!(v.get("stdout_b64").is_none());
        assert_eq!(v["stderr"], "\u{fffd}\u{fffd}x");
        assert_eq!(v["stderr_b64"], "//54");
        r.stderr.clear();
        assert!(serde_json::to_value(&r).unwrap().get("stderr_b64").is_none());
    }

    #[test]
    fn timeouts_have_one_bound() {
        assert_eq!(timeout_from_secs(1.5).unwrap(), Duration::from_millis(1500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e30, 18446744073709551616.0] {
            assert!(timeout_from_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation() {
        assert!(ExecRequest::new("").validate().is_err());
        assert!(ExecRequest::new(Vec::<String>::new()).validate().is_err());
        assert!(ExecRequest::new("a\0b").validate().is_err());
        assert!(ExecRequest::new("x").env("A=B", "c").validate().is_err());
        ExecRequest::new("x").env("A", "c").validate().unwrap();
    }

    #[test]
    fn check_and_status() {
        let mut r = ExecResult {
            stdout: vec![],
            stderr: b"boom".to_vec(),
            exit_code: Some(3),
            signal: None,
            timed_out: false,
            truncated: false,
            duration: Duration::from_millis(5),
        };
        assert_eq!(r.shell_status(), 3);
        assert!(r.check().unwrap_err().message().contains("exited with status 3: boom"));
        r.exit_code = None;
        r.signal = Some(9);
        assert_eq!(r.shell_status(), 137);
        r.exit_code = Some(0);
        r.signal = None;
        assert!(r.check().is_ok());
    }
}
