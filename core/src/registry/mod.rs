//! The registry: the state dir (one record per terminal), the per-terminal
//! locks, and this process's connection cache. `Manager` and `Terminal` are
//! handles on one shared registry; neither reaches into the other.
//!
//! Records live on disk because other processes (another CLI call, a Python
//! program) change them: every operation reads the record afresh, and every
//! change of state happens under the terminal's lock (lifecycle.rs).

mod connections;
mod lifecycle;

pub(crate) use connections::Connection;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::Ctx;
use crate::state::{BadRecord, LockGuard, Record, StateDir};
use connections::Connections;
use std::path::Path;

pub(crate) struct Registry {
    state: StateDir,
    config: Config,
    connections: Connections,
}

impl Registry {
    pub fn open(state: StateDir, config: Config) -> Registry {
        Registry { state, config, connections: Connections::default() }
    }

    pub fn root(&self) -> &Path {
        self.state.root()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What a runtime may use.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx { state: &self.state, config: &self.config }
    }

    pub fn load(&self, name: &str) -> Result<Record> {
        self.state.load(name)
    }

    pub fn save(&self, record: &Record) -> Result<()> {
        self.state.save(record)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.state.exists(name)
    }

    pub fn list(&self) -> Result<(Vec<Record>, Vec<BadRecord>)> {
        self.state.list()
    }

    /// The terminal's lock, taken off the async threads (it may wait for
    /// another process).
    pub async fn lock(&self, name: &str) -> Result<LockGuard> {
        let state = self.state.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || state.lock(&name))
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("lock task failed: {e}")))?
    }

    /// Changes a terminal's record under its lock.
    pub async fn update(&self, name: &str, change: impl FnOnce(&mut Record)) -> Result<()> {
        let _lock = self.lock(name).await?;
        let mut record = self.load(name)?;
        change(&mut record);
        self.save(&record)
    }

    pub fn forget_connection(&self, name: &str) {
        self.connections.forget(name);
    }
}
