//! The Manager: creates, finds, lists and removes terminals, and keeps one
//! agent connection per terminal for this process.

use crate::backend::Backend;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use crate::name::validate_name;
use crate::runtime::{runtime_for, Ctx, ExecProfile};
use crate::state::{BadRecord, Record, State, StateDir};
use crate::terminal::{Terminal, TerminalInfo};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A live connection to a terminal's agent (or Neovim) and how commands run there.
#[derive(Clone)]
pub(crate) struct Connection {
    pub client: Backend,
    pub profile: Arc<ExecProfile>,
    /// The process that dialled it. After fork() the child inherits the
    /// cache, but the connection's tasks lived on the parent's runtime
    /// threads, which the child does not have: the child must dial anew.
    pub pid: u32,
}

impl Connection {
    pub fn new(client: Backend, profile: ExecProfile) -> Connection {
        Connection { client, profile: Arc::new(profile), pid: std::process::id() }
    }
}

pub(crate) struct Inner {
    pub state: StateDir,
    pub config: Config,
    connections: Mutex<HashMap<String, Connection>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let map = std::mem::take(self.connections.get_mut().unwrap_or_else(|p| p.into_inner()));
        map.into_values().for_each(discard);
    }
}

/// Drops a connection, unless a parent process made it: in a forked child,
/// dropping would wake tasks of the parent's runtime, whose threads (and
/// possibly the locks they held) the child does not have. Leaking the
/// parent's handful of bytes is the safe choice.
fn discard(conn: Connection) {
    if conn.pid != std::process::id() {
        std::mem::forget(conn);
    }
}

/// Entry point of the library. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

/// The outcome of listing: terminals, and records that could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub terminals: Vec<TerminalInfo>,
    pub problems: Vec<BadRecord>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("state_dir", &self.inner.state.root()).finish()
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
        Ok(Manager { inner: Arc::new(Inner { state, config, connections: Mutex::new(HashMap::new()) }) })
    }

    /// A manager with the default state dir and the configuration in force
    /// (`$KLED_CONFIG` or the default file, plus environment).
    pub fn from_env() -> Result<Manager> {
        Manager::new(None, Config::load(None)?)
    }

    pub fn state_dir(&self) -> &std::path::Path {
        self.inner.state.root()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx { state: &self.inner.state, config: &self.inner.config }
    }

    /// Creates a terminal (it is not started). `kind` is a runtime name
    /// (`local`, `container`, ...); `options` a JSON object for that runtime.
    pub async fn create_terminal(&self, kind: &str, name: &str, options: serde_json::Value) -> Result<Terminal> {
        validate_name(name)?;
        let kind: Kind = kind.parse()?;
        let runtime = runtime_for(kind)?;
        let options = runtime.check_options(&options)?;
        let mut record = Record::new(name, kind, options);
        self.inner.state.create(&record)?;
        let _lock = self.lock(name).await?;
        if let Err(e) = runtime.create(&self.ctx(), &mut record).await {
            // Nothing was made: the name is free again.
            let _ = self.inner.state.delete(name);
            return Err(e);
        }
        if let Err(e) = self.inner.state.save(&record) {
            // A full disk, say: undo what the runtime made, so a failed
            // create leaves neither a record nor a container behind.
            let _ = runtime.remove(&self.ctx(), &record).await;
            let _ = self.inner.state.delete(name);
            return Err(e);
        }
        tracing::info!(terminal = name, %kind, "created");
        Ok(Terminal::new(self.clone(), name, kind))
    }

    pub async fn get_terminal(&self, name: &str) -> Result<Terminal> {
        validate_name(name)?;
        let record = self.inner.state.load(name)?;
        Ok(Terminal::new(self.clone(), name, record.kind))
    }

    /// Every terminal, sorted by name. Unreadable records are reported in
    /// `problems` (and logged), never fatal.
    pub async fn list_terminals(&self) -> Result<Listing> {
        let (records, problems) = self.inner.state.list()?;
        for p in &problems {
            tracing::warn!(terminal = %p.name, "skipping unreadable record: {}", p.error);
        }
        // Reconcile with what the runtimes see (engines are asked concurrently).
        let ctx = self.ctx();
        let observed = futures::future::join_all(records.iter().map(|r| {
            let ctx = &ctx;
            async move {
                match runtime_for(r.kind) {
                    Ok(rt) => rt.observe(ctx, r).await,
                    Err(_) => None,
                }
            }
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
        crate::providers::providers(&self.inner.config)
    }

    // -- shared with Terminal --

    pub(crate) async fn lock(&self, name: &str) -> Result<crate::state::LockGuard> {
        let state = self.inner.state.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || state.lock(&name))
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("lock task failed: {e}")))?
    }

    pub(crate) fn cached(&self, name: &str) -> Option<Connection> {
        let map = self.inner.connections.lock().unwrap();
        let pid = std::process::id();
        map.get(name).filter(|c| c.pid == pid && !c.client.is_closed()).cloned()
    }

    pub(crate) fn remember(&self, name: &str, conn: Connection) {
        let old = self.inner.connections.lock().unwrap().insert(name.to_string(), conn);
        old.map(discard);
    }

    pub(crate) fn forget(&self, name: &str) {
        let old = self.inner.connections.lock().unwrap().remove(name);
        old.map(discard);
    }

    /// A connection to the agent of a running terminal: cached, else dialled,
    /// else (the agent died but the terminal should be running) restarted.
    pub(crate) async fn connection(&self, name: &str) -> Result<Connection> {
        if let Some(c) = self.cached(name) {
            return Ok(c);
        }
        let record = self.inner.state.load(name)?;
        check_running(&record)?;
        let runtime = runtime_for(record.kind)?;
        let client = match runtime.connect(&self.ctx(), &record).await {
            Ok(c) => c,
            Err(first) if !runtime.restarts_silently() => return Err(first),
            Err(first) => {
                // Re-establish under the lock, unless someone stopped it meanwhile.
                let _lock = self.lock(name).await?;
                let mut record = self.inner.state.load(name)?;
                check_running(&record)?;
                tracing::warn!(terminal = name, "agent unreachable ({first}); restarting it");
                let client = runtime.start(&self.ctx(), &mut record).await.map_err(|e| {
                    e.context(format!("terminal {name:?} is running but its agent is gone, and restarting it failed"))
                })?;
                self.inner.state.save(&record)?;
                client
            }
        };
        let conn = Connection::new(client, runtime.profile(&record)?);
        self.remember(name, conn.clone());
        Ok(conn)
    }
}

pub(crate) fn check_running(record: &Record) -> Result<()> {
    match record.state {
        State::Running => Ok(()),
        State::Failed => Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "terminal {:?} failed{}",
                record.name,
                record.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
        )
        .with_hint(crate::Hint::StartTerminal { name: record.name.clone() })),
        s => Err(Error::new(ErrorKind::InvalidState, format!("terminal {:?} is {s}", record.name))
            .with_hint(crate::Hint::StartTerminal { name: record.name.clone() })),
    }
}
