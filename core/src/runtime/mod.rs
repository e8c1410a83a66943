//! Runtimes: how a terminal of each kind is created, started, reached and
//! stopped. Everything after "reached" (exec, files, code) is the same for
//! every runtime: each hosts a kled-agent, or (neovim) is a Neovim server,
//! and `crate::backend` dispatches between the two.

mod caps;
mod container;
mod isolation;
mod local;
mod neovim;
mod neovim_kata;
mod orphans;
mod profile;

pub use caps::Caps;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::state::{Record, State, StateDir};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// What a runtime may use of the manager.
pub(crate) struct Ctx<'a> {
    pub state: &'a StateDir,
    pub config: &'a Config,
}

/// How commands run in a started terminal.
#[derive(Debug, Clone)]
pub(crate) struct ExecProfile {
    /// Prefix that runs a shell command string: the string is appended.
    pub shell: Vec<String>,
    /// Environment every command gets.
    pub env: BTreeMap<String, String>,
}

impl ExecProfile {
    pub fn shell_argv(&self, command: &str) -> Vec<String> {
        let mut argv = self.shell.clone();
        argv.push(command.to_string());
        argv
    }
}

#[async_trait]
pub(crate) trait Runtime: Send + Sync {
    /// Whether terminals of this kind can be made here, and if not, why (a
    /// RuntimeUnavailable error). The one answer `providers` shows and
    /// create gives; judged without I/O beyond a stat.
    fn availability(&self, _config: &Config) -> Result<()> {
        Ok(())
    }
    /// The same for a terminal with these (checked) options, where they
    /// change the answer.
    fn availability_for(&self, config: &Config, _options: &serde_json::Value) -> Result<()> {
        self.availability(config)
    }
    /// What terminals of this kind can do.
    fn caps(&self) -> Caps;
    /// Checks options at creation; returns them normalised for the record.
    fn check_options(&self, options: &serde_json::Value) -> Result<serde_json::Value>;
    /// Prepares what the terminal needs before its first start.
    async fn create(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()>;
    /// Makes the terminal runnable and returns a connection to its agent
    /// (or Neovim server). Also used to bring back a terminal whose agent died.
    async fn start(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<Backend>;
    /// Connects to the agent (or Neovim server) of a started terminal.
    async fn connect(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<Backend>;
    /// Stops everything the terminal runs; keeps its data.
    async fn stop(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()>;
    /// Deletes what `create` and `start` made (the terminal is stopped first).
    async fn remove(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<()>;
    fn profile(&self, rec: &Record) -> Result<ExecProfile>;
    /// Whether a running terminal whose agent is unreachable may be
    /// restarted silently on the next call. Not for Neovim: its buffers
    /// (unsaved edits) died with it, and the caller must be told.
    fn restarts_silently(&self) -> bool {
        true
    }
    /// What the runtime sees of the terminal, when it differs from the
    /// record (a container removed or stopped behind kled's back), with why.
    async fn observe(&self, _ctx: &Ctx<'_>, _rec: &Record) -> Option<(State, Option<String>)> {
        None
    }
}

/// The runtime for `kind`. The container kinds are one runtime with
/// different profiles; neovim-kata composes a container of its own profile.
pub(crate) fn runtime_for(kind: Kind) -> &'static dyn Runtime {
    use container::ContainerRuntime;
    use profile::{ContainerProfile, Isolation};
    static CONTAINER: ContainerRuntime = ContainerRuntime::new(ContainerProfile {
        kind: Kind::Container,
        name_prefix: "kled",
        isolation: Isolation::None,
    });
    static GVISOR: ContainerRuntime = ContainerRuntime::new(ContainerProfile {
        kind: Kind::Gvisor,
        name_prefix: "kled",
        isolation: Isolation::Gvisor,
    });
    static KATA: ContainerRuntime =
        ContainerRuntime::new(ContainerProfile { kind: Kind::Kata, name_prefix: "kled", isolation: Isolation::Kata });
    static NEOVIM_KATA: neovim_kata::NeovimKataRuntime =
        neovim_kata::NeovimKataRuntime::new(ContainerRuntime::new(ContainerProfile {
            kind: Kind::NeovimKata,
            name_prefix: "neovim",
            isolation: Isolation::Kata,
        }));
    match kind {
        Kind::Local => &local::LocalRuntime,
        Kind::Container => &CONTAINER,
        Kind::Gvisor => &GVISOR,
        Kind::Kata => &KATA,
        Kind::Neovim => &neovim::NeovimRuntime,
        Kind::NeovimKata => &NEOVIM_KATA,
    }
}

/// Parses runtime options with unknown keys named in the error.
pub(crate) fn parse_options<T: serde::de::DeserializeOwned>(kind: Kind, options: &serde_json::Value) -> Result<T> {
    let value = if options.is_null() { serde_json::json!({}) } else { options.clone() };
    if !value.is_object() {
        return Err(Error::invalid(format!("options for a {kind} terminal must be a JSON object, not {value}")));
    }
    serde_json::from_value(value).map_err(|e| Error::invalid(format!("invalid options for a {kind} terminal: {e}")))
}

/// Options every kind with a working directory and environment shares.
pub(crate) fn check_workdir_and_env(workdir: Option<&str>, env: &BTreeMap<String, String>) -> Result<()> {
    if let Some(w) = workdir {
        if !std::path::Path::new(w).is_absolute() {
            return Err(Error::invalid(format!("workdir must be an absolute path, not {w:?}")));
        }
    }
    if let Some(k) = env.keys().find(|k| k.is_empty() || k.contains('=') || k.contains('\0')) {
        return Err(Error::invalid(format!("invalid environment variable name {k:?}")));
    }
    Ok(())
}

/// Host-side working directories (local and neovim terminals): the user's
/// `workdir` option, else `work/NAME` in the state dir, which kled owns and
/// deletes on remove. A directory the user named is never deleted.
pub(crate) mod host_workdir {
    use crate::error::{Error, Result};
    use crate::state::StateDir;
    use std::path::PathBuf;

    pub fn path(state: &StateDir, name: &str, option: Option<&str>) -> PathBuf {
        match option {
            Some(w) => PathBuf::from(w),
            None => state.root().join("work").join(name),
        }
    }

    pub fn create(state: &StateDir, name: &str, option: Option<&str>) -> Result<PathBuf> {
        let dir = path(state, name, option);
        // kled's own directories are the user's alone (0700); a directory
        // the user named keeps the mode it has or the umask gives.
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        if option.is_none() {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&dir).map_err(|e| Error::io(format!("cannot create working directory {}", dir.display()), e))?;
        Ok(dir)
    }

    /// Deletes kled's own directory and the terminal's log file.
    pub fn remove(state: &StateDir, name: &str, option: Option<&str>, log: &str) -> Result<()> {
        if option.is_none() {
            let dir = path(state, name, None);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("cannot remove {}", dir.display()), e))?;
            }
        }
        let _ = std::fs::remove_file(state.root().join("logs").join(log));
        Ok(())
    }
}
