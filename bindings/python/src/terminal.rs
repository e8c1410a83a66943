//! `kled.Terminal` and `kled.ExecStream`.

use crate::convert::{data, exec_request, timeout};
use crate::errors::{to_pyerr, Outcome, ToPy};
use crate::handles::{ManagerCore, PyManager};
use crate::rt::{awaitable, wait};
use kled::fork::PerProcess;
use kled::{CodeRequest, ErrorKind};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A named terminal: an environment in which commands and code run.
///
/// A handle is cheap: it names a terminal recorded in the manager's state
/// directory; `state` reads the current state each time (another process
/// may change it). Used as a context manager (`with` or `async with`) it
/// is started on entry and removed, with its data, on exit.
///
/// Every blocking method releases the GIL, and Ctrl-C interrupts it
/// (raising KeyboardInterrupt and killing the command it ran). Each has an
/// `..._async` twin returning an awaitable for asyncio.
#[pyclass(module = "kled", name = "Terminal", frozen)]
pub struct PyTerminal {
    mgr: Arc<ManagerCore>,
    name: String,
    kind: String,
    handle: PerProcess<kled::Terminal>,
}

impl PyTerminal {
    pub fn new(mgr: Arc<ManagerCore>, t: kled::Terminal) -> PyTerminal {
        PyTerminal { mgr, name: t.name().to_string(), kind: t.kind().to_string(), handle: PerProcess::new(t) }
    }

    /// This process's core handle. Call with the GIL held.
    fn t(&self, py: Python<'_>) -> PyResult<kled::Terminal> {
        self.handle.get(|| {
            let m = self.mgr.get(py)?;
            // A quick, local read of the record: no need to release the GIL.
            let rt = crate::rt::runtime().map_err(|e| to_pyerr(py, e))?;
            rt.block_on(m.get_terminal(&self.name)).map_err(|e| to_pyerr(py, e))
        })
    }
}

struct Started(kled::ExecStream, String);

impl ToPy for Started {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyExecStream::new(self.0, self.1))?.into_any())
    }
}

fn code_request(
    py: Python<'_>,
    lang: String,
    code: String,
    args: Option<Vec<String>>,
    stdin: Option<&Bound<'_, PyAny>>,
    timeout_secs: Option<f64>,
    remote: bool,
) -> PyResult<CodeRequest> {
    let mut req = CodeRequest::new(lang, code);
    req.remote = remote;
    req.args = args.unwrap_or_default();
    if let Some(s) = stdin.filter(|s| !s.is_none()) {
        req.stdin = Some(data(s, "stdin")?);
    }
    req.timeout = timeout(py, timeout_secs)?;
    Ok(req)
}

