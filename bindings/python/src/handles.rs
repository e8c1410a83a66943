//! What a `kled.Manager` is and shares with its terminals: a leaf, used by
//! manager.rs (the class's methods) and terminal.rs (`Terminal.manager`), so
//! that those two never import each other.

use crate::errors::to_pyerr;
use crate::rt::enter;
use kled::fork::PerProcess;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// What a binding Manager shares with its terminals: how to make the core
/// manager again in a forked child, and this process's one.
pub struct ManagerCore {
    pub root: PathBuf,
    pub config: kled::Config,
    /// The `config` argument as given, for pickling.
    pub config_arg: Option<Py<PyAny>>,
    pub manager: PerProcess<kled::Manager>,
}

impl ManagerCore {
    /// This process's core manager. Call with the GIL held.
    pub fn get(&self, py: Python<'_>) -> PyResult<kled::Manager> {
        self.manager.get(|| {
            enter(|| kled::Manager::new(Some(self.root.clone()), self.config.clone()))
                .and_then(|made| made)
                .map_err(|e| to_pyerr(py, e))
        })
    }
}

/// Creates, finds, lists and removes terminals.
///
/// `state_dir` is where terminals are recorded (default: `$KLED_HOME`, else
/// `$XDG_STATE_HOME/kled`, else `~/.local/state/kled`); every process using
/// the same directory (Python, the `kled` CLI, C) sees the same terminals.
/// `config` is a path to a YAML config file (environment variables such as
/// `LIBRECHAT_CODE_API_KEY` override it, as for the CLI) or a dict with the
/// same content (taken as given); default: `$KLED_CONFIG` or
/// `~/.config/kled/config.yaml` if it exists, plus the environment.
///
/// Every blocking method has an `..._async` twin for asyncio, on the same
/// handles.
#[pyclass(module = "kled", name = "Manager", frozen)]
pub struct PyManager {
    pub core: Arc<ManagerCore>,
}
