//! Core errors as Python exceptions (the classes live in `kled/_errors.py`),
//! and `Outcome`, which turns a core result into a Python value or exception
//! once the GIL is held, so futures never need it.

use kled::ErrorKind;
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

/// A core error as the matching `kled.KledError` subclass.
pub fn to_pyerr(py: Python<'_>, e: kled::Error) -> PyErr {
    match error_class(py, class_name(e.kind())) {
        Ok(class) => PyErr::from_type(class, (e.message().to_string(),)),
        Err(import_failed) => import_failed,
    }
}

pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, kled::Error::new(ErrorKind::InvalidArgument, message))
}

pub fn io_error(py: Python<'_>, context: &str, e: std::io::Error) -> PyErr {
    to_pyerr(py, kled::Error::new(ErrorKind::Io, format!("{context}: {e}")))
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
