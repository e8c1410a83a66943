//! Versions: of the library, and of its C ABI.

use std::os::raw::c_char;

/// The version of the C ABI this header describes. It changes whenever a
/// function, type or constant changes incompatibly; compare it with
/// kled_abi_version() at run time to detect a header/library mismatch.
pub const KLED_ABI_VERSION: u32 = 1;

/// The version of libkled, e.g. "0.1.0" (the same as the `KLED_VERSION`
/// macro of the header it was built with).
///
/// Ownership: a static string; never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn kled_version() -> *const c_char {
    ffi!([] { Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()) })
}

/// The C ABI version of the loaded library (see KLED_ABI_VERSION). Thread-safe.
#[no_mangle]
pub extern "C" fn kled_abi_version() -> u32 {
    ffi!([] { Ok(KLED_ABI_VERSION) })
}
