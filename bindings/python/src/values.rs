//! The value classes: ExecResult, ExecEvent, TerminalInfo, Provider, DirEntry.

use crate::convert::from_json;
use crate::errors::{error_class, ToPy};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::time::Duration;

fn lossy<'py>(py: Python<'py>, cache: &PyOnceLock<Py<PyString>>, bytes: &Py<PyBytes>) -> Bound<'py, PyString> {
    cache.get_or_init(py, || PyString::new(py, &String::from_utf8_lossy(bytes.as_bytes(py))).unbind()).bind(py).clone()
}

/// Shortens text for a repr.
fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push_str("...");
    }
    out
}

/// Python's repr of a str.
fn pyrepr(py: Python<'_>, s: &str) -> String {
    PyString::new(py, s).repr().map(|r| r.to_string()).unwrap_or_else(|_| format!("{s:?}"))
}

/// How a command ended and what it printed.
///
/// A non-zero exit is a result, not an error: use `check()` (or `ok`) to
/// turn failure into an exception. `stdout` / `stderr` are the output
/// decoded as UTF-8 (bad bytes replaced with U+FFFD); `stdout_bytes` /
/// `stderr_bytes` are the exact bytes.
#[pyclass(module = "kled", name = "ExecResult", frozen)]
pub struct PyExecResult {
    stdout: Py<PyBytes>,
    stderr: Py<PyBytes>,
    stdout_text: PyOnceLock<Py<PyString>>,
    stderr_text: PyOnceLock<Py<PyString>>,
    /// The exit code; None when the command was killed by a signal.
    #[pyo3(get)]
    exit_code: Option<i32>,
    /// The signal that killed the command, if one did.
    #[pyo3(get)]
    signal: Option<i32>,
    /// The timeout passed and the command's process group was killed.
    #[pyo3(get)]
    timed_out: bool,
    /// Output beyond the cap (max_output, 16 MiB per stream by default) was dropped.
    #[pyo3(get)]
    truncated: bool,
    /// How long the command ran, in seconds.
    #[pyo3(get)]
    duration: f64,
}

impl PyExecResult {
    pub fn from_core(py: Python<'_>, r: kled::ExecResult) -> PyExecResult {
        PyExecResult {
            stdout: PyBytes::new(py, &r.stdout).unbind(),
            stderr: PyBytes::new(py, &r.stderr).unbind(),
            stdout_text: PyOnceLock::new(),
            stderr_text: PyOnceLock::new(),
            exit_code: r.exit_code,
            signal: r.signal,
            timed_out: r.timed_out,
            truncated: r.truncated,
            duration: r.duration.as_secs_f64(),
        }
    }

    fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

#[pymethods]
impl PyExecResult {
    #[new]
    #[pyo3(signature = (stdout=None, stderr=None, exit_code=None, signal=None, timed_out=false, truncated=false, duration=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        stdout: Option<&Bound<'_, PyAny>>,
        stderr: Option<&Bound<'_, PyAny>>,
        exit_code: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        truncated: bool,
        duration: f64,
    ) -> PyResult<PyExecResult> {
        let bytes = |o: Option<&Bound<'_, PyAny>>, what: &str| -> PyResult<Py<PyBytes>> {
            Ok(match o {
                None => PyBytes::new(py, b"").unbind(),
                Some(o) => PyBytes::new(py, &crate::convert::data(o, what)?).unbind(),
            })
        };
        Ok(PyExecResult {
            stdout: bytes(stdout, "stdout")?,
            stderr: bytes(stderr, "stderr")?,
            stdout_text: PyOnceLock::new(),
            stderr_text: PyOnceLock::new(),
            exit_code,
            signal,
            timed_out,
            truncated,
            duration,
        })
    }

    /// stdout decoded as UTF-8, bad bytes replaced with U+FFFD.
    #[getter]
    fn stdout<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        lossy(py, &self.stdout_text, &self.stdout)
    }

    /// stderr decoded as UTF-8, bad bytes replaced with U+FFFD.
    #[getter]
    fn stderr<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        lossy(py, &self.stderr_text, &self.stderr)
    }

    /// stdout exactly as the command wrote it.
    #[getter]
    fn stdout_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.stdout.bind(py).clone()
    }

    /// stderr exactly as the command wrote it.
    #[getter]
    fn stderr_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.stderr.bind(py).clone()
    }

    /// True when the command exited 0 within its timeout.
    #[getter]
    fn ok(&self) -> bool {
        self.success()
    }

    /// Returns this result if the command exited 0 within its timeout, else
    /// raises `kled.CommandError` (with this result as `.result`).
    fn check(slf: &Bound<'_, Self>) -> PyResult<Py<PyExecResult>> {
        let py = slf.py();
        let me = slf.get();
        if me.success() {
            return Ok(slf.clone().unbind());
        }
        // The core words the failure.
        let core = kled::ExecResult {
            stdout: Vec::new(),
            stderr: me.stderr.as_bytes(py).to_vec(),
            exit_code: me.exit_code,
            signal: me.signal,
            timed_out: me.timed_out,
            truncated: me.truncated,
            duration: Duration::from_secs_f64(me.duration.max(0.0)),
        };
        let message = match core.check() {
            Ok(_) => "command failed".to_string(),
            Err(e) => e.message().to_string(),
        };
        let class = error_class(py, "CommandError")?;
        Err(PyErr::from_type(class, (message, slf.clone().unbind())))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let me = slf.get();
        let args = (
            me.stdout.bind(py).clone(),
            me.stderr.bind(py).clone(),
            me.exit_code,
            me.signal,
            me.timed_out,
            me.truncated,
            me.duration,
        )
            .into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        let Ok(other) = other.cast::<PyExecResult>() else { return false };
        let o = other.get();
        self.exit_code == o.exit_code
            && self.signal == o.signal
            && self.timed_out == o.timed_out
            && self.truncated == o.truncated
            && self.duration == o.duration
            && self.stdout.as_bytes(py) == o.stdout.as_bytes(py)
            && self.stderr.as_bytes(py) == o.stderr.as_bytes(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let opt = |v: Option<i32>| v.map_or("None".to_string(), |v| v.to_string());
        format!(
            "ExecResult(exit_code={}, signal={}, timed_out={}, truncated={}, duration={:.6}, stdout={}, stderr={})",
            opt(self.exit_code),
            opt(self.signal),
            py_bool(self.timed_out),
            py_bool(self.truncated),
            self.duration,
            pyrepr(py, &preview(self.stdout.as_bytes(py))),
            pyrepr(py, &preview(self.stderr.as_bytes(py))),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

impl ToPy for kled::ExecResult {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyExecResult::from_core(py, self))?.into_any())
    }
}

