//! The one door every export goes through: `ffi!` checks the pointer
//! arguments that must not be NULL, runs the body under `catch_unwind` (a
//! panic must never unwind into C, where it is undefined behaviour), and
//! turns a failure into a status plus a per-thread message.
//!
//! `tests/exports_are_guarded.rs` fails if an export does not use it.

use crate::status::*;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Why a call failed: the status C sees and the message it can read.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: kled_status,
    pub message: String,
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    pub fn new(status: kled_status, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }

    pub fn null(argument: &str) -> Failure {
        Failure::new(KLED_ERR_NULL_ARGUMENT, format!("argument `{argument}` must not be NULL"))
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(KLED_ERR_INVALID_ARGUMENT, message)
    }

    fn panic(payload: Box<dyn Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Failure::new(KLED_ERR_PANIC, format!("internal error in libkled (please report it): {what}"))
    }
}

impl From<kled_core::Error> for Failure {
    fn from(e: kled_core::Error) -> Failure {
        Failure::new(e.kind().into(), e.message())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message never has a NUL of its own in practice; if it did, C would
    // see it cut there, so replace it rather than lose the whole message.
    let c = CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default();
    // try_with: during thread teardown the slot may be gone; the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

/// What an export returns when its body failed before producing a value.
pub(crate) trait Fallback {
    fn fallback(failure: &Failure) -> Self;
}

impl Fallback for kled_status {
    fn fallback(failure: &Failure) -> Self {
        failure.status
    }
}

/// Free functions return nothing; a failure there is only recorded.
impl Fallback for () {
    fn fallback(_: &Failure) -> Self {}
}

impl Fallback for *const c_char {
    fn fallback(_: &Failure) -> Self {
        std::ptr::null()
    }
}

impl Fallback for u32 {
    fn fallback(_: &Failure) -> Self {
        0
    }
}

/// Runs an export's body: catches panics, records the failure's message.
pub(crate) fn run<R: Fallback>(body: impl FnOnce() -> Result<R>) -> R {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(Failure::panic(payload)));
    match outcome {
        Ok(value) => value,
        Err(failure) => {
            set_last_error(&failure.message);
            R::fallback(&failure)
        }
    }
}

/// `ffi!([arg, ...] { body })`: fails with `KLED_ERR_NULL_ARGUMENT` naming
/// the first listed pointer that is NULL, else runs `body` (which returns
/// `Result<R>`) through [`run`]. Pointers that may be NULL are not listed.
macro_rules! ffi {
    ([$($arg:ident),* $(,)?] $body:block) => {
        $crate::guard::run(move || {
            $(
                if $arg.is_null() {
                    return Err($crate::guard::Failure::null(stringify!($arg)));
                }
            )*
            $body
        })
    };
}

/// The message of the last call on this thread that failed, as UTF-8.
///
/// Ownership: the string belongs to libkled and stays valid until the next
/// failing kled call on this thread; copy it to keep it. Successful calls
/// do not clear it, so read it only right after a call returned a status
/// other than KLED_OK. Never NULL: "" when no call on this thread has failed.
/// Thread-safe: each thread has its own message.
#[no_mangle]
pub extern "C" fn kled_last_error_message() -> *const c_char {
    ffi!([] {
        // The pointer stays valid after the borrow ends: the CString's heap
        // buffer lives in the thread-local until it is replaced by the next failure.
        Ok(LAST_ERROR.try_with(|slot| slot.borrow().as_ptr()).unwrap_or(b"\0".as_ptr().cast()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(kled_last_error_message()) }.to_str().unwrap().to_string()
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        let status: kled_status = run(|| -> Result<kled_status> { panic!("boom {}", 42) });
        assert_eq!(status, KLED_ERR_PANIC);
        assert!(last().contains("boom 42"), "{}", last());
    }

    #[test]
    fn null_arguments_are_named() {
        fn call(p: *const u8) -> kled_status {
            ffi!([p] { Ok(KLED_OK) })
        }
        assert_eq!(call(std::ptr::null()), KLED_ERR_NULL_ARGUMENT);
        assert!(last().contains("`p`"), "{}", last());
        assert_eq!(call(b"x".as_ptr()), KLED_OK);
    }

    #[test]
    fn messages_are_per_thread_and_survive_success() {
        set_last_error("main thread");
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            set_last_error("other thread");
            assert_eq!(last(), "other thread");
        })
        .join()
        .unwrap();
        let _: kled_status = run(|| Ok(KLED_OK));
        assert_eq!(last(), "main thread");
        set_last_error("with\0nul");
        assert_eq!(last(), "with\u{fffd}nul");
    }
}
