//! Exec specs in, results and streams out.

use crate::args::{json, put};
use crate::guard::{Failure, Result};
use crate::runtime::{block_on, keep_forever};
use crate::status::*;
use kled_core::{ExecControl, ExecEvent, ExecRequest, ExecResult, ExecStream, ExitStatus};
use std::sync::Mutex;
use std::time::Duration;

/// An exec spec: an ExecRequest object, or just its command (a string or an argv array).
pub(crate) fn exec_request(spec: &str, stdin: Option<&[u8]>) -> Result<ExecRequest> {
    let value = json(spec, "spec_json")?;
    let value = match value {
        command @ (serde_json::Value::String(_) | serde_json::Value::Array(_)) => {
            serde_json::json!({ "command": command })
        }
        other => other,
    };
    let mut req: ExecRequest = serde_json::from_value(value)
        .map_err(|e| Failure::invalid(format!("spec_json is not a valid exec spec: {e}")))?;
    if let Some(data) = stdin {
        if req.stdin.is_some() {
            return Err(Failure::invalid("stdin is given twice: as bytes and in spec_json"));
        }
        req.stdin = Some(data.to_vec());
    }
    Ok(req)
}

/// How a command ended. Also the exit part of a streamed exec.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kled_exit {
    /// True when the command exited by itself (then `exit_code` is its status).
    pub has_exit_code: bool,
    /// The exit status, when `has_exit_code`; else 0.
    pub exit_code: i32,
    /// True when a signal killed the command (then `signal` is its number).
    pub has_signal: bool,
    /// The signal number, when `has_signal`; else 0.
    pub signal: i32,
    /// The command ran past its timeout and its process group was killed;
    /// the output so far is kept.
    pub timed_out: bool,
    /// Some output was dropped because it exceeded `max_output`.
    pub truncated: bool,
    /// Wall-clock run time in seconds.
    pub duration_secs: f64,
}

impl kled_exit {
    const ZERO: kled_exit = kled_exit {
        has_exit_code: false,
        exit_code: 0,
        has_signal: false,
        signal: 0,
        timed_out: false,
        truncated: false,
        duration_secs: 0.0,
    };

    fn new(code: Option<i32>, signal: Option<i32>, timed_out: bool, truncated: bool, duration: Duration) -> kled_exit {
        kled_exit {
            has_exit_code: code.is_some(),
            exit_code: code.unwrap_or(0),
            has_signal: signal.is_some(),
            signal: signal.unwrap_or(0),
            timed_out,
            truncated,
            duration_secs: duration.as_secs_f64(),
        }
    }
}

impl From<&ExitStatus> for kled_exit {
    fn from(s: &ExitStatus) -> kled_exit {
        kled_exit::new(s.exit_code, s.signal, s.timed_out, s.truncated, s.duration)
    }
}

impl From<&ExecResult> for kled_exit {
    fn from(r: &ExecResult) -> kled_exit {
        kled_exit::new(r.exit_code, r.signal, r.timed_out, r.truncated, r.duration)
    }
}

/// A finished command's output and exit. Immutable.
///
/// Thread safety: may be read from any number of threads at once; must not
/// be freed while another thread reads it.
pub struct kled_exec_result {
    inner: ExecResult,
}

impl kled_exec_result {
    pub(crate) fn boxed(inner: ExecResult) -> *mut kled_exec_result {
        Box::into_raw(Box::new(kled_exec_result { inner }))
    }
}

/// Lent for empty output, so that C never gets a dangling or NULL pointer.
static NO_BYTES: [u8; 1] = [0];

fn lend(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        NO_BYTES.as_ptr()
    } else {
        bytes.as_ptr()
    }
}

/// The command's stdout: `*len_out` bytes at `*data_out` (not NUL-terminated,
/// may contain NUL; never NULL, even when empty).
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: lent: valid until the result is freed; do not free it.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_result_stdout(
    result: *const kled_exec_result,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> kled_status {
    ffi!([result, data_out, len_out] {
        // SAFETY: all checked non-NULL; a live result and writable slots.
        unsafe {
            let out = &(*result).inner.stdout;
            put(data_out, lend(out));
            put(len_out, out.len());
        }
        Ok(KLED_OK)
    })
}

/// The command's stderr, as kled_exec_result_stdout.
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: lent: valid until the result is freed; do not free it.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_result_stderr(
    result: *const kled_exec_result,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> kled_status {
    ffi!([result, data_out, len_out] {
        // SAFETY: all checked non-NULL; a live result and writable slots.
        unsafe {
            let err = &(*result).inner.stderr;
            put(data_out, lend(err));
            put(len_out, err.len());
        }
        Ok(KLED_OK)
    })
}

/// How the command ended: exit code or signal, timed_out, truncated, duration.
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_result_exit(
    result: *const kled_exec_result,
    exit_out: *mut kled_exit,
) -> kled_status {
    ffi!([result, exit_out] {
        // SAFETY: both checked non-NULL; a live result and a writable slot.
        unsafe { put(exit_out, kled_exit::from(&(*result).inner)) };
        Ok(KLED_OK)
    })
}

/// Frees a result. NULL: no-op. Freeing twice is undefined behaviour.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_result_free(result: *mut kled_exec_result) {
    ffi!([] {
        if !result.is_null() {
            // SAFETY: made by Box::into_raw in kled_exec_result::boxed; freed once, per the contract.
            drop(unsafe { Box::from_raw(result) });
        }
        Ok(())
    })
}

/// What kled_exec_stream_next found.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kled_event_kind {
    /// Nothing happened within the timeout; call again.
    KLED_EVENT_NONE = 0,
    /// A chunk of stdout in `data`/`len`.
    KLED_EVENT_STDOUT = 1,
    /// A chunk of stderr in `data`/`len`.
    KLED_EVENT_STDERR = 2,
    /// The command ended; see `exit`. The next call gives KLED_EVENT_END.
    KLED_EVENT_EXIT = 3,
    /// The stream is over (after the exit, or after an error); every further call gives this.
    KLED_EVENT_END = 4,
}

