//! What tells one container kind from another. Everything else (create,
//! start, reach, stop) is one piece of code in container.rs; a kind is a
//! profile: the kind it records, how its containers are named, and which
//! isolation it asks the engine for.

use crate::config::Config;
use crate::engine;
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use std::collections::HashMap;

/// The runsc-default engine `scripts/engine.sh` starts.
pub(crate) const GVISOR_SOCKET: &str = "/run/kled/gvisor.sock";

/// The sandbox an engine puts a container in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// The engine's default runtime (runc, crun): namespaces on the host kernel.
    None,
    /// gVisor (runsc): a user-space kernel.
    Gvisor,
    /// Kata Containers: a lightweight VM.
    Kata,
}

impl Isolation {
    pub fn is_isolated(self) -> bool {
        self != Isolation::None
    }

    /// The OCI runtime asked for unless the config names another.
    pub fn default_oci_runtime(self) -> Option<&'static str> {
        match self {
            Isolation::None => None,
            Isolation::Gvisor => Some("runsc"),
            Isolation::Kata => Some("kata"),
        }
    }

    /// The config section (`isolation.KEY`) and the name in messages.
    pub fn key(self) -> &'static str {
        match self {
            Isolation::None => "none",
            Isolation::Gvisor => "gvisor",
            Isolation::Kata => "kata",
        }
    }

    pub fn oci_runtime(self, config: &Config) -> Option<String> {
        let iso = &config.isolation;
        let configured = match self {
            Isolation::None => None,
            Isolation::Gvisor => iso.gvisor.runtime.clone(),
            Isolation::Kata => iso.kata.runtime.clone(),
        };
        configured.or_else(|| self.default_oci_runtime().map(str::to_string))
    }

    /// An engine dedicated to this isolation, from config (gVisor: else the
    /// runsc-default engine scripts/engine.sh serves, when it is there).
    fn dedicated_engine(self, config: &Config) -> Option<String> {
        let iso = &config.isolation;
        match self {
            Isolation::None => None,
            // Podman's API ignores the runtime a container asks for, so
            // gVisor needs an engine whose default is runsc.
            Isolation::Gvisor => iso
                .gvisor
                .engine
                .clone()
                .or_else(|| std::path::Path::new(GVISOR_SOCKET).exists().then(|| format!("unix://{GVISOR_SOCKET}"))),
            Isolation::Kata => iso.kata.engine.clone().or_else(|| config.kata.url.clone()),
        }
    }

    /// Per-sandbox settings the runtime reads from OCI annotations.
    pub fn annotations(
        self,
        cpus: Option<f64>,
        memory_mib: Option<u64>,
        config_path: Option<&str>,
        debug: bool,
    ) -> Option<HashMap<String, String>> {
        match self {
            Isolation::Kata => {
                Some(super::isolation::kata_annotations(cpus, memory_mib, config_path, debug)).filter(|a| !a.is_empty())
            }
            Isolation::None | Isolation::Gvisor => None,
        }
    }
}

/// One container kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContainerProfile {
    pub kind: Kind,
    /// Containers are named `PREFIX-HOME-NAME`, for what they hold.
    pub name_prefix: &'static str,
    pub isolation: Isolation,
}

/// Where a container of a profile runs, and whether it can.
pub(crate) struct Placement {
    pub endpoint: String,
    /// The engine is one set aside for this isolation (it may run the OCI
    /// runtime as its default without naming it).
    pub dedicated: bool,
}

impl ContainerProfile {
    /// The engine for this profile, or why there is none: the one answer
    /// `providers` shows and create gives. Judged without I/O beyond a stat
    /// (a socket's presence and access, a program on PATH).
    pub fn placement(&self, config: &Config) -> Result<Placement> {
        let unavailable = |why: String| Error::new(ErrorKind::RuntimeUnavailable, why);
        let dedicated = self.isolation.dedicated_engine(config);
        let key = self.isolation.key();
        match self.isolation {
            Isolation::None => {}
            Isolation::Gvisor if dedicated.is_none() => {
                if !on_path("runsc") {
                    return Err(unavailable(format!(
                        "runsc (gVisor) is not installed here, and no isolation.{key}.engine is configured \
                         (scripts/engine.sh installs gVisor and serves an engine at {GVISOR_SOCKET})"
                    )));
                }
            }
            Isolation::Kata if dedicated.is_none() => {
                if !on_path("kata-runtime") && !on_path("containerd-shim-kata-v2") {
                    return Err(unavailable(format!(
                        "Kata Containers is not installed here (no kata-runtime or containerd-shim-kata-v2 on PATH), \
                         and no isolation.{key}.engine is configured: install Kata, or point isolation.{key}.engine \
                         in the kled config at an engine that runs it"
                    )));
                }
            }
            Isolation::Gvisor | Isolation::Kata => {}
        }
        let endpoint = engine::discover(dedicated.as_deref())?;
        engine::check_access(&endpoint)?;
        if self.isolation.is_isolated() && dedicated.is_none() && endpoint.contains("podman") {
            // Podman 4.3 accepts a container's runtime over its API and runs
            // it with its default anyway: the isolation check after start
            // would refuse every such terminal.
            return Err(unavailable(format!(
                "{} is installed, but the engine ({endpoint}) is Podman, which ignores the OCI runtime a container \
                 asks for over its API; point isolation.{key}.engine in the kled config at an engine whose default \
                 runtime is {} (scripts/engine.sh serves one at unix://{GVISOR_SOCKET})",
                self.isolation.default_oci_runtime().unwrap_or(key),
                self.isolation.default_oci_runtime().unwrap_or(key),
            )));
        }
        Ok(Placement { dedicated: dedicated.is_some(), endpoint })
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file())).unwrap_or(false)
}
