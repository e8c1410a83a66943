//! `kled._kled`: the native half of the Python package `kled`.
//!
//! The classes wrap the core's handles; `kled/__init__.py` re-exports them
//! with the exception classes of `kled/_errors.py`. The binding owns its
//! tokio runtime (rt.rs) and keeps handles usable across `os.fork()`
//! (the core's `kled::fork`). Blocking methods release the GIL and wake regularly to run
//! Python's signal handlers, so Ctrl-C interrupts them.

mod convert;
mod errors;
mod handles;
mod manager;
mod rt;
mod terminal;
mod values;

use pyo3::prelude::*;

/// The core's logs on stderr at the level in `KLED_LOG` (e.g. `debug`,
/// `kled=info`), as the CLI does; a library stays silent without it.
fn init_logging() {
    kled::logging::init(None);
}

#[pymodule]
fn _kled(m: &Bound<'_, PyModule>) -> PyResult<()> {
    kled::fork::install();
    init_logging();
    m.add("__version__", kled::VERSION)?;
    m.add("DEFAULT_MAX_OUTPUT", kled::DEFAULT_MAX_OUTPUT)?;
    // Whether a fork()ed child of a process that used kled can use it too.
    m.add("FORK_CHILD_SUPPORTED", kled::fork::CHILD_SUPPORTED)?;
    m.add_class::<handles::PyManager>()?;
    m.add_class::<terminal::PyTerminal>()?;
    m.add_class::<terminal::PyExecStream>()?;
    m.add_class::<values::PyExecResult>()?;
    m.add_class::<values::PyExecEvent>()?;
    m.add_class::<values::PyTerminalInfo>()?;
    m.add_class::<values::PyProvider>()?;
    m.add_class::<values::PyDirEntry>()?;
    Ok(())
}
