//! kled-agent is a program (src/main.rs). This library target is empty on
//! purpose: it exists so that kled-core can name the crate as a
//! build-dependency, which is what makes packagers that vendor a crate's path
//! dependencies carry agent/ along. maturin packs into the Python sdist only
//! path dependencies that have a library target (tried with maturin 1.16: a
//! bin-only kled-agent as a build-dependency, or as a dependency under
//! `[target.'cfg(any())']`, was left out; with this target it is packed and
//! made a member of the sdist's workspace). core/build.rs then builds the
//! static binary from those sources with a nested cargo.
//!
//! It carries no item, not even its own path: cargo fingerprints path crates
//! relative to the workspace root, so a lib compiled from an unpacked sdist is
//! taken as up to date by the workspace sharing its target dir, and an
//! `env!("CARGO_MANIFEST_DIR")` baked into it pointed the workspace's build at
//! the sdist's (deleted) copy. The build script uses its own, run-time
//! `CARGO_MANIFEST_DIR` instead.
