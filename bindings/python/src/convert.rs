//! Python values to and from what the core takes: JSON options, bytes,
//! paths, environment maps, timeouts, commands.

use crate::errors::invalid;
use kled::{Command, ExecRequest};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const MAX_DEPTH: usize = 64;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// A JSON-like Python value (dict, list, tuple, str, int, float, bool, None).
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json_at(obj, 0)
}

fn to_json_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(invalid(obj.py(), format!("value nested deeper than {MAX_DEPTH} levels")));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(obj.py(), format!("integer {obj} does not fit in 64 bits")));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| invalid(obj.py(), format!("{f} is not a JSON number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in obj.try_iter()? {
            items.push(to_json_at(&item?, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if obj.is_instance_of::<PyDict>() || obj.cast::<PyMapping>().is_ok() {
        let mut map = serde_json::Map::new();
        for pair in obj.call_method0("items")?.try_iter()? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
            let Ok(key) = k.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!("keys must be str, not {}", type_name(&k))));
            };
            map.insert(key.to_cow()?.into_owned(), to_json_at(&v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    Err(PyTypeError::new_err(format!(
        "cannot pass a {} here: use dict, list, str, int, float, bool or None",
        type_name(obj)
    )))
}

/// A JSON value as plain Python objects.
pub fn from_json<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_json(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, from_json(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Options for a runtime: a mapping, or None for none.
pub fn options(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    match obj {
        None => Ok(serde_json::json!({})),
        Some(o) if o.is_none() => Ok(serde_json::json!({})),
        Some(o) => {
            let v = to_json(o)?;
            if !v.is_object() {
                return Err(PyTypeError::new_err(format!("options must be a dict, not {}", type_name(o))));
            }
            Ok(v)
        }
    }
}

/// bytes, bytearray, memoryview (any buffer) or str (as UTF-8).
pub fn data(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    // memoryview and any other buffer.
    let memoryview = obj.py().import("builtins")?.getattr("memoryview")?;
    if let Ok(view) = memoryview.call1((obj,)) {
        let copied = view.call_method0("tobytes")?;
        return Ok(copied.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!("{what} must be bytes or str, not {}", type_name(obj))))
}

/// A path in the terminal: str or os.PathLike (UTF-8).
pub fn path(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    let Ok(fspath) = obj.call_method0("__fspath__") else {
        return Err(PyTypeError::new_err(format!("{what} must be str or os.PathLike, not {}", type_name(obj))));
    };
    match fspath.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!("{what} must be a str path, not bytes"))),
    }
}

/// A mapping of str to str (dict, os.environ, any Mapping).
pub fn env(obj: &Bound<'_, PyAny>) -> PyResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let items = obj
        .call_method0("items")
        .map_err(|_| PyTypeError::new_err(format!("env must be a mapping of str to str, not {}", type_name(obj))))?;
    for pair in items.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
        let (Ok(k), Ok(v)) = (k.cast::<PyString>(), v.cast::<PyString>()) else {
            return Err(PyTypeError::new_err("env keys and values must be str"));
        };
        out.insert(k.to_cow()?.into_owned(), v.to_cow()?.into_owned());
    }
    Ok(out)
}

/// Seconds (int or float) as a Duration; must be positive.
pub fn timeout(py: Python<'_>, secs: Option<f64>) -> PyResult<Option<Duration>> {
    match secs {
        None => Ok(None),
        // The core's one rule (kled::timeout_from_secs), in Python's terms.
        Some(s) => kled::timeout_from_secs(s).map(Some).map_err(|e| invalid(py, e.message().to_string())),
    }
}

/// str: a command line for the terminal's shell; list/tuple of str: an argv.
pub fn command(cmd: &Bound<'_, PyAny>) -> PyResult<Command> {
    if let Ok(s) = cmd.cast::<PyString>() {
        return Ok(Command::Shell(s.to_cow()?.into_owned()));
    }
    if cmd.is_instance_of::<PyList>() || cmd.is_instance_of::<PyTuple>() {
        let mut argv = Vec::new();
        for item in cmd.try_iter()? {
            let item = item?;
            argv.push(path(&item, "each argv item")?);
        }
        return Ok(Command::Argv(argv));
    }
    Err(PyTypeError::new_err(format!(
        "cmd must be a str (run by the terminal's shell) or a list of str (an argv), not {}",
        type_name(cmd)
    )))
}

/// The arguments of execute / exec_stream as a core request.
#[allow(clippy::too_many_arguments)]
pub fn exec_request(
    py: Python<'_>,
    cmd: &Bound<'_, PyAny>,
    timeout_secs: Option<f64>,
    cwd: Option<&Bound<'_, PyAny>>,
    env_map: Option<&Bound<'_, PyAny>>,
    stdin: Option<&Bound<'_, PyAny>>,
    max_output: Option<u64>,
    tty: Option<(u16, u16)>,
) -> PyResult<ExecRequest> {
    let mut req = ExecRequest::new(command(cmd)?);
    if let Some((rows, cols)) = tty {
        req = req.tty(rows, cols);
    }
    req.timeout = timeout(py, timeout_secs)?;
    if let Some(c) = cwd.filter(|c| !c.is_none()) {
        req.cwd = Some(path(c, "cwd")?);
    }
    if let Some(e) = env_map.filter(|e| !e.is_none()) {
        req.env = env(e)?;
    }
    if let Some(s) = stdin.filter(|s| !s.is_none()) {
        req.stdin = Some(data(s, "stdin")?);
    }
    req.max_output = max_output;
    Ok(req)
}
