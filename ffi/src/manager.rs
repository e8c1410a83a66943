//! `kled_manager`: creates, finds, lists and removes terminals.

use crate::args::{json, opt_host_path, opt_text, owned_json, put, text};
use crate::guard::{Failure, Result};
use crate::process::ProcessManager;
use crate::runtime::block_on;
use crate::status::*;
use crate::terminal::kled_terminal;
use kled_core::fork::PerProcess;
use kled_core::{BulkRequest, Config, Manager};
use std::ffi::CString;
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// The entry point: a state directory (where terminal records live) and a
/// configuration.
///
/// Thread safety: a manager may be used from any number of threads at once.
/// Terminals obtained from it stay valid after kled_manager_free (they share
/// its state); using the manager pointer itself after kled_manager_free is
/// undefined behaviour.
pub struct kled_manager {
    pub(crate) inner: Arc<ProcessManager>,
}

/// Options JSON for a terminal: NULL means none (`{}`).
fn options(options_json: *const c_char) -> Result<serde_json::Value> {
    // SAFETY: NULL or a NUL-terminated string, per the header.
    match unsafe { opt_text(options_json, "options_json") }? {
        None => Ok(serde_json::Value::Null),
        Some(t) => json(t, "options_json"),
    }
}

/// Opens a manager.
///
/// `state_dir`: where terminal records live; NULL means `$KLED_HOME`, else
/// `$XDG_STATE_HOME/kled`, else `~/.local/state/kled`. It is created if missing.
/// `config_path`: a YAML configuration file; NULL means `$KLED_CONFIG`, else
/// `~/.config/kled/config.yaml` if it exists. Both are host paths (any bytes).
///
/// Errors: KLED_ERR_NULL_ARGUMENT (manager_out), KLED_ERR_IO (state directory),
/// KLED_ERR_CONFIG (configuration file or no usable default state directory).
/// Ownership: on success `*manager_out` is yours: free it with kled_manager_free.
/// On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_new(
    state_dir: *const c_char,
    config_path: *const c_char,
    manager_out: *mut *mut kled_manager,
) -> kled_status {
    ffi!([manager_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(manager_out, std::ptr::null_mut()) };
        // SAFETY: NULL or NUL-terminated, per the header.
        let (state_dir, config_path) = unsafe { (opt_host_path(state_dir), opt_host_path(config_path)) };
        let config = Config::load(config_path.as_deref())?;
        let manager = Manager::new(state_dir, config.clone())?;
        let root = manager.state_dir().to_path_buf();
        let inner = Arc::new(ProcessManager { root, config, manager: PerProcess::new(manager) });
        // SAFETY: as above.
        unsafe { put(manager_out, Box::into_raw(Box::new(kled_manager { inner }))) };
        Ok(KLED_OK)
    })
}

/// Frees a manager. NULL: no-op. Does not stop or remove any terminal.
/// (In a child forked after libkled started, the parent's connections are
/// kept, never closed: see the overview on fork.)
#[no_mangle]
pub unsafe extern "C" fn kled_manager_free(manager: *mut kled_manager) {
    ffi!([] {
        if !manager.is_null() {
            // SAFETY: made by Box::into_raw in kled_manager_new; freed once, per the contract.
            // In a forked child, PerProcess leaks the parent's core manager.
            drop(unsafe { Box::from_raw(manager) });
        }
        Ok(())
    })
}