/// Leaving a `with` block: a terminal removed inside it is fine.
fn already_gone(e: kled::Error) -> kled::Result<()> {
    if e.kind() == ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// A directory to list; None: the terminal's working directory.
fn dir_path(path: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    match path {
        Some(p) if !p.is_none() => crate::convert::path(p, "path"),
        _ => Ok(".".to_string()),
    }
}

#[pymethods]
impl PyTerminal {
    /// The terminal's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Its runtime: "local", "container", ...
    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    /// The current state, read now: "created", "running", "stopped" or
    /// "failed". Raises NotFoundError once the terminal is removed.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<String> {
        let t = self.t(py)?;
        let s = wait(py, async move { t.state().await })?.map_err(|e| to_pyerr(py, e))?;
        Ok(s.to_string())
    }

    /// The manager this terminal belongs to.
    #[getter]
    fn manager(&self) -> PyManager {
        PyManager { core: self.mgr.clone() }
    }

    /// A snapshot of the terminal's record (a TerminalInfo).
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = self.t(py)?;
        Outcome(wait(py, async move { t.info().await })?).into_py(py)
    }

    /// Makes the terminal runnable. Idempotent.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.t(py)?;
        wait(py, async move { t.start().await })?.map_err(|e| to_pyerr(py, e))
    }

    /// Awaitable `start`.
    fn start_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.start().await)) })
    }

    /// Stops everything running in the terminal, background processes
    /// included, and keeps its files. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.t(py)?;
        wait(py, async move { t.stop().await })?.map_err(|e| to_pyerr(py, e))
    }

    /// Awaitable `stop`.
    fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.stop().await)) })
    }

    /// Stops the terminal and deletes it and its data.
    fn remove(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.t(py)?;
        wait(py, async move { t.remove().await })?.map_err(|e| to_pyerr(py, e))
    }

    /// Awaitable `remove`.
    fn remove_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.remove().await)) })
    }

    /// Runs a command and returns its ExecResult once it has ended.
    ///
    /// `cmd` is a str, run by the terminal's shell, or a list of str, run
    /// directly (no shell). `timeout` (seconds): the command's whole process
    /// group is killed when it passes, and the output so far is returned
    /// with `timed_out` set. `cwd`: the directory to run in (default: the
    /// terminal's). `env`: extra environment variables. `stdin`: bytes or
    /// str fed to the command (default: empty). `max_output`: cap in bytes
    /// per stream (default 16 MiB); output past it is dropped and
    /// `truncated` set. `tty=(rows, cols)`: run on a pseudo-terminal of that
    /// size (stdout and stderr merge). A non-zero exit is a result, not an
    /// exception.
    #[pyo3(signature = (cmd, *, timeout=None, cwd=None, env=None, stdin=None, max_output=None, tty=None))]
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        py: Python<'_>,
        cmd: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        stdin: Option<&Bound<'_, PyAny>>,
        max_output: Option<u64>,
        tty: Option<(u16, u16)>,
    ) -> PyResult<Py<PyAny>> {
        let req = exec_request(py, cmd, timeout, cwd, env, stdin, max_output, tty)?;
        let t = self.t(py)?;
        Outcome(wait(py, async move { t.exec(req).await })?).into_py(py)
    }

    /// Awaitable `execute`. Cancelling it kills the command.
    #[pyo3(signature = (cmd, *, timeout=None, cwd=None, env=None, stdin=None, max_output=None, tty=None))]
    #[allow(clippy::too_many_arguments)]
    fn execute_async<'py>(
        &self,
        py: Python<'py>,
        cmd: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        stdin: Option<&Bound<'_, PyAny>>,
        max_output: Option<u64>,
        tty: Option<(u16, u16)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = exec_request(py, cmd, timeout, cwd, env, stdin, max_output, tty)?;
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.exec(req).await)) })
    }

    /// Starts a command and returns an ExecStream: iterate it (`for`, or
    /// `async for`) for ExecEvents, stdout and stderr chunks as they come,
    /// then the exit. Same arguments as `execute`, and `stdin_open=True` to
    /// keep stdin open for `write()` until `close_stdin()`. Closing the
    /// stream (or leaving its `with` block) before the exit kills the command.
    #[pyo3(signature = (cmd, *, timeout=None, cwd=None, env=None, stdin=None, max_output=None, tty=None, stdin_open=false))]
    #[allow(clippy::too_many_arguments)]
    fn exec_stream(
        &self,
        py: Python<'_>,
        cmd: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        stdin: Option<&Bound<'_, PyAny>>,
        max_output: Option<u64>,
        tty: Option<(u16, u16)>,
        stdin_open: bool,
    ) -> PyResult<PyExecStream> {
        let mut req = exec_request(py, cmd, timeout, cwd, env, stdin, max_output, tty)?;
        req.stdin_open = stdin_open;
        let t = self.t(py)?;
        let stream = wait(py, async move { t.exec_stream(req).await })?.map_err(|e| to_pyerr(py, e))?;
        Ok(PyExecStream::new(stream, self.name.clone()))
    }

    /// Awaitable `exec_stream`: resolves to the ExecStream once the command
    /// has started.
    #[pyo3(signature = (cmd, *, timeout=None, cwd=None, env=None, stdin=None, max_output=None, tty=None, stdin_open=false))]
    #[allow(clippy::too_many_arguments)]
    fn exec_stream_async<'py>(
        &self,
        py: Python<'py>,
        cmd: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        stdin: Option<&Bound<'_, PyAny>>,
        max_output: Option<u64>,
        tty: Option<(u16, u16)>,
        stdin_open: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut req = exec_request(py, cmd, timeout, cwd, env, stdin, max_output, tty)?;
        req.stdin_open = stdin_open;
        let (t, name) = (self.t(py)?, self.name.clone());
        awaitable(py, async move { Ok(Outcome(t.exec_stream(req).await.map(|s| Started(s, name)))) })
    }

    /// Runs `code` with the language's interpreter or compiler inside the
    /// terminal and returns its ExecResult. `lang`: LibreChat's ids (py js ts
    /// c cpp java php rs go d f90 r bash) or long names (python,
    /// javascript, ...). `args` go to the program, `stdin` to its input.
    /// `remote=True` runs it on the Code Interpreter API (the config's
    /// `librechat` section, or LIBRECHAT_CODE_BASEURL / _API_KEY) instead;
    /// the terminal keeps that session, so files carry over between runs.
    #[pyo3(signature = (lang, code, *, args=None, stdin=None, timeout=None, remote=false))]
    fn run_code(
        &self,
        py: Python<'_>,
        lang: String,
        code: String,
        args: Option<Vec<String>>,
        stdin: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        remote: bool,
    ) -> PyResult<Py<PyAny>> {
        let req = code_request(py, lang, code, args, stdin, timeout, remote)?;
        let t = self.t(py)?;
        Outcome(wait(py, async move { t.run_code_with(req).await })?).into_py(py)
    }

    /// Awaitable `run_code`.
    #[pyo3(signature = (lang, code, *, args=None, stdin=None, timeout=None, remote=false))]
    fn run_code_async<'py>(
        &self,
        py: Python<'py>,
        lang: String,
        code: String,
        args: Option<Vec<String>>,
        stdin: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        remote: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = code_request(py, lang, code, args, stdin, timeout, remote)?;
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.run_code_with(req).await)) })
    }

    /// The whole content of a file in the terminal, as bytes (a relative
    /// path is from the terminal's working directory).
    fn read_file(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let p = crate::convert::path(path, "path")?;
        let t = self.t(py)?;
        Outcome(wait(py, async move { t.read_file(&p).await })?).into_py(py)
    }

    /// Awaitable `read_file`.
    fn read_file_async<'py>(&self, py: Python<'py>, path: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let p = crate::convert::path(path, "path")?;
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.read_file(&p).await)) })
    }

    /// Writes `data` (bytes, or str as UTF-8) to a file in the terminal,
    /// atomically, creating parent directories. `mode` (e.g. 0o755)
    /// defaults to the existing file's, else 0o644.
    #[pyo3(signature = (path, data, mode=None))]
    fn write_file(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        mode: Option<u32>,
    ) -> PyResult<()> {
        let (p, bytes) = (crate::convert::path(path, "path")?, crate::convert::data(data, "data")?);
        let t = self.t(py)?;
        wait(py, async move { t.write_file(&p, &bytes, mode).await })?.map_err(|e| to_pyerr(py, e))
    }

    /// Awaitable `write_file`.
    #[pyo3(signature = (path, data, mode=None))]
    fn write_file_async<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        mode: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (p, bytes) = (crate::convert::path(path, "path")?, crate::convert::data(data, "data")?);
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.write_file(&p, &bytes, mode).await)) })
    }

    /// The entries of a directory in the terminal (DirEntry objects);
    /// default: its working directory.
    #[pyo3(signature = (path=None))]
    fn list_dir(&self, py: Python<'_>, path: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let p = dir_path(path)?;
        let t = self.t(py)?;
        Outcome(wait(py, async move { t.list_dir(&p).await })?).into_py(py)
    }

    /// Awaitable `list_dir`.
    #[pyo3(signature = (path=None))]
    fn list_dir_async<'py>(&self, py: Python<'py>, path: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let p = dir_path(path)?;
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.list_dir(&p).await)) })
    }

    /// Starts the terminal and returns it.
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        slf.get().start(slf.py())?;
        Ok(slf.clone().unbind())
    }

    /// Removes the terminal and its data (if the block has not already).
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        let t = self.t(py)?;
        wait(py, async move { t.remove().await.or_else(already_gone) })?.map_err(|e| to_pyerr(py, e))?;
        Ok(false)
    }

    /// Awaitable: starts the terminal and resolves to it.
    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let t = slf.get().t(py)?;
        let me = slf.clone().unbind();
        awaitable(py, async move { Ok(Outcome(t.start().await.map(|_| Entered(me)))) })
    }

    /// Awaitable: removes the terminal and its data.
    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(&self, py: Python<'py>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.t(py)?;
        awaitable(py, async move { Ok(Outcome(t.remove().await.or_else(already_gone))) })
    }

    /// Pickles as `manager.get_terminal(name)`: another process reopens it by name.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let manager = Bound::new(py, PyManager { core: self.mgr.clone() })?;
        Ok((manager.getattr("get_terminal")?, (self.name.clone(),)))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = match self.t(py).and_then(|t| wait(py, async move { t.state().await })) {
            Ok(Ok(s)) => s.to_string(),
            Ok(Err(e)) if e.kind() == ErrorKind::NotFound => "removed".to_string(),
            _ => "unknown".to_string(),
        };
        format!("<kled.Terminal name='{}' kind='{}' state='{}'>", self.name, self.kind, state)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyTerminal>().is_ok_and(|o| {
            let o = o.get();
            o.name == self.name && o.mgr.root == self.mgr.root
        })
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.mgr.root, &self.name).hash(&mut h);
        h.finish()
    }
}

