//! Isolated container kinds (gVisor, Kata): what they ask the engine for,
//! and the check that they really got it. Podman 4.3 silently ignores a
//! requested OCI runtime over its HTTP API, so asking is not enough: after
//! start, kled compares the kernel the terminal sees with the host's.

use super::profile::Isolation;
use crate::error::{Error, ErrorKind, Result};
use kled_protocol::AgentInfo;
use std::collections::HashMap;

/// Kata reads its per-sandbox settings from OCI annotations.
pub fn kata_annotations(
    cpus: Option<f64>,
    memory_mib: Option<u64>,
    config_path: Option<&str>,
    debug: bool,
) -> HashMap<String, String> {
    let mut a = HashMap::new();
    if let Some(c) = cpus {
        // Kata sizes the VM in whole vCPUs; never round a request down to 0.
        a.insert("io.katacontainers.config.hypervisor.default_vcpus".into(), (c.ceil().max(1.0) as u32).to_string());
    }
    if let Some(m) = memory_mib {
        a.insert("io.katacontainers.config.hypervisor.default_memory".into(), m.to_string());
    }
    if let Some(p) = config_path {
        a.insert("io.katacontainers.config_path".into(), p.to_string());
    }
    if debug {
        // The guest agent's log level is a kernel parameter.
        a.insert("io.katacontainers.config.hypervisor.kernel_params".into(), "agent.log=debug".into());
    }
    a
}

/// The host's kernel, as uname reports it.
pub fn host_kernel() -> (String, String) {
    // SAFETY: utsname is plain data that uname fills.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe {
        libc::uname(&mut u);
    }
    let field = |f: &[libc::c_char]| {
        let b: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    (field(&u.release), field(&u.version))
}

/// Fails unless the terminal runs on a kernel other than the host's.
pub fn verify(isolation: Isolation, name: &str, endpoint: &str, inside: &AgentInfo) -> Result<()> {
    let (release, version) = host_kernel();
    if inside.kernel_release != release || inside.kernel_version != version {
        return Ok(());
    }
    let runtime = isolation.default_oci_runtime().unwrap_or("?");
    let kind = isolation.key();
    Err(Error::new(
        ErrorKind::RuntimeUnavailable,
        format!(
            "terminal {name:?} asked for {kind} isolation but runs on the host's kernel ({release}): the engine at \
             {endpoint} ignored the OCI runtime {runtime:?} (Podman does over its HTTP API). The container was \
             removed. Point `isolation.{kind}.engine` in the kled config at an engine whose default runtime is \
             {runtime} (scripts/engine.sh starts one at unix:///run/kled/gvisor.sock)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kata_annotations_map_sizes_config_and_debug() {
        let a = kata_annotations(Some(1.5), Some(2048), Some("/etc/kata/fast.toml"), true);
        assert_eq!(a["io.katacontainers.config.hypervisor.default_vcpus"], "2");
        assert_eq!(a["io.katacontainers.config.hypervisor.default_memory"], "2048");
        assert_eq!(a["io.katacontainers.config_path"], "/etc/kata/fast.toml");
        assert_eq!(a["io.katacontainers.config.hypervisor.kernel_params"], "agent.log=debug");
        assert_eq!(
            kata_annotations(Some(0.25), None, None, false)["io.katacontainers.config.hypervisor.default_vcpus"],
            "1"
        );
        assert!(kata_annotations(None, None, None, false).is_empty());
    }

    #[test]
    fn verification_rejects_the_host_kernel() {
        let (release, version) = host_kernel();
        let mut info = AgentInfo {
            pid: 1,
            uid: 0,
            hostname: "x".into(),
            kernel_release: release,
            kernel_version: version,
            os: "linux".into(),
            arch: "x86_64".into(),
            cwd: "/".into(),
        };
        let e = verify(Isolation::Gvisor, "t", "unix:///run/podman/podman.sock", &info).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable);
        assert!(e.message().contains("ignored the OCI runtime \"runsc\""), "{e}");
        info.kernel_release = "4.4.0".into();
        verify(Isolation::Gvisor, "t", "x", &info).unwrap();
    }
}