/// One step of a streamed exec, filled by kled_exec_stream_next.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kled_event {
    /// What happened.
    pub kind: kled_event_kind,
    /// For STDOUT and STDERR: the chunk (not NUL-terminated). Lent: valid
    /// until the next call on the stream, or its free. Else NULL.
    pub data: *const u8,
    /// Number of bytes at `data` (0 unless STDOUT or STDERR).
    pub len: usize,
    /// For EXIT: how the command ended. Else all zero.
    pub exit: kled_exit,
}

impl kled_event {
    fn bare(kind: kled_event_kind) -> kled_event {
        kled_event { kind, data: std::ptr::null(), len: 0, exit: kled_exit::ZERO }
    }
}

struct StreamState {
    stream: ExecStream,
    /// The chunk lent by the last STDOUT/STDERR event.
    chunk: Vec<u8>,
    done: bool,
}

/// A running command's output and exit, as they happen.
///
/// Thread safety: may be used from any thread. kled_exec_stream_next calls
/// on one stream are serialised; kled_exec_stream_signal, _write,
/// _close_stdin and _resize do not wait for a next() blocked on another
/// thread. A stream belongs to the process that started it: after fork()
/// the child gets KLED_ERR_INVALID_STATE from it (and may free it, which
/// leaves the parent's command alone).
pub struct kled_exec_stream {
    pid: u32,
    state: Mutex<StreamState>,
    control: ExecControl,
}

impl kled_exec_stream {
    pub(crate) fn boxed(stream: ExecStream) -> *mut kled_exec_stream {
        let control = stream.control();
        let state = StreamState { stream, chunk: Vec::new(), done: false };
        Box::into_raw(Box::new(kled_exec_stream { pid: std::process::id(), state: Mutex::new(state), control }))
    }

    /// The control handle, in the process that owns the stream. An exited
    /// command is an error only when that is known without waiting.
    fn control(&self) -> Result<&ExecControl> {
        self.check_process()?;
        if let Ok(state) = self.state.try_lock() {
            if state.done {
                return Err(Failure::new(KLED_ERR_INVALID_STATE, "the command has already exited"));
            }
        }
        Ok(&self.control)
    }

