//! What a started terminal is reached through: a kled-agent (local,
//! container, gvisor, kata) or a Neovim server (neovim). `Terminal`'s
//! exec, file and code methods are written once against this and dispatch
//! here; nothing above this module knows which transport a terminal uses.

use crate::agent::{AgentClient, SpawnHandle};
use crate::error::{Error, Result};
use crate::exec::ExecEvent;
use crate::nvim::{NvimClient, NvimProcess};
use kled_protocol::{AgentInfo, DirEntry, Spawn};

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Agent(AgentClient),
    Neovim(NvimClient),
}

impl From<AgentClient> for Backend {
    fn from(c: AgentClient) -> Backend {
        Backend::Agent(c)
    }
}

impl From<NvimClient> for Backend {
    fn from(c: NvimClient) -> Backend {
        Backend::Neovim(c)
    }
}

impl Backend {
    pub fn is_closed(&self) -> bool {
        match self {
            Backend::Agent(c) => c.is_closed(),
            Backend::Neovim(c) => c.is_closed(),
        }
    }

    /// The Neovim server, for editor operations.
    pub fn neovim(&self) -> Option<&NvimClient> {
        match self {
            Backend::Neovim(c) => Some(c),
            Backend::Agent(_) => None,
        }
    }

    /// Starts a process. `display` is the command as the user wrote it
    /// (Neovim echoes it into its visible log).
    pub async fn spawn(&self, spawn: Spawn, stdin: Option<&[u8]>, display: &str) -> Result<Process> {
        match self {
            Backend::Agent(c) => c.spawn(spawn, stdin).map(Process::Agent),
            Backend::Neovim(_) if spawn.tty.is_some() || spawn.stdin => Err(no_live_stdin()),
            Backend::Neovim(c) => c.spawn(spawn, stdin, display).await.map(Process::Neovim),
        }
    }

    pub async fn which(&self, programs: &[String]) -> Result<Vec<Option<String>>> {
        match self {
            Backend::Agent(c) => c.which(programs).await,
            Backend::Neovim(c) => c.which(programs).await,
        }
    }

    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        match self {
            Backend::Agent(c) => Ok(c.read_file(path, None).await?.0),
            Backend::Neovim(c) => c.read_file(path).await,
        }
    }

    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>, create_dirs: bool) -> Result<u64> {
        match self {
            Backend::Agent(c) => c.write_file(path, data, mode, create_dirs).await,
            Backend::Neovim(c) => c.write_file(path, data, mode, create_dirs).await,
        }
    }

    pub async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        match self {
            Backend::Agent(c) => c.remove(path, recursive).await,
            Backend::Neovim(c) => c.remove(path, recursive).await,
        }
    }

    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        match self {
            Backend::Agent(c) => c.list_dir(path).await,
            Backend::Neovim(c) => c.list_dir(path).await,
        }
    }

    pub async fn info(&self) -> Result<AgentInfo> {
        match self {
            Backend::Agent(c) => c.info().await,
            Backend::Neovim(c) => c.info().await,
        }
    }
}

/// A running process, on either transport.
pub(crate) enum Process {
    Agent(SpawnHandle),
    Neovim(NvimProcess),
}

impl Process {
    pub async fn next(&mut self) -> Option<Result<ExecEvent>> {
        match self {
            Process::Agent(h) => h.next().await,
            Process::Neovim(p) => p.next().await,
        }
    }

    pub fn kill(&self, signal: i32) -> Result<()> {
        self.control().kill(signal)
    }

    pub fn control(&self) -> Control {
        match self {
            Process::Agent(h) => Control::Agent(h.control()),
            Process::Neovim(p) => Control::Neovim(p.control()),
        }
    }
}

/// Reaches a running process without holding it.
#[derive(Clone)]
pub(crate) enum Control {
    Agent(crate::agent::SpawnControl),
    Neovim(crate::nvim::NvimControl),
}

impl Control {
    pub fn kill(&self, signal: i32) -> Result<()> {
        match self {
            Control::Agent(c) => c.kill(signal),
            Control::Neovim(c) => c.kill(signal),
        }
    }

    pub fn write(&self, data: &[u8]) -> Result<()> {
        match self {
            Control::Agent(c) => c.write(data),
            Control::Neovim(_) => Err(no_live_stdin()),
        }
    }

    pub fn close(&self) -> Result<()> {
        match self {
            Control::Agent(c) => c.close(),
            Control::Neovim(_) => Err(no_live_stdin()),
        }
    }

    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        match self {
            Control::Agent(c) => c.resize(rows, cols),
            Control::Neovim(_) => Err(no_live_stdin()),
        }
    }
}

/// Neovim jobs take their whole stdin at start and get no terminal.
pub(crate) fn no_live_stdin() -> Error {
    Error::invalid("neovim terminals run commands as Neovim jobs, without a pseudo-terminal or open stdin: use tty and stdin_open on another kind")
}