type SharedStream = Arc<tokio::sync::Mutex<Option<kled::ExecStream>>>;

/// A running command's events. Iterate it with `for` (blocking, GIL
/// released, Ctrl-C kills the command) or `async for`; each item is an
/// ExecEvent, the last one of kind "exit". `close()` (or leaving a `with`
/// block, or dropping the stream) kills the command if it still runs.
#[pyclass(module = "kled", name = "ExecStream", frozen)]
pub struct PyExecStream {
    inner: SharedStream,
    /// Signals the command while another thread or task reads the stream.
    control: kled::ExecControl,
    terminal: String,
    /// The process that started it (fork.rs), and its pid for messages.
    generation: u64,
    pid: u32,
}

impl PyExecStream {
    fn new(stream: kled::ExecStream, terminal: String) -> PyExecStream {
        PyExecStream {
            control: stream.control(),
            inner: Arc::new(tokio::sync::Mutex::new(Some(stream))),
            terminal,
            generation: kled::fork::generation(),
            pid: std::process::id(),
        }
    }

    fn check_process(&self, py: Python<'_>) -> PyResult<()> {
        if self.generation == kled::fork::generation() {
            return Ok(());
        }
        Err(to_pyerr(
            py,
            kled::Error::new(
                ErrorKind::InvalidState,
                format!(
                    "this stream was started by process {}; a forked child cannot read it (start a new one in the child)",
                    self.pid
                ),
            ),
        ))
    }