/// One step of a streamed exec: a chunk of stdout or stderr, or the exit.
///
/// `kind` is "stdout", "stderr" or "exit". For output, `data` holds the
/// bytes (and `text` the same decoded as UTF-8); for the exit, `data` is
/// empty and `exit_code`, `signal`, `timed_out`, `truncated` and `duration`
/// say how the command ended (they are None / False on output events).
#[pyclass(module = "kled", name = "ExecEvent", frozen)]
pub struct PyExecEvent {
    /// "stdout", "stderr" or "exit".
    #[pyo3(get)]
    kind: &'static str,
    data: Py<PyBytes>,
    exit: Option<kled::ExitStatus>,
}

#[pymethods]
impl PyExecEvent {
    /// The bytes of an output chunk (b"" for the exit).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.data.bind(py).clone()
    }

    /// `data` decoded as UTF-8, bad bytes replaced. A multi-byte character
    /// may be split across two chunks: decode `data` incrementally (see
    /// codecs.getincrementaldecoder) when that matters.
    #[getter]
    fn text(&self, py: Python<'_>) -> String {
        String::from_utf8_lossy(self.data.as_bytes(py)).into_owned()
    }

    /// The exit code (exit events), None otherwise or when killed by a signal.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        self.exit.and_then(|e| e.exit_code)
    }

    /// The signal that killed the command (exit events).
    #[getter]
    fn signal(&self) -> Option<i32> {
        self.exit.and_then(|e| e.signal)
    }

    /// The command was killed by its timeout (exit events).
    #[getter]
    fn timed_out(&self) -> bool {
        self.exit.is_some_and(|e| e.timed_out)
    }

    /// Output beyond the cap was dropped (exit events).
    #[getter]
    fn truncated(&self) -> bool {
        self.exit.is_some_and(|e| e.truncated)
    }

    /// Seconds the command ran (exit events), else None.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.exit.map(|e| e.duration.as_secs_f64())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match &self.exit {
            None => format!("ExecEvent(kind='{}', text={})", self.kind, pyrepr(py, &preview(self.data.as_bytes(py)))),
            Some(e) => format!(
                "ExecEvent(kind='exit', exit_code={}, signal={}, timed_out={}, truncated={}, duration={:.6})",
                e.exit_code.map_or("None".into(), |c| c.to_string()),
                e.signal.map_or("None".into(), |s| s.to_string()),
                py_bool(e.timed_out),
                py_bool(e.truncated),
                e.duration.as_secs_f64()
            ),
        }
    }
}

impl ToPy for kled::ExecEvent {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (kind, data, exit) = match self {
            kled::ExecEvent::Stdout(b) => ("stdout", b, None),
            kled::ExecEvent::Stderr(b) => ("stderr", b, None),
            kled::ExecEvent::Exit(st) => ("exit", Vec::new(), Some(st)),
        };
        Ok(Py::new(py, PyExecEvent { kind, data: PyBytes::new(py, &data).unbind(), exit })?.into_any())
    }
}

