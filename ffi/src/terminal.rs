//! `kled_terminal`: lifecycle, exec, code and files of one named terminal.

use crate::args::{bytes, json, owned_json, put, text};
use crate::buf::kled_buf;
use crate::exec::{exec_request, kled_exec_result, kled_exec_stream};
use crate::guard::{Failure, Result};
use crate::process::ProcessManager;
use crate::runtime::block_on;
use crate::status::*;
use kled_core::fork::PerProcess;
use kled_core::{CodeRequest, Kind, State, Terminal};
use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::Arc;

/// A handle on one named terminal. Freeing the handle (kled_terminal_free)
/// does not stop or remove the terminal, which lives in the state directory
/// and may also be used by other handles and processes.
///
/// Thread safety: a terminal handle may be used from any number of threads
/// at once (e.g. several kled_terminal_execute in parallel); it must not be
/// freed while another thread uses it.
pub struct kled_terminal {
    /// This process's core handle (kled_core::fork: made again in a forked child).
    inner: PerProcess<Terminal>,
    /// Where a forked child gets its core handle from.
    manager: Arc<ProcessManager>,
    /// The name, NUL-terminated, lent by kled_terminal_name.
    name: CString,
    kind: Kind,
}

impl kled_terminal {
    pub(crate) fn boxed(inner: Terminal, manager: &Arc<ProcessManager>) -> Result<*mut kled_terminal> {
        // Names are validated by the core ([A-Za-z0-9_.-]), so never contain NUL.
        let name = CString::new(inner.name()).map_err(|_| Failure::invalid("terminal name contains NUL"))?;
        let kind = inner.kind();
        let handle = kled_terminal { inner: PerProcess::new(inner), manager: Arc::clone(manager), name, kind };
        Ok(Box::into_raw(Box::new(handle)))
    }

    /// This process's core handle on the terminal.
    fn core(&self) -> Result<Terminal> {
        self.inner.get(|| {
            let name = self.name.to_str().map_err(|_| Failure::invalid("terminal name is not UTF-8"))?;
            Ok(block_on(self.manager.get()?.get_terminal(name))??)
        })
    }
}

/// The lifecycle state of a terminal.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kled_state {
    /// Created, never started.
    KLED_STATE_CREATED = 0,
    /// Started: commands can run.
    KLED_STATE_RUNNING = 1,
    /// Stopped; its data is kept.
    KLED_STATE_STOPPED = 2,
    /// Starting failed; the reason is in kled_terminal_info's "error".
    KLED_STATE_FAILED = 3,
}

impl From<State> for kled_state {
    fn from(s: State) -> kled_state {
        match s {
            State::Created => kled_state::KLED_STATE_CREATED,
            State::Running => kled_state::KLED_STATE_RUNNING,
            State::Stopped => kled_state::KLED_STATE_STOPPED,
            State::Failed => kled_state::KLED_STATE_FAILED,
        }
    }
}

/// The terminal of a handle the caller guarantees live.
///
/// # Safety
/// `t` is non-NULL and a live handle from this library.
unsafe fn core_terminal(t: *const kled_terminal) -> Result<Terminal> {
    // SAFETY: per this function's contract.
    unsafe { &*t }.core()
}

/// Frees a terminal handle (not the terminal). NULL: no-op.
/// Freeing twice, or using the handle afterwards, is undefined behaviour.
/// (In a child forked after libkled started, the parent's connections are
/// kept, never closed: see the overview on fork.)
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_free(terminal: *mut kled_terminal) {
    ffi!([] {
        if !terminal.is_null() {
            // SAFETY: made by Box::into_raw in kled_terminal::boxed; freed once, per the contract.
            // In a forked child, PerProcess leaks the parent's core handle.
            drop(unsafe { Box::from_raw(terminal) });
        }
        Ok(())
    })
}

