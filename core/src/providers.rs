//! `providers`: every runtime kled knows, whether it works here, and what it
//! needs.

use crate::kind::Kind;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub kind: Kind,
    /// Terminals of this kind can be created on this machine now.
    pub available: bool,
    pub description: &'static str,
    /// What the runtime needs installed or configured.
    pub needs: &'static str,
    /// Why it is not available, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Availability is judged without I/O beyond a stat: a configured or present
/// engine socket, an installed OCI runtime.
pub fn providers(config: &crate::Config) -> Vec<Provider> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let (description, needs) = describe(kind);
            let reason = match crate::runtime::runtime_for(kind) {
                Ok(_) => unavailable(kind, config),
                Err(e) => Some(e.message().to_string()),
            };
            Provider { kind, available: reason.is_none(), description, needs, reason }
        })
        .collect()
}

fn unavailable(kind: Kind, config: &crate::Config) -> Option<String> {
    let on_path = |p: &str| {
        std::env::var("PATH").unwrap_or_default().split(':').any(|d| std::path::Path::new(d).join(p).is_file())
    };
    // The engine is found exactly as create finds it.
    let engine = || crate::runtime::container_endpoint(kind, config).err().map(|e| e.message().to_string());
    match kind {
        Kind::Container => engine(),
        Kind::Gvisor => {
            if config.isolation.gvisor.engine.is_none()
                && !on_path("runsc")
                && !std::path::Path::new(crate::runtime::GVISOR_SOCKET).exists()
            {
                Some("runsc (gVisor) is not installed here, and no isolation.gvisor.engine is configured".into())
            } else {
                engine()
            }
        }
        Kind::Kata | Kind::NeovimKata => {
            if config.isolation.kata.engine.is_some() || config.kata.url.is_some() {
                engine()
            } else if !on_path("kata-runtime") && !on_path("containerd-shim-kata-v2") {
                Some("Kata Containers is not installed here, and no isolation.kata.engine is configured".into())
            } else {
                engine()
            }
        }
        Kind::Neovim if !on_path("nvim") => {
            Some("nvim (Neovim 0.7 or later) is not on PATH; install it with apt-get install neovim".into())
        }
        _ => None,
    }
}

fn describe(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Local => ("processes on this host, under a kled-agent daemon", "nothing (the agent is built into kled)"),
        Kind::Container => {
            ("a Podman or Docker container", "a Docker-compatible engine socket (podman system service)")
        }
        Kind::Gvisor => ("a container isolated by gVisor (runsc)", "an engine with the runsc runtime"),
        Kind::Kata => ("a container isolated in a Kata Containers VM", "an engine with the kata runtime and /dev/kvm"),
        Kind::Neovim => ("a headless Neovim driven over msgpack-RPC", "nvim 0.7+ on PATH"),
        Kind::NeovimKata => {
            ("headless Neovim inside an isolated container", "nvim in the image and an isolated runtime")
        }
        Kind::Ssh => ("a remote host over SSH", "SSH_HOST, SSH_USERNAME, SSH_KEY"),
    }
}