    fn busy(&self, py: Python<'_>) -> PyErr {
        to_pyerr(py, kled::Error::new(ErrorKind::InvalidState, "the stream is being read by another thread or task"))
    }
}

impl Drop for PyExecStream {
    fn drop(&mut self) {
        if self.generation != kled::fork::generation() {
            // The parent's stream: never drop it here (see fork.rs).
            std::mem::forget(self.inner.clone());
        }
    }
}

#[pymethods]
impl PyExecStream {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.check_process(py)?;
        let inner = self.inner.clone();
        let next = wait(py, async move {
            let mut guard = inner.lock().await;
            match guard.as_mut() {
                Some(s) => s.next().await,
                None => None,
            }
        });
        match next {
            Ok(None) => Ok(None),
            Ok(Some(event)) => Outcome(event).into_py(py).map(Some),
            Err(interrupted) => {
                // Ctrl-C while reading: the reader is gone, so is the command.
                if let Ok(mut g) = self.inner.try_lock() {
                    g.take();
                }
                Err(interrupted)
            }
        }
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check_process(py)?;
        let inner = self.inner.clone();
        awaitable(py, async move {
            let mut guard = inner.lock().await;
            let next = match guard.as_mut() {
                Some(s) => s.next().await,
                None => None,
            };
            match next {
                Some(event) => Ok(Outcome(event)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }

    /// Sends `signum` (e.g. signal.SIGTERM) to the command's process group,
    /// also while another thread or task waits on the stream.
    fn signal(&self, py: Python<'_>, signum: i32) -> PyResult<()> {
        self.check_process(py)?;
        if !(1..=64).contains(&signum) {
            return Err(to_pyerr(
                py,
                kled::Error::new(ErrorKind::InvalidArgument, format!("no such signal: {signum}")),
            ));
        }
        match self.inner.try_lock() {
            Ok(guard) if guard.is_none() => {
                Err(to_pyerr(py, kled::Error::new(ErrorKind::InvalidState, "the stream is closed")))
            }
            // Free, or being read right now: the killer reaches it either way.
            _ => self.control.signal(signum).map_err(|e| to_pyerr(py, e)),
        }
    }

    /// Writes to the command's stdin (a stream started with stdin_open=True),
    /// also while another thread or task reads the stream.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_process(py)?;
        let bytes = crate::convert::data(data, "data")?;
        self.control.write_stdin(&bytes).map_err(|e| to_pyerr(py, e))
    }

    /// Ends the command's stdin (EOF; on a pseudo-terminal, ^D).
    fn close_stdin(&self, py: Python<'_>) -> PyResult<()> {
        self.check_process(py)?;
        self.control.close_stdin().map_err(|e| to_pyerr(py, e))
    }

    /// New size for the command's pseudo-terminal (it gets SIGWINCH).
    fn resize(&self, py: Python<'_>, rows: u16, cols: u16) -> PyResult<()> {
        self.check_process(py)?;
        self.control.resize(rows, cols).map_err(|e| to_pyerr(py, e))
    }

    /// Kills the command if it still runs, and ends the stream. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.check_process(py)?;
        let mut guard = self.inner.try_lock().map_err(|_| self.busy(py))?;
        let stream = guard.take();
        drop(guard);
        py.detach(|| drop(stream));
        Ok(())
    }

    /// The name of the terminal the command runs in.
    #[getter]
    fn terminal(&self) -> &str {
        &self.terminal
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let open = self.inner.try_lock().map(|g| g.is_some()).unwrap_or(true);
        format!("<kled.ExecStream terminal='{}' {}>", self.terminal, if open { "open" } else { "closed" })
    }
}

impl ToPy for PyTerminal {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self)?.into_any())
    }
}

/// `async with` resolves to the terminal itself.
struct Entered(Py<PyTerminal>);

impl ToPy for Entered {
    fn to_py(self, _py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.0.into_any())
    }
}