/// The terminal's name.
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: `*name_out` is lent: valid until the handle is freed; do not free it.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_name(
    terminal: *const kled_terminal,
    name_out: *mut *const c_char,
) -> kled_status {
    ffi!([terminal, name_out] {
        // SAFETY: both checked non-NULL; a live handle and a writable slot.
        unsafe { put(name_out, (*terminal).name.as_ptr()) };
        Ok(KLED_OK)
    })
}

/// The terminal's kind (runtime name: "local", "container", ...).
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: `*kind_out` is a static string; do not free it.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_kind(
    terminal: *const kled_terminal,
    kind_out: *mut *const c_char,
) -> kled_status {
    ffi!([terminal, kind_out] {
        // SAFETY: checked non-NULL; a live handle.
        let kind = unsafe { &*terminal }.kind;
        let name = kind_name(kind);
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(kind_out, name.as_ptr().cast()) };
        Ok(KLED_OK)
    })
}

/// A kind's name as a static C string; a unit test holds it equal to
/// `Kind::as_str` for every kind (in release builds too, unlike a debug_assert).
fn kind_name(kind: kled_core::Kind) -> &'static [u8] {
    match kind {
        kled_core::Kind::Local => b"local\0",
        kled_core::Kind::Container => b"container\0",
        kled_core::Kind::Gvisor => b"gvisor\0",
        kled_core::Kind::Kata => b"kata\0",
        kled_core::Kind::Neovim => b"neovim\0",
        kled_core::Kind::NeovimKata => b"neovim-kata\0",
    }
}

#[cfg(test)]
mod kind_name_tests {
    #[test]
    fn every_kind_has_its_own_name() {
        for kind in kled_core::Kind::ALL {
            let name = super::kind_name(kind);
            assert_eq!(&name[..name.len() - 1], kind.as_str().as_bytes());
            assert_eq!(name.last(), Some(&0));
        }
    }
}

/// The terminal's current state, read from the state directory (another
/// process may have changed it).
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_NOT_FOUND (removed meanwhile),
/// KLED_ERR_CONFIG (corrupt record), KLED_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_state(
    terminal: *const kled_terminal,
    state_out: *mut kled_state,
) -> kled_status {
    ffi!([terminal, state_out] {
        // SAFETY: checked non-NULL; a live handle.
        let state = block_on(unsafe { core_terminal(terminal) }?.state())??;
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(state_out, state.into()) };
        Ok(KLED_OK)
    })
}

/// What kled_manager_list_terminals shows of this terminal, as a JSON object:
/// `{"name", "kind", "state", "options", "created_at", "error"?}`.
///
/// Errors: as kled_terminal_state.
/// Ownership: on success `*json_out` is yours (kled_string_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_info(terminal: *const kled_terminal, json_out: *mut *mut c_char) -> kled_status {
    ffi!([terminal, json_out] {
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(json_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live handle.
        let info = block_on(unsafe { core_terminal(terminal) }?.info())??;
        // SAFETY: as above.
        unsafe { put(json_out, owned_json(&info)?) };
        Ok(KLED_OK)
    })
}

/// Makes the terminal runnable (for "local": starts its agent daemon).
/// Idempotent.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_NOT_FOUND, KLED_ERR_RUNTIME_UNAVAILABLE
/// (e.g. its shell is missing), KLED_ERR_AGENT, KLED_ERR_TIMEOUT, KLED_ERR_IO.
/// A failed start leaves the terminal in KLED_STATE_FAILED.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_start(terminal: *const kled_terminal) -> kled_status {
    ffi!([terminal] {
        // SAFETY: checked non-NULL; a live handle.
        block_on(unsafe { core_terminal(terminal) }?.start())??;
        Ok(KLED_OK)
    })
}

/// Stops everything running in the terminal and keeps its data. Idempotent.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_NOT_FOUND, KLED_ERR_AGENT, KLED_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_stop(terminal: *const kled_terminal) -> kled_status {
    ffi!([terminal] {
        // SAFETY: checked non-NULL; a live handle.
        block_on(unsafe { core_terminal(terminal) }?.stop())??;
        Ok(KLED_OK)
    })
}

