//! Turning command-line values into the core's: options, timeouts, code
//! text, line ranges. A leaf: it knows the argument types and the core only.

use crate::args::OptionArgs;
use std::io::Read;
use std::time::Duration;

type Result<T> = kled::Result<T>;

/// `A:B` (1-based, inclusive) as a zero-based, end-exclusive range; None is
/// the whole file.
pub fn line_range(spec: Option<&str>) -> Result<(i64, i64)> {
    let bad = || {
        kled::Error::new(
            kled::ErrorKind::InvalidArgument,
            format!("--lines {:?}: expected A:B, A, A: or :B with 1-based line numbers", spec.unwrap_or_default()),
        )
    };
    let Some(spec) = spec else { return Ok((0, -1)) };
    let num = |s: &str| -> Result<Option<i64>> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(bad)
    };
    let (a, b) = match spec.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let a = num(spec)?.ok_or_else(bad)?;
            (Some(a), Some(a))
        }
    };
    let start = match a {
        Some(0) => return Err(bad()),
        Some(a) => a - 1,
        None => 0,
    };
    let end = b.unwrap_or(-1);
    if b.is_some() && end < start {
        return Err(bad());
    }
    Ok((start, end))
}

/// The most dotted parts a `--opt KEY` may have.
const MAX_OPT_DEPTH: usize = 8;

/// Turns the option flags into the runtime's JSON options.
pub fn build_options(a: &OptionArgs) -> Result<serde_json::Value> {
    let mut o = serde_json::Map::new();
    if let Some(v) = &a.image {
        o.insert("image".into(), v.clone().into());
    }
    if let Some(v) = a.cpus {
        o.insert("cpus".into(), v.into());
    }
    if let Some(v) = a.memory {
        o.insert("memory".into(), v.into());
    }
    if let Some(v) = &a.os {
        o.insert("os".into(), v.clone().into());
    }
    for kv in &a.opts {
        let (key, value) = kv.split_once('=').ok_or_else(|| {
            kled::Error::new(kled::ErrorKind::InvalidArgument, format!("--opt {kv:?}: expected KEY=VALUE"))
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        let mut path: Vec<&str> = key.split('.').collect();
        // Options nest a level or two (env.FOO); a deep path is a mistake,
        // and a JSON value tens of thousands of levels deep overflows the
        // stack when it is dropped.
        if path.len() > MAX_OPT_DEPTH || path.iter().any(|p| p.is_empty()) {
            return Err(kled::Error::new(
                kled::ErrorKind::InvalidArgument,
                format!("--opt KEY must be 1 to {MAX_OPT_DEPTH} non-empty names joined by dots (like env.FOO)"),
            ));
        }
        let last = path.pop().unwrap_or_default();
        let mut node = &mut o;
        for part in path {
            let entry = node.entry(part.to_string()).or_insert_with(|| serde_json::json!({}));
            if !entry.is_object() {
                *entry = serde_json::json!({});
            }
            node = entry.as_object_mut().expect("just made an object");
        }
        node.insert(last.to_string(), value);
    }
    Ok(serde_json::Value::Object(o))
}

/// `--timeout SECS` as the core's timeout (one bound for every front end).
pub fn secs(s: Option<f64>) -> Result<Option<Duration>> {
    s.map(|s| kled::timeout_from_secs(s).map_err(|e| e.context("--timeout"))).transpose()
}

/// CODE as given, or stdin for "-".
pub fn code_text(code: String) -> Result<String> {
    if code != "-" {
        return Ok(code);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| kled::Error::new(kled::ErrorKind::InvalidArgument, format!("cannot read code from stdin: {e}")))?;
    Ok(s)
}