/// What `Manager.list_terminals()` shows of a terminal (a snapshot).
#[pyclass(module = "kled", name = "TerminalInfo", frozen)]
pub struct PyTerminalInfo {
    /// The terminal's name.
    #[pyo3(get)]
    name: String,
    /// Its runtime: "local", "container", ...
    #[pyo3(get)]
    kind: String,
    /// "created", "running", "stopped" or "failed".
    #[pyo3(get)]
    state: String,
    /// The options it was created with (a dict).
    #[pyo3(get)]
    options: Py<PyAny>,
    /// When it was created, in seconds since the epoch.
    #[pyo3(get)]
    created_at: u64,
    /// Why it failed, when it did.
    #[pyo3(get)]
    error: Option<String>,
}

impl PyTerminalInfo {
    pub fn from_core(py: Python<'_>, i: &kled::TerminalInfo) -> PyResult<PyTerminalInfo> {
        Ok(PyTerminalInfo {
            name: i.name.clone(),
            kind: i.kind.to_string(),
            state: i.state.to_string(),
            options: from_json(py, &i.options)?.unbind(),
            created_at: i.created_at,
            error: i.error.clone(),
        })
    }
}

#[pymethods]
impl PyTerminalInfo {
    fn __repr__(&self) -> String {
        format!("TerminalInfo(name='{}', kind='{}', state='{}')", self.name, self.kind, self.state)
    }
}

impl ToPy for kled::TerminalInfo {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyTerminalInfo::from_core(py, &self)?)?.into_any())
    }
}

impl ToPy for kled::Listing {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if !self.problems.is_empty() {
            let warnings = py.import("warnings")?;
            let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
            for p in &self.problems {
                let message = format!("kled: skipping the unreadable record of terminal {:?}: {}", p.name, p.error);
                warnings.call_method1("warn", (message, &category, 2))?;
            }
        }
        let items: Vec<Py<PyTerminalInfo>> =
            self.terminals.iter().map(|i| Py::new(py, PyTerminalInfo::from_core(py, i)?)).collect::<PyResult<_>>()?;
        Ok(items.into_pyobject(py)?.into_any().unbind())
    }
}

/// A runtime kled knows, whether it works on this machine, and what it needs.
#[pyclass(module = "kled", name = "Provider", frozen)]
pub struct PyProvider {
    /// The runtime's name, as passed to create_terminal: "local", "container", ...
    #[pyo3(get)]
    kind: String,
    /// Terminals of this kind can be created here now.
    #[pyo3(get)]
    available: bool,
    /// What a terminal of this kind is.
    #[pyo3(get)]
    description: String,
    /// What the runtime needs installed or configured.
    #[pyo3(get)]
    needs: String,
    /// Why it is not available, when it is not: the message a create of
    /// this kind fails with.
    #[pyo3(get)]
    reason: Option<String>,
    /// What terminals of this kind can do: tty, signals, editor, isolated,
    /// sessions, files (each a bool).
    caps: kled::Caps,
}

impl From<kled::Provider> for PyProvider {
    fn from(p: kled::Provider) -> PyProvider {
        PyProvider {
            kind: p.kind.to_string(),
            available: p.available,
            description: p.description.to_string(),
            needs: p.needs.to_string(),
            reason: p.reason,
            caps: p.caps,
        }
    }
}

#[pymethods]
impl PyProvider {
    /// What terminals of this kind can do, as {"tty": bool, "signals": ...,
    /// "editor", "isolated", "sessions", "files"}.
    #[getter]
    fn caps(&self) -> std::collections::BTreeMap<&'static str, bool> {
        let c = self.caps;
        [
            ("tty", c.tty),
            ("signals", c.signals),
            ("editor", c.editor),
            ("isolated", c.isolated),
            ("sessions", c.sessions),
            ("files", c.files),
        ]
        .into_iter()
        .collect()
    }

    fn __repr__(&self) -> String {
        format!("Provider(kind='{}', available={})", self.kind, py_bool(self.available))
    }
}

/// An entry of `Terminal.list_dir()`.
#[pyclass(module = "kled", name = "DirEntry", frozen)]
pub struct PyDirEntry {
    /// The entry's file name.
    #[pyo3(get)]
    name: String,
    /// "file", "dir", "symlink" or "other".
    #[pyo3(get)]
    kind: String,
    /// Size in bytes.
    #[pyo3(get)]
    size: u64,
    /// Permission bits (e.g. 0o644).
    #[pyo3(get)]
    mode: u32,
}

#[pymethods]
impl PyDirEntry {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DirEntry(name={}, kind='{}', size={}, mode=0o{:o})",
            pyrepr(py, &self.name),
            self.kind,
            self.size,
            self.mode
        )
    }
}

impl ToPy for Vec<kled::protocol::DirEntry> {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items: Vec<PyDirEntry> =
            self.into_iter().map(|e| PyDirEntry { name: e.name, kind: e.kind, size: e.size, mode: e.mode }).collect();
        Ok(items.into_pyobject(py)?.into_any().unbind())
    }
}
