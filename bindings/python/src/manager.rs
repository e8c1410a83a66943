//! `kled.Manager`'s methods (the class and what it shares with its
//! terminals are in handles.rs, which terminal.rs uses too).

use crate::convert::{options, to_json};
use crate::errors::{invalid, to_pyerr, Outcome, ToPy};
use crate::handles::{ManagerCore, PyManager};
use crate::rt::{awaitable, enter, wait};
use crate::terminal::PyTerminal;
use crate::values::PyProvider;
use kled::fork::PerProcess;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyMapping, PyString};
use std::path::PathBuf;
use std::sync::Arc;

fn load_config(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<kled::Config> {
    let loaded = match config {
        None => kled::Config::load(None),
        Some(c) if c.is_none() => kled::Config::load(None),
        Some(c) if c.is_instance_of::<PyString>() || c.hasattr("__fspath__")? => {
            let path: PathBuf = c.extract()?;
            kled::Config::load(Some(&path))
        }
        Some(c) if c.cast::<PyMapping>().is_ok() => {
            // JSON is YAML: the core parses it, so unknown keys are named the same way.
            let json = to_json(c)?;
            kled::Config::from_yaml(&json.to_string(), "the config dict")
        }
        Some(c) => {
            return Err(PyTypeError::new_err(format!(
                "config must be a path to a YAML file or a dict, not {}",
                c.get_type().name()?
            )))
        }
    };
    loaded.map_err(|e| to_pyerr(py, e))
}

impl PyManager {
    fn m(&self, py: Python<'_>) -> PyResult<kled::Manager> {
        self.core.get(py)
    }

    fn bulk_request(
        py: Python<'_>,
        kind: &str,
        count: i64,
        opts: Option<&Bound<'_, PyAny>>,
        prefix: Option<String>,
        start: bool,
        concurrency: Option<usize>,
    ) -> PyResult<kled::BulkRequest> {
        if count < 0 {
            return Err(invalid(py, format!("bulk count must be positive, not {count}")));
        }
        let mut req = kled::BulkRequest::new(kind, count as usize);
        req.options = options(opts)?;
        req.prefix = prefix;
        req.start = start;
        // The core's rule (BulkRequest::validate) judges it, 0 included.
        if let Some(c) = concurrency {
            req.concurrency = c;
        }
        Ok(req)
    }
}

/// What `Manager(...)` is called with when unpickled: state_dir, config.
type ManagerArgs = (String, Option<Py<PyAny>>);

struct Terminals(Vec<kled::Terminal>, Arc<ManagerCore>);

impl ToPy for Terminals {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list: Vec<PyTerminal> = self.0.into_iter().map(|t| PyTerminal::new(self.1.clone(), t)).collect();
        Ok(list.into_pyobject(py)?.into_any().unbind())
    }
}

struct OneTerminal(kled::Terminal, Arc<ManagerCore>);

impl ToPy for OneTerminal {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyTerminal::new(self.1, self.0))?.into_any())
    }
}

#[pymethods]
impl PyManager {
    #[new]
    #[pyo3(signature = (state_dir=None, config=None))]
    fn new(py: Python<'_>, state_dir: Option<PathBuf>, config: Option<&Bound<'_, PyAny>>) -> PyResult<PyManager> {
        let config_arg = config;
        let config = load_config(py, config)?;
        let manager = enter(|| kled::Manager::new(state_dir, config.clone()))
            .and_then(|made| made)
            .map_err(|e| to_pyerr(py, e))?;
        let root = manager.state_dir().to_path_buf();
        let config_arg = config_arg.filter(|c| !c.is_none()).map(|c| c.clone().unbind());
        Ok(PyManager { core: Arc::new(ManagerCore { root, config, config_arg, manager: PerProcess::new(manager) }) })
    }