/// Creates a terminal; it is not started (see kled_terminal_start).
///
/// `kind`: a runtime name ("local", "container", ...; see kled_manager_providers).
/// `name`: `[A-Za-z0-9][A-Za-z0-9_.-]{0,62}`. `options_json`: a JSON object
/// of the runtime's options (for "local": os, shell, workdir, env), or NULL.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT
/// (bad kind, name, options or JSON), KLED_ERR_ALREADY_EXISTS,
/// KLED_ERR_RUNTIME_UNAVAILABLE, KLED_ERR_IO.
/// Ownership: on success `*terminal_out` is yours: free it with kled_terminal_free
/// (which frees the handle, not the terminal). On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_create_terminal(
    manager: *const kled_manager,
    kind: *const c_char,
    name: *const c_char,
    options_json: *const c_char,
    terminal_out: *mut *mut kled_terminal,
) -> kled_status {
    ffi!([manager, kind, name, terminal_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(terminal_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live manager and NUL-terminated strings, per the header.
        let (shared, kind, name) = unsafe { (&(*manager).inner, text(kind, "kind")?, text(name, "name")?) };
        let options = options(options_json)?;
        let t = block_on(shared.get()?.create_terminal(kind, name, options))??;
        // SAFETY: as above.
        unsafe { put(terminal_out, kled_terminal::boxed(t, shared)?) };
        Ok(KLED_OK)
    })
}

/// A handle on an existing terminal, by name.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT
/// (bad name), KLED_ERR_NOT_FOUND, KLED_ERR_CONFIG (its record is corrupt), KLED_ERR_IO.
/// Ownership: on success `*terminal_out` is yours (kled_terminal_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_get_terminal(
    manager: *const kled_manager,
    name: *const c_char,
    terminal_out: *mut *mut kled_terminal,
) -> kled_status {
    ffi!([manager, name, terminal_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(terminal_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; live manager, NUL-terminated name.
        let (shared, name) = unsafe { (&(*manager).inner, text(name, "name")?) };
        let t = block_on(shared.get()?.get_terminal(name))??;
        // SAFETY: as above.
        unsafe { put(terminal_out, kled_terminal::boxed(t, shared)?) };
        Ok(KLED_OK)
    })
}

/// Every terminal, as JSON:
/// `{"terminals": [{"name", "kind", "state", "options", "created_at", "error"?}, ...],
///   "problems": [{"name", "error"}, ...]}`, sorted by name. `problems` lists
/// records that could not be read (they are skipped, never fatal).
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_IO.
/// Ownership: on success `*json_out` is yours: free it with kled_string_free.
/// On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_list_terminals(
    manager: *const kled_manager,
    json_out: *mut *mut c_char,
) -> kled_status {
    ffi!([manager, json_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(json_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live manager.
        let manager = unsafe { &(*manager).inner }.get()?;
        let listing = block_on(manager.list_terminals())??;
        let problems: Vec<serde_json::Value> = listing
            .problems
            .iter()
            .map(|p| serde_json::json!({ "name": p.name, "error": p.error }))
            .collect();
        let doc = serde_json::json!({ "terminals": listing.terminals, "problems": problems });
        // SAFETY: as above.
        unsafe { put(json_out, owned_json(&doc)?) };
        Ok(KLED_OK)
    })
}

/// Stops and deletes a terminal and its data.
///
/// Errors: KLED_ERR_NULL_ARGUMENT, KLED_ERR_INVALID_UTF8, KLED_ERR_INVALID_ARGUMENT,
/// KLED_ERR_NOT_FOUND, KLED_ERR_AGENT, KLED_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_remove_terminal(
    manager: *const kled_manager,
    name: *const c_char,
) -> kled_status {
    ffi!([manager, name] {
        // SAFETY: checked non-NULL; live manager, NUL-terminated name.
        let (manager, name) = unsafe { ((*manager).inner.get()?, text(name, "name")?) };
        block_on(manager.remove_terminal(name))??;
        Ok(KLED_OK)
    })
}

/// Creates `count` terminals (1..1000) named `PREFIX-1` .. `PREFIX-COUNT`,
/// concurrently, and starts each when `start` is true. All or nothing: if
/// one fails, the ones this call made are removed and the first error is returned.
///
/// `options_json`: as for kled_manager_create_terminal (NULL: none).
/// `prefix`: NULL means the kind's name.
///
/// Errors: as kled_manager_create_terminal and kled_terminal_start;
/// KLED_ERR_ALREADY_EXISTS if any of the names is taken (nothing is created then).
/// Ownership: on success `*names_json_out` is a JSON array of the names, in
/// order; free it with kled_string_free. Get handles with kled_manager_get_terminal.
/// On failure it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_create_bulk(
    manager: *const kled_manager,
    kind: *const c_char,
    count: usize,
    options_json: *const c_char,
    prefix: *const c_char,
    start: bool,
    names_json_out: *mut *mut c_char,
) -> kled_status {
    ffi!([manager, kind, names_json_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(names_json_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL (prefix may be NULL); live manager, NUL-terminated strings.
        let (manager, kind, prefix) =
            unsafe { ((*manager).inner.get()?, text(kind, "kind")?, opt_text(prefix, "prefix")?) };
        let mut req = BulkRequest::new(kind, count);
        req.options = options(options_json)?;
        req.prefix = prefix.map(str::to_string);
        req.start = start;
        let terminals = block_on(manager.create_bulk(req))??;
        let names: Vec<&str> = terminals.iter().map(|t| t.name()).collect();
        // SAFETY: as above.
        unsafe { put(names_json_out, owned_json(&names)?) };
        Ok(KLED_OK)
    })
}

/// Every runtime kled knows, whether it works on this machine, and what it
/// needs, as a JSON array: `[{"kind", "available", "description", "needs", "reason"?}, ...]`.
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: on success `*json_out` is yours (kled_string_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_providers(
    manager: *const kled_manager,
    json_out: *mut *mut c_char,
) -> kled_status {
    ffi!([manager, json_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(json_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live manager.
        let providers = unsafe { &(*manager).inner }.get()?.providers();
        // SAFETY: as above.
        unsafe { put(json_out, owned_json(&providers)?) };
        Ok(KLED_OK)
    })
}

/// The manager's state directory (as given, or the default it resolved).
///
/// Errors: KLED_ERR_NULL_ARGUMENT.
/// Ownership: on success `*path_out` is yours (kled_string_free); NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn kled_manager_state_dir(
    manager: *const kled_manager,
    path_out: *mut *mut c_char,
) -> kled_status {
    ffi!([manager, path_out] {
        // SAFETY: checked non-NULL; the caller provides a writable slot.
        unsafe { put(path_out, std::ptr::null_mut()) };
        // SAFETY: checked non-NULL; a live manager.
        let dir = unsafe { &(*manager).inner }.root.as_path();
        // A host path: handed over as its bytes, which need not be UTF-8.
        let bytes = dir.as_os_str().as_bytes().to_vec();
        let s = CString::new(bytes).map_err(|_| Failure::invalid("the state directory contains a NUL byte"))?;
        // SAFETY: as above.
        unsafe { put(path_out, s.into_raw()) };
        Ok(KLED_OK)
    })
}
