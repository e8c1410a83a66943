//! The Manager: creates, finds, lists and removes terminals, and keeps one
//! agent connection per terminal for this process.

use crate::config::Config;
use crate::error::Result;
use crate::registry::Registry;
use crate::runtime::runtime_for;
use crate::state::{BadRecord, StateDir};
use crate::terminal::{Terminal, TerminalInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// Entry point of the library. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Manager {
    registry: Arc<Registry>,
}

/// The outcome of listing: terminals, and records that could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub terminals: Vec<TerminalInfo>,
    pub problems: Vec<BadRecord>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("state_dir", &self.registry.root()).finish()
    }
}

impl Manager {
    /// A manager on `state_dir` (default: `$KLED_HOME`, `$XDG_STATE_HOME/kled`,
    /// `~/.local/state/kled`) with `config`.
    pub fn new(state_dir: Option<PathBuf>, config: Config) -> Result<Manager> {
        let root = match state_dir {
            Some(p) => p,
            None => StateDir::default_path()?,
        };
        let state = StateDir::open(root)?;
        Ok(Manager { registry: Arc::new(Registry::open(state, config)) })
    }

    /// A manager with the default state dir and the configuration in force
    /// (`$KLED_CONFIG` or the default file, plus environment).
    pub fn from_env() -> Result<Manager> {
        Manager::new(None, Config::load(None)?)
    }

    pub fn state_dir(&self) -> &std::path::Path {
        self.registry.root()
    }

    pub fn config(&self) -> &Config {
        self.registry.config()
    }

    fn terminal(&self, name: &str, kind: crate::Kind) -> Terminal {
        Terminal::new(self.registry.clone(), name, kind)
    }

    /// Whether a record by that name exists (bulk creation checks names first).
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.registry.exists(name)
    }

    /// Creates a terminal (it is not started). `kind` is a runtime name
    /// (`local`, `container`, ...); `options` a JSON object for that runtime.
    pub async fn create_terminal(&self, kind: &str, name: &str, options: serde_json::Value) -> Result<Terminal> {
        let kind = self.registry.create(kind, name, options).await?;
        Ok(self.terminal(name, kind))
    }

    pub async fn get_terminal(&self, name: &str) -> Result<Terminal> {
        crate::name::validate_name(name)?;
        let record = self.registry.load(name)?;
        Ok(self.terminal(name, record.kind))
    }

    /// Every terminal, sorted by name. Unreadable records are reported in
    /// `problems` (and logged), never fatal.
    pub async fn list_terminals(&self) -> Result<Listing> {
        let (records, problems) = self.registry.list()?;
        for p in &problems {
            tracing::warn!(terminal = %p.name, "skipping unreadable record: {}", p.error);
        }
        // Reconcile with what the runtimes see (engines are asked concurrently).
        let ctx = self.registry.ctx();
        let observed = futures::future::join_all(records.iter().map(|r| {
            let ctx = &ctx;
            async move { runtime_for(r.kind).observe(ctx, r).await }
        }))
        .await;
        let terminals = records
            .iter()
            .zip(observed)
            .map(|(r, seen)| {
                let mut info = TerminalInfo::from(r);
                if let Some((state, why)) = seen {
                    info.state = state;
                    info.error = why.or(info.error);
                }
                info
            })
            .collect();
        Ok(Listing { terminals, problems })
    }

    /// Stops and deletes a terminal.
    pub async fn remove_terminal(&self, name: &str) -> Result<()> {
        self.get_terminal(name).await?.remove().await
    }

    /// Every runtime, whether it works here, and what it needs.
    pub fn providers(&self) -> Vec<crate::providers::Provider> {
        crate::providers::providers(self.registry.config())
    }
}
