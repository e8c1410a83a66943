//! `providers`: every runtime kled knows, whether it works here, what it
//! needs, and what its terminals can do.

use crate::kind::Kind;
use crate::runtime::{runtime_for, Caps};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub kind: Kind,
    /// Terminals of this kind can be created on this machine now.
    pub available: bool,
    pub description: &'static str,
    /// What the runtime needs installed or configured.
    pub needs: &'static str,
    /// Why it is not available, when it is not: the same message a create
    /// of this kind fails with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub caps: Caps,
}

/// Each runtime answers for itself (`Runtime::availability`), exactly as
/// create asks it.
pub fn providers(config: &crate::Config) -> Vec<Provider> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let (description, needs) = describe(kind);
            let runtime = runtime_for(kind);
            let reason = runtime.availability(config).err().map(|e| e.message().to_string());
            Provider { kind, available: reason.is_none(), description, needs, reason, caps: runtime.caps() }
        })
        .collect()
}

fn describe(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Local => ("processes on this host, under a kled-agent daemon", "nothing (the agent is built into kled)"),
        Kind::Container => {
            ("a Podman or Docker container", "a Docker-compatible engine socket (podman system service)")
        }
        Kind::Gvisor => (
            "a container isolated by gVisor (runsc)",
            "runsc and an engine whose default runtime is runsc (scripts/engine.sh serves one)",
        ),
        Kind::Kata => ("a container isolated in a Kata Containers VM", "an engine with the kata runtime and /dev/kvm"),
        Kind::Neovim => ("a headless Neovim driven over msgpack-RPC", "nvim 0.7+ on PATH"),
        Kind::NeovimKata => {
            ("headless Neovim inside an isolated container", "nvim in the image and an isolated runtime")
        }
    }
}
