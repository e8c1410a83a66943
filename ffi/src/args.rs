//! Reading C arguments and writing out-params. Every function here assumes
//! the pointer checks of `ffi!` already ran for the pointers it was given
//! as non-NULL.

use crate::guard::{Failure, Result};
use crate::status::*;
use std::ffi::{CStr, CString, OsStr};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A UTF-8 string argument.
///
/// # Safety
/// `p` is non-NULL and points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: per this function's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes)
        .map_err(|e| Failure::new(KLED_ERR_INVALID_UTF8, format!("argument `{what}` is not valid UTF-8: {e}")))
}

/// A UTF-8 string argument that may be NULL.
///
/// # Safety
/// `p` is NULL or as for [`text`].
pub(crate) unsafe fn opt_text<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, else per this function's contract.
    unsafe { text(p, what) }.map(Some)
}

/// A file-system path of this host that may be NULL. Any bytes but NUL, as
/// Unix paths are: not necessarily UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn opt_host_path(p: *const c_char) -> Option<PathBuf> {
    // SAFETY: per this function's contract.
    (!p.is_null()).then(|| PathBuf::from(OsStr::from_bytes(unsafe { CStr::from_ptr(p) }.to_bytes())))
}

/// `len` bytes at `data`; `data` may be NULL only when `len` is 0.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Failure::null(what));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!("argument `{what}`: length {len} is impossibly large")));
    }
    // SAFETY: per this function's contract; length checked against isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A JSON document argument. serde_json refuses nesting deeper than 128,
/// so hostile input cannot overflow the stack.
pub(crate) fn json(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Failure::invalid(format!("{what} is not valid JSON: {e}")))
}

/// Writes an out-param.
///
/// # Safety
/// `out` is non-NULL, aligned and writable.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: per this function's contract; `write` because *out may be uninitialised.
    unsafe { out.write(value) }
}

/// A string for C to own (freed with `kled_string_free`).
pub(crate) fn owned_string(s: String) -> Result<*mut c_char> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| Failure::new(KLED_ERR_INVALID_STATE, "a string for C contains a NUL byte"))
}

/// A value as a JSON string for C to own.
pub(crate) fn owned_json<T: serde::Serialize>(value: &T) -> Result<*mut c_char> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::new(KLED_ERR_INVALID_STATE, format!("cannot serialize the result: {e}")))?;
    // serde_json escapes NUL inside strings, so this never fails.
    owned_string(text)
}
