//! The static kled-agent embedded at build time (see core/build.rs).

use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

static AGENT: &[u8] = include_bytes!(env!("KLED_AGENT_PATH"));
const AGENT_HASH: &str = env!("KLED_AGENT_HASH");

/// The agent binary for Linux on this build's architecture: what container
/// runtimes copy into a sandbox.
pub fn agent_bytes() -> &'static [u8] {
    AGENT
}

/// Writes the agent to `dir` once, under a name unique to its content, and
/// returns its path. Safe to race with other processes: each writes its own
/// temporary file and renames it into place.
pub fn install_agent(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(format!("kled-agent-{}-{}", env!("CARGO_PKG_VERSION"), &AGENT_HASH[..12]));
    if path.metadata().map(|m| m.len() == AGENT.len() as u64).unwrap_or(false) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let tmp = dir.join(format!(".kled-agent.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(AGENT)?;
        f.sync_all()?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("installing kled-agent in {}", dir.display()), e)
    })?;
    Ok(path)
}
