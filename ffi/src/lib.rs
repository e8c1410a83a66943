//! libkled: the C ABI of kled. `include/kled.h` (generated from this crate
//! by cbindgen, see `tests/header.rs`) is its documentation; the overview
//! there (in `cbindgen.toml`) states the conventions every function follows.
//!
//! Every export is an `extern "C"` function whose body goes through `ffi!`
//! (see `guard.rs`), which checks pointers and catches panics. The core is
//! async; this crate owns the tokio runtime that drives it (`runtime.rs`),
//! and each call blocks its calling thread until done.

#![deny(unsafe_op_in_unsafe_fn)]
// The C names (kled_manager, kled_status, ...) are the contract.
#![allow(non_camel_case_types)]
// Each export's safety contract is the one the C header states for it (and
// its overview for all): a `# Safety` section would only repeat it there.
#![allow(clippy::missing_safety_doc)]
// The workspace states rust-version 1.75, older than c"" literals.
#![allow(clippy::manual_c_str_literals)]

// The header lists the exports in the order of these modules (cbindgen
// reads them in turn), so they are kept apart for rustfmt not to sort them.

// The panic/NULL guard every export uses, and the per-thread last error.
#[macro_use]
mod guard;

// Status codes and versions.
mod status;

mod version;

// The handles, in the order a caller meets them.
mod manager;

mod terminal;

mod exec;

// Memory handed to C, and the internals.
mod buf;

mod args;

mod runtime;

mod process;

mod hint;

pub use buf::{kled_buf, kled_buf_free, kled_string_free};
pub use exec::{
    kled_event, kled_event_kind, kled_exec_result, kled_exec_result_exit, kled_exec_result_free,
    kled_exec_result_stderr, kled_exec_result_stdout, kled_exec_stream, kled_exec_stream_free, kled_exec_stream_next,
    kled_exec_stream_signal, kled_exit,
};
pub use guard::{kled_last_error_hint, kled_last_error_message};
pub use manager::*;
pub use status::{kled_status, kled_status_name};
pub use terminal::*;
pub use version::{kled_abi_version, kled_version, KLED_ABI_VERSION};