/// Stops the terminal and deletes it and its data. The handle stays valid
/// (free it with kled_terminal_free); further calls on it fail with
/// KLED_ERR_NOT_FOUND.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_NOT_FOUND, KLED_ERR_AGENT, KLED_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_remove(terminal: *const kled_terminal) -> kled_status {
    ffi!([terminal] {
        // SAFETY: checked non-NULL; a live handle.
        block_on(unsafe { core_terminal(terminal) }?.remove())??;
        Ok(KLED_OK)
    })
}

/// Runs a command and collects its output. A non-zero exit, a signal or a
/// timeout is a result (see kled_exec_result_exit), not an error.
///
/// `spec_json` is an exec spec: a JSON object
/// `{"command": "shell string" | ["argv", ...], "env": {"K": "V"}, "cwd": "dir",
///   "stdin": "text", "timeout_secs": 1.5, "max_output": bytes_per_stream}`
/// (only "command" is required; unknown keys are errors), or just the
/// command: `"echo hi"` or `["ls", "-l"]`. A string runs with the terminal's
/// shell; an argv runs directly (a missing program gives exit 127).
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT
/// (bad JSON or spec), KLED_ERR_NOT_FOUND, KLED_ERR_INVALID_STATE (not running),
/// KLED_ERR_AGENT, KLED_ERR_IO.
/// Ownership: on success `*result_out` is yours: free it with
/// kled_exec_result_free. On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_execute(
    terminal: *const kled_terminal,
    spec_json: *const c_char,
    result_out: *mut *mut kled_exec_result,
) -> kled_status {
    ffi!([terminal, spec_json, result_out] {
        // SAFETY: all checked non-NULL; the caller's pointers are valid per the header.
        unsafe { execute(terminal, spec_json, None, result_out) }
    })
}

/// kled_terminal_execute with stdin given as bytes (`stdin_len` bytes at
/// `stdin_data`, which may be NULL when `stdin_len` is 0), then EOF. The spec
/// must not also have "stdin".
///
/// Errors and ownership: as kled_terminal_execute.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_execute_with_stdin(
    terminal: *const kled_terminal,
    spec_json: *const c_char,
    stdin_data: *const u8,
    stdin_len: usize,
    result_out: *mut *mut kled_exec_result,
) -> kled_status {
    ffi!([terminal, spec_json, result_out] {
        // SAFETY: stdin_data is NULL only with length 0, else readable, per the header.
        let stdin = unsafe { bytes(stdin_data, stdin_len, "stdin_data") }?;
        // SAFETY: the others checked non-NULL and valid per the header.
        unsafe { execute(terminal, spec_json, Some(stdin), result_out) }
    })
}

/// # Safety
/// All pointers non-NULL and valid, as the exports above check and document.
unsafe fn execute(
    t: *const kled_terminal,
    spec_json: *const c_char,
    stdin: Option<&[u8]>,
    result_out: *mut *mut kled_exec_result,
) -> Result<kled_status> {
    // SAFETY: per this function's contract.
    unsafe { put(result_out, std::ptr::null_mut()) };
    // SAFETY: per this function's contract.
    let (t, spec) = unsafe { (core_terminal(t)?, text(spec_json, "spec_json")?) };
    let req = exec_request(spec, stdin)?;
    let result = block_on(t.exec(req))??;
    // SAFETY: per this function's contract.
    unsafe { put(result_out, kled_exec_result::boxed(result)) };
    Ok(KLED_OK)
}

/// Starts a command and returns a stream of its output and exit, read with
/// kled_exec_stream_next. `spec_json` as for kled_terminal_execute.
/// Freeing the stream before the exit kills the command.
///
/// Errors: as kled_terminal_execute.
/// Ownership: on success `*stream_out` is yours: free it with
/// kled_exec_stream_free. On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_exec_stream(
    terminal: *const kled_terminal,
    spec_json: *const c_char,
    stream_out: *mut *mut kled_exec_stream,
) -> kled_status {
    ffi!([terminal, spec_json, stream_out] {
        // SAFETY: all checked non-NULL; valid per the header.
        unsafe { exec_stream(terminal, spec_json, None, stream_out) }
    })
}

