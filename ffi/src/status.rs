//! Status codes: one per core `ErrorKind`, plus the failures only the C ABI
//! has (a NULL argument, text that is not UTF-8, a caught panic).

use kled_core::ErrorKind;
use std::os::raw::c_char;

/// What a kled function returns. `KLED_OK` is 0; every other value is a
/// failure whose message `kled_last_error_message()` gives on the same thread.
/// Values are stable across versions; new ones may be added (treat an unknown
/// value as a failure).
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kled_status {
    /// Success.
    KLED_OK = 0,
    /// No terminal (or file) by that name.
    KLED_ERR_NOT_FOUND = 1,
    /// A terminal by that name exists already.
    KLED_ERR_ALREADY_EXISTS = 2,
    /// A bad name, option, language, path, JSON document or request.
    KLED_ERR_INVALID_ARGUMENT = 3,
    /// The runtime (or a program it needs) is not available on this machine.
    KLED_ERR_RUNTIME_UNAVAILABLE = 4,
    /// The terminal (or stream) is not in a state that allows the operation.
    KLED_ERR_INVALID_STATE = 5,
    /// A deadline passed before the operation finished.
    KLED_ERR_TIMEOUT = 6,
    /// The agent or engine broke the conversation (crashed, vanished, spoke nonsense).
    KLED_ERR_AGENT = 7,
    /// A file-system or OS error on the host.
    KLED_ERR_IO = 8,
    /// The configuration file or environment is wrong.
    KLED_ERR_CONFIG = 9,
    /// A pointer argument that must not be NULL was NULL.
    KLED_ERR_NULL_ARGUMENT = 10,
    /// A string argument was not valid UTF-8.
    KLED_ERR_INVALID_UTF8 = 11,
    /// libkled panicked (a bug in kled; please report it). The call had no
    /// effect beyond what it did before the panic; the library stays usable.
    KLED_ERR_PANIC = 12,
}

pub use kled_status::*;

impl From<ErrorKind> for kled_status {
    fn from(kind: ErrorKind) -> kled_status {
        // Exhaustive on purpose: a new core kind must get its own status.
        match kind {
            ErrorKind::NotFound => KLED_ERR_NOT_FOUND,
            ErrorKind::AlreadyExists => KLED_ERR_ALREADY_EXISTS,
            ErrorKind::InvalidArgument => KLED_ERR_INVALID_ARGUMENT,
            ErrorKind::RuntimeUnavailable => KLED_ERR_RUNTIME_UNAVAILABLE,
            ErrorKind::InvalidState => KLED_ERR_INVALID_STATE,
            ErrorKind::Timeout => KLED_ERR_TIMEOUT,
            ErrorKind::Agent => KLED_ERR_AGENT,
            ErrorKind::Io => KLED_ERR_IO,
            ErrorKind::Config => KLED_ERR_CONFIG,
        }
    }
}

/// Static NUL-terminated names, the same words the core uses for its kinds.
fn name(status: i32) -> &'static [u8] {
    match status {
        0 => b"ok\0",
        1 => b"not_found\0",
        2 => b"already_exists\0",
        3 => b"invalid_argument\0",
        4 => b"runtime_unavailable\0",
        5 => b"invalid_state\0",
        6 => b"timeout\0",
        7 => b"agent\0",
        8 => b"io\0",
        9 => b"config\0",
        10 => b"null_argument\0",
        11 => b"invalid_utf8\0",
        12 => b"panic\0",
        _ => b"unknown\0",
    }
}

/// A short stable name for a status: "ok", "not_found", "already_exists",
/// "invalid_argument", "runtime_unavailable", "invalid_state", "timeout",
/// "agent", "io", "config", "null_argument", "invalid_utf8", "panic", or
/// "unknown" for a value this version does not know.
///
/// Takes an int32_t rather than a kled_status so that any value is safe to pass.
/// Ownership: the string is static; never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn kled_status_name(status: i32) -> *const c_char {
    ffi!([] { Ok(name(status).as_ptr().cast()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_core_kinds() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidArgument,
            ErrorKind::RuntimeUnavailable,
            ErrorKind::InvalidState,
            ErrorKind::Timeout,
            ErrorKind::Agent,
            ErrorKind::Io,
            ErrorKind::Config,
        ] {
            let status = kled_status::from(kind) as i32;
            assert_eq!(&name(status)[..name(status).len() - 1], kind.as_str().as_bytes());
        }
        assert_eq!(name(-1), b"unknown\0");
        assert_eq!(name(KLED_ERR_PANIC as i32), b"panic\0");
    }
}
