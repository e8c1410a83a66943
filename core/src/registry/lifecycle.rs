//! Changes of a terminal's state, each under the terminal's lock: create,
//! start, stop, remove, and the connection a running terminal is reached by
//! (dialled, cached, or its agent restarted when it died).

use super::{Connection, Registry};
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use crate::name::validate_name;
use crate::runtime::runtime_for;
use crate::state::{Record, State};

impl Registry {
    /// Makes the record and what the runtime needs; on any failure, neither
    /// is left behind.
    pub async fn create(&self, kind: &str, name: &str, options: serde_json::Value) -> Result<Kind> {
        validate_name(name)?;
        let kind: Kind = kind.parse()?;
        let runtime = runtime_for(kind);
        let options = runtime.check_options(&options)?;
        // What `providers` says, create says: before anything is made.
        runtime.availability_for(&self.config, &options).map_err(|e| match e.hint() {
            Some(_) => e,
            None => e.with_hint(crate::Hint::ListProviders),
        })?;
        let mut record = Record::new(name, kind, options);
        self.state.create(&record)?;
        let _lock = self.lock(name).await?;
        if let Err(e) = runtime.create(&self.ctx(), &mut record).await {
            // Nothing was made: the name is free again.
            let _ = self.state.delete(name);
            return Err(e);
        }
        if let Err(e) = self.state.save(&record) {
            // A full disk, say: undo what the runtime made, so a failed
            // create leaves neither a record nor a container behind.
            let _ = runtime.remove(&self.ctx(), &record).await;
            let _ = self.state.delete(name);
            return Err(e);
        }
        tracing::info!(terminal = name, %kind, "created");
        Ok(kind)
    }

    /// Makes the terminal runnable. Idempotent.
    pub async fn start(&self, name: &str) -> Result<()> {
        let _lock = self.lock(name).await?;
        let mut record = self.load(name)?;
        let runtime = runtime_for(record.kind);
        let ctx = self.ctx();
        if record.state == State::Running {
            if let Ok(client) = runtime.connect(&ctx, &record).await {
                self.connections.put(name, Connection::new(client, runtime.profile(&record)?));
                return Ok(());
            }
        }
        self.connections.forget(name);
        match runtime.start(&ctx, &mut record).await {
            Ok(client) => {
                record.state = State::Running;
                record.error = None;
                let profile = runtime.profile(&record)?;
                self.save(&record)?;
                self.connections.put(name, Connection::new(client, profile));
                tracing::info!(terminal = name, "started");
                Ok(())
            }
            Err(e) => {
                record.state = State::Failed;
                record.error = Some(e.message().to_string());
                let _ = self.save(&record);
                Err(e)
            }
        }
    }

    /// Stops everything running in the terminal and keeps its data. Idempotent.
    pub async fn stop(&self, name: &str) -> Result<()> {
        let _lock = self.lock(name).await?;
        let mut record = self.load(name)?;
        self.connections.forget(name);
        let runtime = runtime_for(record.kind);
        match record.state {
            State::Stopped => return Ok(()),
            // Never started, as far as the record knows; but a start that
            // was killed midway may have left an agent or container running.
            State::Created => {
                let _ = runtime.stop(&self.ctx(), &mut record).await;
                return Ok(());
            }
            State::Running | State::Failed => runtime.stop(&self.ctx(), &mut record).await?,
        }
        record.state = State::Stopped;
        self.save(&record)?;
        tracing::info!(terminal = name, "stopped");
        Ok(())
    }

    /// Stops the terminal and deletes it and its data.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let lock = self.lock(name).await?;
        let mut record = self.load(name)?;
        self.connections.forget(name);
        let runtime = runtime_for(record.kind);
        let ctx = self.ctx();
        match record.state {
            State::Running | State::Failed => runtime.stop(&ctx, &mut record).await?,
            // Best effort: a start killed midway may have left something running.
            State::Created | State::Stopped => {
                let _ = runtime.stop(&ctx, &mut record).await;
            }
        }
        runtime.remove(&ctx, &record).await?;
        self.state.delete(name)?;
        lock.unlink();
        tracing::info!(terminal = name, "removed");
        Ok(())
    }

    /// A connection to the agent of a running terminal: cached, else dialled,
    /// else (the agent died but the terminal should be running) restarted.
    pub async fn connection(&self, name: &str) -> Result<Connection> {
        if let Some(c) = self.connections.get(name) {
            return Ok(c);
        }
        let record = self.load(name)?;
        check_running(&record)?;
        let runtime = runtime_for(record.kind);
        let client = match runtime.connect(&self.ctx(), &record).await {
            Ok(c) => c,
            Err(first) if !runtime.restarts_silently() => return Err(first),
            Err(first) => {
                // Re-establish under the lock, unless someone stopped it meanwhile.
                let _lock = self.lock(name).await?;
                let mut record = self.load(name)?;
                check_running(&record)?;
                tracing::warn!(terminal = name, "agent unreachable ({first}); restarting it");
                let client = runtime.start(&self.ctx(), &mut record).await.map_err(|e| {
                    e.context(format!("terminal {name:?} is running but its agent is gone, and restarting it failed"))
                })?;
                self.save(&record)?;
                client
            }
        };
        let conn = Connection::new(client, runtime.profile(&record)?);
        self.connections.put(name, conn.clone());
        Ok(conn)
    }
}

impl Registry {
    /// A lost agent connection often means another process stopped or
    /// removed the terminal: say that rather than "connection lost".
    pub fn explain(&self, name: &str, e: Error) -> Error {
        if e.kind() != ErrorKind::Agent {
            return e;
        }
        match self.load(name) {
            Ok(r) if r.state != State::Running => check_running(&r).err().unwrap_or(e),
            Err(not_found) if not_found.kind() == ErrorKind::NotFound => not_found,
            _ => e,
        }
    }
}

/// Ok for a running terminal; else why commands cannot run in it.
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