/// kled_terminal_exec_stream with stdin given as bytes, as for
/// kled_terminal_execute_with_stdin.
///
/// Errors and ownership: as kled_terminal_exec_stream.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_exec_stream_with_stdin(
    terminal: *const kled_terminal,
    spec_json: *const c_char,
    stdin_data: *const u8,
    stdin_len: usize,
    stream_out: *mut *mut kled_exec_stream,
) -> kled_status {
    ffi!([terminal, spec_json, stream_out] {
        // SAFETY: stdin_data is NULL only with length 0, else readable, per the header.
        let stdin = unsafe { bytes(stdin_data, stdin_len, "stdin_data") }?;
        // SAFETY: the others checked non-NULL and valid per the header.
        unsafe { exec_stream(terminal, spec_json, Some(stdin), stream_out) }
    })
}

/// # Safety
/// All pointers non-NULL and valid, as the exports above check and document.
unsafe fn exec_stream(
    t: *const kled_terminal,
    spec_json: *const c_char,
    stdin: Option<&[u8]>,
    stream_out: *mut *mut kled_exec_stream,
) -> Result<kled_status> {
    // SAFETY: per this function's contract.
    unsafe { put(stream_out, std::ptr::null_mut()) };
    // SAFETY: per this function's contract.
    let (t, spec) = unsafe { (core_terminal(t)?, text(spec_json, "spec_json")?) };
    let req = exec_request(spec, stdin)?;
    let stream = block_on(t.exec_stream(req))??;
    // SAFETY: per this function's contract.
    unsafe { put(stream_out, kled_exec_stream::boxed(stream)) };
    Ok(KLED_OK)
}

