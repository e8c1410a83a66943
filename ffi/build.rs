//! Link settings of libkled.so (ffi/src is the code; this file only names it).
//!
//! The shared library gets the ELF soname `libkled.so.0`: programs linked
//! with `-lkled` then record `libkled.so.0` and keep loading any 0.x build,
//! which `include/kled.h`'s KLED_ABI_VERSION promises to stay compatible.
//! scripts/install-libkled.sh installs the file under that name with the
//! `libkled.so` link for the linker.
//!
//! The exported symbols need no version script of ours: rustc already links
//! a cdylib with one that exports only the `#[no_mangle] extern "C"`
//! functions (the `kled_*` API); scripts/suites/60-packaging.sh checks that
//! with `nm -D --defined-only`.

/// The major version in the soname (0 while kled is 0.x). Bump it, with
/// KLED_ABI_VERSION in include/kled.h, on an incompatible ABI change.
const SONAME_MAJOR: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF platforms only: macOS names a dylib with -install_name instead.
    if matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkled.so.{SONAME_MAJOR}");
    }
}
