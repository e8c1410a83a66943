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