    fn check_process(&self) -> Result<()> {
        if self.pid != std::process::id() {
            return Err(Failure::new(
                KLED_ERR_INVALID_STATE,
                format!(
                    "this exec stream belongs to process {} (it was started before fork()); only that process can use it",
                    self.pid
                ),
            ));
        }
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, StreamState>> {
        self.check_process()?;
        // A panic while it was held leaves a state that is still consistent.
        Ok(self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Waits for the next event of a streamed exec: a chunk of stdout or
/// stderr, the exit, or the end.
///
/// `timeout_ms`: how long to wait; negative waits until something happens,
/// 0 only takes what has already arrived. When the time passes first, the
/// event is KLED_EVENT_NONE.
///
/// Errors: KLED_ERR_NULL_ARGUMENT; KLED_ERR_AGENT when the connection to the
/// terminal was lost (the stream is then over); KLED_ERR_INVALID_STATE for a
/// stream inherited over fork(). On failure `*event_out` is KLED_EVENT_NONE.
/// Ownership: chunk data is lent, valid until the next call on this stream or its free.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_next(
    stream: *mut kled_exec_stream,
    timeout_ms: i32,
    event_out: *mut kled_event,
) -> kled_status {
    ffi!([stream, event_out] {
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(event_out, kled_event::bare(kled_event_kind::KLED_EVENT_NONE)) };
        // SAFETY: checked non-NULL; a live stream.
        let mut state = unsafe { &*stream }.lock()?;
        if state.done {
            // SAFETY: as above.
            unsafe { put(event_out, kled_event::bare(kled_event_kind::KLED_EVENT_END)) };
            return Ok(KLED_OK);
        }
        let next = {
            let s = &mut state.stream;
            if timeout_ms < 0 {
                block_on(s.next())?
            } else {
                let wait = Duration::from_millis(timeout_ms as u64);
                // Built inside the runtime: a tokio timer needs its context. Cancelling
                // `next` is safe: it only awaits a channel receive.
                match block_on(async { tokio::time::timeout(wait, s.next()).await })? {
                    Ok(next) => next,
                    Err(_) => return Ok(KLED_OK),
                }
            }
        };
        let event = match next {
            None => {
                state.done = true;
                kled_event::bare(kled_event_kind::KLED_EVENT_END)
            }
            Some(Err(e)) => {
                state.done = true;
                return Err(e.into());
            }
            Some(Ok(ExecEvent::Exit(status))) => {
                state.done = true;
                state.chunk = Vec::new();
                kled_event { exit: kled_exit::from(&status), ..kled_event::bare(kled_event_kind::KLED_EVENT_EXIT) }
            }
            Some(Ok(ExecEvent::Stdout(chunk))) => lend_chunk(&mut state, chunk, kled_event_kind::KLED_EVENT_STDOUT),
            Some(Ok(ExecEvent::Stderr(chunk))) => lend_chunk(&mut state, chunk, kled_event_kind::KLED_EVENT_STDERR),
        };
        // SAFETY: as above.
        unsafe { put(event_out, event) };
        Ok(KLED_OK)
    })
}

fn lend_chunk(state: &mut StreamState, chunk: Vec<u8>, kind: kled_event_kind) -> kled_event {
    state.chunk = chunk;
    kled_event { data: lend(&state.chunk), len: state.chunk.len(), ..kled_event::bare(kind) }
}

/// Sends a signal (e.g. 15 for SIGTERM) to the command's process group,
/// also while another thread waits in kled_exec_stream_next. The exit then
/// arrives through kled_exec_stream_next.
///
/// Errors: KLED_ERR_NULL_ARGUMENT; KLED_ERR_INVALID_ARGUMENT (not a signal
/// number); KLED_ERR_INVALID_STATE (the stream already gave its exit, or was
/// inherited over fork()); KLED_ERR_AGENT (connection lost).
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_signal(stream: *mut kled_exec_stream, signal: i32) -> kled_status {
    ffi!([stream] {
        if !(1..=64).contains(&signal) {
            return Err(Failure::invalid(format!("{signal} is not a signal number")));
        }
        // SAFETY: checked non-NULL; a live stream.
        unsafe { &*stream }.control()?.signal(signal)?;
        Ok(KLED_OK)
    })
}

/// Writes `len` bytes to the command's stdin. The stream must have been
/// started with `"stdin_open": true` in its spec; `data` may be NULL when
/// `len` is 0.
///
/// Errors: KLED_ERR_NULL_ARGUMENT; KLED_ERR_INVALID_STATE (exited, or
/// inherited over fork()); KLED_ERR_INVALID_ARGUMENT on a neovim terminal;
/// KLED_ERR_AGENT (connection lost).
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_write(
    stream: *mut kled_exec_stream,
    data: *const u8,
    len: usize,
) -> kled_status {
    ffi!([stream] {
        // SAFETY: per the contract, `len` readable bytes at `data`.
        let data = unsafe { crate::args::bytes(data, len, "data")? };
        // SAFETY: checked non-NULL; a live stream.
        unsafe { &*stream }.control()?.write_stdin(data)?;
        Ok(KLED_OK)
    })
}

/// Ends the command's stdin (EOF; on a pseudo-terminal, ^D).
///
/// Errors: as kled_exec_stream_write.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_close_stdin(stream: *mut kled_exec_stream) -> kled_status {
    ffi!([stream] {
        // SAFETY: checked non-NULL; a live stream.
        unsafe { &*stream }.control()?.close_stdin()?;
        Ok(KLED_OK)
    })
}

/// Sets the size of the command's pseudo-terminal (a spec with
/// `"tty": {"rows": R, "cols": C}`); the command gets SIGWINCH.
///
/// Errors: KLED_ERR_INVALID_ARGUMENT for a zero size or a neovim terminal;
/// otherwise as kled_exec_stream_write.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_resize(stream: *mut kled_exec_stream, rows: u16, cols: u16) -> kled_status {
    ffi!([stream] {
        if rows == 0 || cols == 0 {
            return Err(Failure::invalid(format!("{rows}x{cols} is not a terminal size")));
        }
        // SAFETY: checked non-NULL; a live stream.
        unsafe { &*stream }.control()?.resize(rows, cols)?;
        Ok(KLED_OK)
    })
}

/// Frees a stream. If the command has not exited yet, it is killed (its
/// whole process group). NULL: no-op. Freeing twice is undefined behaviour.
#[no_mangle]
pub unsafe extern "C" fn kled_exec_stream_free(stream: *mut kled_exec_stream) {
    ffi!([] {
        if stream.is_null() {
            return Ok(());
        }
        // SAFETY: made by Box::into_raw in kled_exec_stream::boxed; freed once, per the contract.
        let stream = unsafe { Box::from_raw(stream) };
        if stream.pid != std::process::id() {
            // Inherited over fork(): dropping it would kill the parent's command
            // and touch the parent's runtime, which has no threads here.
            keep_forever(stream);
        }
        Ok(())
    })
}
