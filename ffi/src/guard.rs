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

/// Why a call failed: the status C sees, the message it can read and the
/// core's hint in C terms (also at the end of the message).
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: kled_status,
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    pub fn new(status: kled_status, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into(), hint: None }
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
        let hint = e.hint().map(crate::hint::render);
        Failure { status: e.kind().into(), message: kled_core::with_hint(e.message(), hint.as_deref()), hint }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_HINT: RefCell<CString> = RefCell::new(CString::default());
}

fn c_text(text: &str) -> CString {
    // A message never has a NUL of its own in practice; if it did, C would
    // see it cut there, so replace it rather than lose the whole message.
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

#[cfg(test)]
fn set_last_error(message: &str) {
    set_last_failure(message, None)
}

fn set_last_failure(message: &str, hint: Option<&str>) {
    // try_with: during thread teardown the slots may be gone; the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c_text(message));
    let _ = LAST_HINT.try_with(|slot| *slot.borrow_mut() = c_text(hint.unwrap_or_default()));
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
            set_last_failure(&failure.message, failure.hint.as_deref());
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

/// What to do next about the last failed call on this thread, in terms of
/// libkled's functions (e.g. "start it with kled_terminal_start() on
/// terminal \"dev\""), as UTF-8; "" when kled had no hint. The same words end
/// kled_last_error_message's message.
///
/// Ownership and lifetime: as for kled_last_error_message (valid until the
/// next failing call on this thread; never NULL). Thread-safe.
#[no_mangle]
pub extern "C" fn kled_last_error_hint() -> *const c_char {
    ffi!([] { Ok(LAST_HINT.try_with(|slot| slot.borrow().as_ptr()).unwrap_or(b"\0".as_ptr().cast())) })
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

    #[test]
    fn a_core_hint_ends_the_message_and_stands_alone() {
        let hint = || unsafe { CStr::from_ptr(kled_last_error_hint()) }.to_str().unwrap().to_string();
        let status: kled_status = run(|| -> Result<kled_status> {
            Err(kled_core::Error::new(kled_core::ErrorKind::InvalidState, "terminal \"dev\" is stopped")
                .with_hint(kled_core::Hint::StartTerminal { name: "dev".into() })
                .into())
        });
        assert_eq!(status, KLED_ERR_INVALID_STATE);
        assert_eq!(hint(), "start it with kled_terminal_start() on terminal \"dev\"");
        assert_eq!(last(), format!("terminal \"dev\" is stopped; {}", hint()));
        let _: kled_status = run(|| -> Result<kled_status> { Err(Failure::invalid("no hint here")) });
        assert_eq!(hint(), "");
    }
}