/// Runs a snippet of code with the language's interpreter (or compiler) in
/// the terminal. `lang`: LibreChat's ids (py js ts c cpp java php rs go d f90
/// r bash) or long names (python, javascript, ...).
///
/// Errors: as kled_terminal_execute; KLED_ERR_INVALID_ARGUMENT for an unknown
/// language, KLED_ERR_RUNTIME_UNAVAILABLE when its interpreter is not installed.
/// Ownership: on success `*result_out` is yours (kled_exec_result_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_run_code(
    terminal: *const kled_terminal,
    lang: *const c_char,
    code: *const c_char,
    result_out: *mut *mut kled_exec_result,
) -> kled_status {
    ffi!([terminal, lang, code, result_out] {
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(result_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; live handle, NUL-terminated strings.
        let (t, lang, code) = unsafe { (core_terminal(terminal)?, text(lang, "lang")?, text(code, "code")?) };
        let result = block_on(t.run_code(lang, code))??;
        // SAFETY: as above.
        unsafe { put(result_out, kled_exec_result::boxed(result)) };
        Ok(KLED_OK)
    })
}

/// kled_terminal_run_code with the whole request as a JSON object:
/// `{"lang": "py", "code": "print(1)", "args": ["a"], "stdin": "text",
///   "timeout_secs": 5, "remote": false}` (only "lang" and "code" are
/// required; unknown keys are errors). "args" are the program's arguments.
///
/// With `"remote": true` the code runs on the Code Interpreter API (LibreChat's,
/// or `kled serve codeapi`) instead of inside the terminal, which then need not
/// be started: the service is `librechat.base_url` in the configuration or
/// `LIBRECHAT_CODE_BASEURL`, its key `librechat.api_key` or
/// `LIBRECHAT_CODE_API_KEY`. The terminal remembers its remote session, so a
/// file one remote run writes to /mnt/data is there for the next. A remote run
/// takes no "stdin"; "timeout_secs" bounds the whole call (retries included),
/// and its expiry is KLED_ERR_TIMEOUT rather than a timed-out result. The
/// result has an exit code when the service reports one, and never a signal.
///
/// Errors: as kled_terminal_run_code (KLED_ERR_INVALID_ARGUMENT for a request
/// that is not valid JSON or not a code request). Remote runs:
/// KLED_ERR_RUNTIME_UNAVAILABLE (the service cannot be reached or failed; the
/// message names LIBRECHAT_CODE_BASEURL), KLED_ERR_CONFIG (a base URL that is
/// not a URL, or a key the service refuses), KLED_ERR_TIMEOUT (the deadline
/// passed, or still rate-limited), KLED_ERR_INVALID_ARGUMENT (the service
/// refused the request), KLED_ERR_NOT_FOUND (the terminal was removed).
/// Ownership: on success `*result_out` is yours (kled_exec_result_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_run_code_with(
    terminal: *const kled_terminal,
    request_json: *const c_char,
    result_out: *mut *mut kled_exec_result,
) -> kled_status {
    ffi!([terminal, request_json, result_out] {
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(result_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live handle and a NUL-terminated string.
        let (t, request) = unsafe { (core_terminal(terminal)?, text(request_json, "request_json")?) };
        let req: CodeRequest = serde_json::from_value(json(request, "request_json")?)
            .map_err(|e| Failure::invalid(format!("request_json is not a valid code request: {e}")))?;
        let result = block_on(t.run_code_with(req))??;
        // SAFETY: as above.
        unsafe { put(result_out, kled_exec_result::boxed(result)) };
        Ok(KLED_OK)
    })
}

/// The whole content of a file in the terminal. Relative paths are from
/// the terminal's working directory.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT
/// (empty path), KLED_ERR_NOT_FOUND (no such file or terminal),
/// KLED_ERR_INVALID_STATE (not running), KLED_ERR_IO, KLED_ERR_AGENT.
/// Ownership: on success `*data_out` holds bytes that are yours: free them
/// with kled_buf_free. On failure it is set to {NULL, 0}.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_read_file(
    terminal: *const kled_terminal,
    path: *const c_char,
    data_out: *mut kled_buf,
) -> kled_status {
    ffi!([terminal, path, data_out] {
        // SAFETY: checked non-NULL; a writable slot.
        unsafe { put(data_out, kled_buf::EMPTY) };
        // SAFETY: checked non-NULL; live handle, NUL-terminated path.
        let (t, path) = unsafe { (core_terminal(terminal)?, text(path, "path")?) };
        let data = block_on(t.read_file(path))??;
        // SAFETY: as above.
        unsafe { put(data_out, kled_buf::from_vec(data)) };
        Ok(KLED_OK)
    })
}

/// Writes a file in the terminal atomically, creating parent directories.
/// `data` may be NULL when `len` is 0. `mode`: permission bits (e.g. 0755),
/// or -1 for the existing file's mode, else 0644.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT
/// (empty path, mode out of range), KLED_ERR_NOT_FOUND, KLED_ERR_INVALID_STATE,
/// KLED_ERR_IO, KLED_ERR_AGENT.
#[no_mangle]
pub unsafe extern "C" fn kled_terminal_write_file(
    terminal: *const kled_terminal,
    path: *const c_char,
    data: *const u8,
    len: usize,
    mode: i32,
) -> kled_status {
    ffi!([terminal, path] {
        // SAFETY: checked non-NULL; live handle, NUL-terminated path; data readable for len.
        let (t, path, data) = unsafe { (core_terminal(terminal)?, text(path, "path")?, bytes(data, len, "data")?) };
        let mode = match mode {
            -1 => None,
            m if m < 0 => return Err(Failure::invalid(format!("file mode {m} is negative (use -1 for the default)"))),
            m => Some(m as u32),
        };
        block_on(t.write_file(path, data, mode))??;
        Ok(KLED_OK)
    })
}
