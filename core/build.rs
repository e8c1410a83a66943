//! Embeds a static `kled-agent` in the library, so that every front end
//! (CLI, C, Python, Node) carries the agent it injects into terminals and no
//! user ever builds or copies it.
//!
//! The agent is built by a nested `cargo build` of the `kled-agent` crate
//! (also a build-dependency, so that packagers carry its sources with the
//! core's, see agent/src/lib.rs) with `+crt-static` for the same target. A
//! packager can supply a prebuilt agent instead with
//! `KLED_AGENT_BIN=/path/to/kled-agent`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    fork_policy();
    println!("cargo:rerun-if-env-changed=KLED_AGENT_BIN");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let agent = match env::var_os("KLED_AGENT_BIN") {
        Some(p) => PathBuf::from(p),
        None => build_agent(&out_dir),
    };
    let bytes = std::fs::read(&agent).unwrap_or_else(|e| panic!("cannot read agent {}: {e}", agent.display()));
    let dest = out_dir.join("kled-agent");
    std::fs::write(&dest, &bytes).unwrap();
    // FNV-1a: names the extracted copy so that different agents never collide.
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in &bytes {
        hash ^= *b as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    println!("cargo:rustc-env=KLED_AGENT_HASH={hash:016x}");
    println!("cargo:rustc-env=KLED_AGENT_PATH={}", dest.display());
}

fn build_agent(out_dir: &Path) -> PathBuf {
    // core/'s sibling, in the workspace and in an unpacked sdist alike
    // (kled-agent is a build-dependency so that the sdist has it).
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let agent_dir = workspace.join("agent");
    for p in ["agent/src", "agent/Cargo.toml", "protocol/src", "protocol/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(p).display());
    }
    let target = env::var("TARGET").unwrap();
    // <target-dir>/<profile>/build/kled-core-*/out -> <target-dir>: one agent
    // build shared by debug, release and bench builds of the core.
    let target_dir =
        out_dir.ancestors().nth(4).map(|d| d.join("kled-agent")).unwrap_or_else(|| out_dir.join("agent-target"));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut flags = vec!["-Cstrip=symbols"];
    if target.contains("linux-gnu") {
        flags.push("-Ctarget-feature=+crt-static");
    }
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--release", "--manifest-path"])
        .arg(agent_dir.join("Cargo.toml"))
        .args(["--target", &target, "--target-dir"])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .status()
        .expect("cannot run cargo to build kled-agent");
    if !status.success() {
        panic!("building kled-agent failed; set KLED_AGENT_BIN to a prebuilt static agent to skip this step");
    }
    target_dir.join(&target).join("release").join("kled-agent")
}

/// Decides whether a forked child may use kled (src/fork.rs).
///
/// With tokio's `parking_lot` feature, tokio's threads park in parking_lot's
/// process-wide table. A child made by fork() inherits that table with
/// entries (and locks) of parent threads that do not exist in the child, so
/// a runtime started there can crash or deadlock. The feature is chosen by
/// the whole dependency graph, not by this crate; the workspace's Cargo.lock
/// says whether anything turns it on. If something does (or the lock cannot
/// be read), kled refuses to run in a forked child of a process that used
/// it, with a clear error, instead of risking a hang.
fn fork_policy() {
    println!("cargo:rustc-check-cfg=cfg(kled_fork_child_unsafe)");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
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
             which is not fork-safe: kled will refuse to run in a fork()ed child of a process that used it"
        );
    }
}

fn tokio_uses_parking_lot(lock: &str) -> bool {
    lock.split("[[package]]").any(|package| {
        package.lines().any(|l| l.trim() == "name = \"tokio\"")
            && package.lines().any(|l| {
                let dep = l.trim().trim_end_matches(',').trim_matches('"');
                dep == "parking_lot" || dep.starts_with("parking_lot ")
            })
    })
}
