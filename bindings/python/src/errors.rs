//! Core errors as Python exceptions (the classes live in `kled/_errors.py`),
//! and `Outcome`, which turns a core result into a Python value or exception
//! once the GIL is held, so futures never need it.

use kled::{ErrorKind, Hint};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyType};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The Python class of each core error kind.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::RuntimeUnavailable => "RuntimeUnavailableError",
        ErrorKind::InvalidState => "InvalidStateError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::Agent => "AgentError",
        ErrorKind::Io => "IoError",
        ErrorKind::Config => "ConfigError",
    }
}

pub fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = ERRORS.get_or_try_init(py, || py.import("kled._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// The core's hint in Python terms (the method to call): the one place the
/// binding spells out a next step.
pub fn render_hint(hint: &Hint) -> String {
    match hint {
        Hint::StartTerminal { name } => format!("start it with Manager.get_terminal({name:?}).start()"),
        Hint::RemoveTerminal { name } => format!("Manager.remove_terminal({name:?}) cleans up the record"),
        Hint::ListTerminals => "Manager.list_terminals() shows the terminals that exist".into(),
        Hint::ListProviders => "Manager.providers() lists what works here".into(),
        Hint::RestartNeovim { name } => format!("Manager.get_terminal({name:?}).start() starts a new one"),
        Hint::SetOption { option, value } => format!("set it with options={{{option:?}: {value:?}}}"),
        Hint::OtherBulkPrefix => "pass another prefix= or remove them".into(),
        other => other.to_string(),
    }
}

/// A core error as the matching `kled.KledError` subclass: the message ends
/// with the hint, which is also the exception's `hint` (None without one);
/// the core's cause becomes `__cause__` (an OSError for an OS error, so
/// `e.__cause__.errno` works; the wrapped kled error for added context).
pub fn to_pyerr(py: Python<'_>, e: kled::Error) -> PyErr {
    let class = match error_class(py, class_name(e.kind())) {
        Ok(class) => class,
        Err(import_failed) => return import_failed,
    };
    let hint = e.hint().map(render_hint);
    let err = PyErr::from_type(class, (kled::with_hint(e.message(), hint.as_deref()),));
    let value = err.value(py);
    if let Err(failed) = value.setattr("hint", hint) {
        return failed;
    }
    if let Some(cause) = cause_of(py, &e) {
        err.set_cause(py, Some(cause));
    }
    err
}

/// The first cause in the core error's chain, as a Python exception.
fn cause_of(py: Python<'_>, e: &kled::Error) -> Option<PyErr> {
    let source = std::error::Error::source(e)?;
    if let Some(io) = source.downcast_ref::<std::io::Error>() {
        return Some(match io.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, io.to_string())),
            None => PyOSError::new_err(io.to_string()),
        });
    }
    if let Some(inner) = source.downcast_ref::<kled::Error>() {
        return Some(to_pyerr(py, inner.clone()));
    }
    Some(PyOSError::new_err(source.to_string()))
}

pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, kled::Error::new(ErrorKind::InvalidArgument, message))
}

/// Something that becomes a Python object once the GIL is held.
pub trait ToPy: Send + 'static {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

impl ToPy for () {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

impl ToPy for Vec<u8> {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(pyo3::types::PyBytes::new(py, &self).into_any().unbind())
    }
}

/// A core result on its way to Python: the value, or the exception.
pub struct Outcome<T>(pub kled::Result<T>);

impl<T: ToPy> Outcome<T> {
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.0 {
            Ok(v) => v.to_py(py),
            Err(e) => Err(to_pyerr(py, e)),
        }
    }
}

impl<'py, T: ToPy> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.into_py(py).map(|o| o.into_bound(py))
    }
}