    /// Pickles as its state directory and config argument, so a manager (or
    /// a terminal) can be sent to a process started with spawn or forkserver.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, ManagerArgs)> {
        let py = slf.py();
        let core = &slf.get().core;
        let args = (core.root.display().to_string(), core.config_arg.as_ref().map(|c| c.clone_ref(py)));
        Ok((slf.get_type().into_any(), args))
    }

    /// The state directory (a str).
    #[getter]
    fn state_dir(&self) -> String {
        self.core.root.display().to_string()
    }

    /// Creates a terminal of runtime `kind` ("local", "container", ...) named
    /// `name`, with runtime `options` (a dict). It is not started: call
    /// `start()`, or use it as a context manager.
    #[pyo3(signature = (kind, name, options=None))]
    fn create_terminal(
        &self,
        py: Python<'_>,
        kind: String,
        name: String,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTerminal> {
        let opts = crate::convert::options(options)?;
        let m = self.m(py)?;
        let t = wait(py, m.create_terminal(&kind, &name, opts))?.map_err(|e| to_pyerr(py, e))?;
        Ok(PyTerminal::new(self.core.clone(), t))
    }

    /// Awaitable `create_terminal`.
    #[pyo3(signature = (kind, name, options=None))]
    fn create_terminal_async<'py>(
        &self,
        py: Python<'py>,
        kind: String,
        name: String,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = crate::convert::options(options)?;
        let (m, core) = (self.m(py)?, self.core.clone());
        awaitable(
            py,
            async move { Ok(Outcome(m.create_terminal(&kind, &name, opts).await.map(|t| OneTerminal(t, core)))) },
        )
    }

    /// The terminal named `name`; raises NotFoundError if there is none.
    fn get_terminal(&self, py: Python<'_>, name: String) -> PyResult<PyTerminal> {
        let m = self.m(py)?;
        let t = wait(py, m.get_terminal(&name))?.map_err(|e| to_pyerr(py, e))?;
        Ok(PyTerminal::new(self.core.clone(), t))
    }

    /// Awaitable `get_terminal`.
    fn get_terminal_async<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let (m, core) = (self.m(py)?, self.core.clone());
        awaitable(py, async move { Ok(Outcome(m.get_terminal(&name).await.map(|t| OneTerminal(t, core)))) })
    }

    /// Every terminal in the state directory, sorted by name, as
    /// `TerminalInfo` snapshots. Unreadable records are skipped with a
    /// RuntimeWarning naming them.
    fn list_terminals(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let m = self.m(py)?;
        Outcome(wait(py, async move { m.list_terminals().await })?).into_py(py)
    }

    /// Awaitable `list_terminals`.
    fn list_terminals_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = self.m(py)?;
        awaitable(py, async move { Ok(Outcome(m.list_terminals().await)) })
    }

    /// Stops and deletes the terminal named `name` and its data.
    fn remove_terminal(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let m = self.m(py)?;
        wait(py, m.remove_terminal(&name))?.map_err(|e| to_pyerr(py, e))
    }

    /// Awaitable `remove_terminal`.
    fn remove_terminal_async<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let m = self.m(py)?;
        awaitable(py, async move { Ok(Outcome(m.remove_terminal(&name).await)) })
    }

    /// Creates `count` terminals named `PREFIX-1` .. `PREFIX-count` (prefix
    /// defaults to the kind) concurrently, and starts them too with
    /// `start=True`. All or nothing: on failure the ones made are removed
    /// and the first error is raised. Returns them in name order.
    #[pyo3(signature = (kind, count, options=None, prefix=None, start=false, *, concurrency=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_bulk_terminals(
        &self,
        py: Python<'_>,
        kind: String,
        count: i64,
        options: Option<&Bound<'_, PyAny>>,
        prefix: Option<String>,
        start: bool,
        concurrency: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        let req = Self::bulk_request(py, &kind, count, options, prefix, start, concurrency)?;
        let m = self.m(py)?;
        let made = wait(py, async move { m.create_bulk(req).await })?;
        Outcome(made.map(|ts| Terminals(ts, self.core.clone()))).into_py(py)
    }

    /// Awaitable `create_bulk_terminals`.
    #[pyo3(signature = (kind, count, options=None, prefix=None, start=false, *, concurrency=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_bulk_terminals_async<'py>(
        &self,
        py: Python<'py>,
        kind: String,
        count: i64,
        options: Option<&Bound<'_, PyAny>>,
        prefix: Option<String>,
        start: bool,
        concurrency: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = Self::bulk_request(py, &kind, count, options, prefix, start, concurrency)?;
        let (m, core) = (self.m(py)?, self.core.clone());
        awaitable(py, async move { Ok(Outcome(m.create_bulk(req).await.map(|ts| Terminals(ts, core)))) })
    }

    /// Every runtime kled knows, whether it works here and what it needs.
    fn providers(&self, py: Python<'_>) -> PyResult<Vec<PyProvider>> {
        let m = self.m(py)?;
        let list = py.detach(|| enter(|| m.providers()));
        let list = list.map_err(|e| to_pyerr(py, e))?;
        Ok(list.into_iter().map(PyProvider::from).collect())
    }

    fn __repr__(&self) -> String {
        format!("<kled.Manager state_dir='{}'>", self.core.root.display())
    }
}
