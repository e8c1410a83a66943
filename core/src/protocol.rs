//! The agent protocol, shared with `kled-agent`. The frame format and the
//! conversation are documented in the `kled-protocol` crate
//! (protocol/src/lib.rs); this module re-exports it for users of the core.

pub use kled_protocol::*;
