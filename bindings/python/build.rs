//! Decides whether a forked child may use kled (see src/fork.rs).
//!
//! With tokio's `parking_lot` feature, tokio's threads park in
//! parking_lot's process-wide table. A child made by fork() inherits that
//! table with entries (and locks) of parent threads that do not exist in the
//! child, so a runtime started in the child can crash or deadlock there. The
//! feature is chosen by the whole dependency graph, not by this crate; the
//! workspace's Cargo.lock says whether anything turns it on. If something
//! does (or the lock cannot be read), the binding refuses to run in a forked
//! child of a process that used it, with a clear error, instead of risking a
//! hang.

use std::path::PathBuf;

fn tokio_uses_parking_lot(lock: &str) -> bool {
    lock.split("[[package]]").any(|package| {
        package.lines().any(|l| l.trim() == "name = \"tokio\"")
            && package.lines().any(|l| {
                let dep = l.trim().trim_end_matches(',').trim_matches('"');
                dep == "parking_lot" || dep.starts_with("parking_lot ")
            })
    })
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(kled_fork_child_unsafe)");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let lock = manifest.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.is_file());
    let unsafe_child = match &lock {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", path.display());
            std::fs::read_to_string(path).map(|text| tokio_uses_parking_lot(&text)).unwrap_or(true)
        }
        None => true,
    };
    if unsafe_child {
        println!("cargo:rustc-cfg=kled_fork_child_unsafe");
        println!(
            "cargo:warning=tokio is built with its `parking_lot` feature (see `cargo tree -e features -i tokio`), \
             which is not fork-safe: kled for Python will refuse to run in a fork()ed child of a process that used it"
        );
    }
}
