//! kled-agent is a program (src/main.rs); this library half tells a build
//! script where the program's sources are, so that it can build the static
//! binary from them wherever they were unpacked.
//!
//! kled-core embeds the agent: its build script runs a nested
//! `cargo build -p kled-agent` (core/build.rs). It takes this crate as a
//! build-dependency, which does two things a path guess cannot:
//! - packagers that vendor a crate's path dependencies carry agent/ along.
//!   maturin's sdist packs only path dependencies that have a library target
//!   (a bin-only kled-agent, or one reached through a `cfg(any())` table,
//!   was left out), so without this the Python sdist could not build the
//!   agent and needed `KLED_AGENT_BIN`;
//! - the build script learns the sources' real place from [`SOURCE_DIR`]
//!   instead of assuming core/'s sibling.

/// The directory of this crate's Cargo.toml, as cargo compiled it.
pub const SOURCE_DIR: &str = env!("CARGO_MANIFEST_DIR");
