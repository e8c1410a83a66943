//! Sandboxes: terminals of the configured kind, started ahead of need.
//!
//! A semaphore bounds how many exist at once (warm, in use, or being
//! removed: a permit is given back only when the container is gone), so
//! the engine never holds more than `sessions.max_sandboxes`.

use kled::config::CodeApiConfig;
use kled::{Manager, Terminal};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Sandbox terminal names start with this; `remove_leftovers` relies on it.
pub const PREFIX: &str = "codeapi-";

/// Where a session's files are, and the sandbox's working directory.
pub const DATA_DIR: &str = "/mnt/data";

pub struct Sandbox {
    pub terminal: Terminal,
    permit: OwnedSemaphorePermit,
}

impl Sandbox {
    /// Removes the terminal, then frees its place.
    pub async fn remove(self) {
        if let Err(e) = self.terminal.remove().await {
            tracing::warn!(terminal = self.terminal.name(), error = %e, "removing a sandbox");
        }
        drop(self.permit);
    }
}

pub struct Pool {
    manager: Manager,
    kind: String,
    options: serde_json::Value,
    warm: usize,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Sandbox>>,
    /// Warm sandboxes being made now.
    making: AtomicUsize,
    closed: AtomicBool,
    /// After a failed warm start, when to try again (not every tick).
    next_try: Mutex<std::time::Instant>,
}

impl Pool {
    pub fn new(manager: Manager, cfg: &CodeApiConfig) -> Pool {
        let mut options = cfg.sandbox.options.clone();
        if let Some(map) = options.as_object_mut() {
            map.entry("workdir").or_insert_with(|| DATA_DIR.into());
        }
        Pool {
            manager,
            kind: cfg.sandbox.kind.clone(),
            options,
            warm: cfg.sessions.warm.min(cfg.sessions.max_sandboxes),
            slots: Arc::new(Semaphore::new(cfg.sessions.max_sandboxes.max(1))),
            idle: Mutex::new(Vec::new()),
            making: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            next_try: Mutex::new(std::time::Instant::now()),
        }
    }

    /// A started sandbox: a warm one, else a new one if there is room.
    /// None when all places are taken (the caller frees one or waits).
    pub async fn try_get(&self) -> Option<kled::Result<Sandbox>> {
        if let Some(s) = self.idle.lock().unwrap().pop() {
            return Some(Ok(s));
        }
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        Some(self.make(permit).await)
    }

    /// Waits for a place, then makes a sandbox in it.
    pub async fn get_waiting(&self) -> kled::Result<Sandbox> {
        let permit = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        if let Some(s) = self.idle.lock().unwrap().pop() {
            drop(permit);
            return Ok(s);
        }
        self.make(permit).await
    }

    async fn make(&self, permit: OwnedSemaphorePermit) -> kled::Result<Sandbox> {
        let name = format!("{PREFIX}{}", suffix());
        let t0 = std::time::Instant::now();
        let terminal = self.manager.create_terminal(&self.kind, &name, self.options.clone()).await?;
        if let Err(e) = terminal.start().await {
            let _ = terminal.remove().await;
            return Err(e);
        }
        tracing::debug!(terminal = %name, ms = t0.elapsed().as_millis() as u64, "sandbox started");
        Ok(Sandbox { terminal, permit })
    }

    /// Starts one sandbox and keeps it warm: a wrong image or engine shows
    /// at start-up, not at the first request.
    pub async fn probe(&self) -> kled::Result<()> {
        let permit = self.slots.clone().try_acquire_owned().expect("a fresh pool has room");
        let s = self.make(permit).await?;
        if self.warm > 0 {
            self.idle.lock().unwrap().push(s);
        } else {
            s.remove().await;
        }
        Ok(())
    }

    /// Starts warm sandboxes up to `warm`, as places allow.
    pub async fn refill(&self) {
        if std::time::Instant::now() < *self.next_try.lock().unwrap() {
            return;
        }
        loop {
            let have = self.idle.lock().unwrap().len() + self.making.load(Ordering::SeqCst);
            if have >= self.warm || self.is_closed() {
                return;
            }
            let Ok(permit) = self.slots.clone().try_acquire_owned() else { return };
            self.making.fetch_add(1, Ordering::SeqCst);
            let made = self.make(permit).await;
            self.making.fetch_sub(1, Ordering::SeqCst);
            match made {
                Ok(s) if self.is_closed() => s.remove().await,
                Ok(s) => self.idle.lock().unwrap().push(s),
                Err(e) => {
                    tracing::warn!(error = %e, "starting a warm sandbox; trying again in 30s");
                    *self.next_try.lock().unwrap() = std::time::Instant::now() + std::time::Duration::from_secs(30);
                    return;
                }
            }
        }
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub async fn remove_idle(&self) {
        let idle: Vec<Sandbox> = std::mem::take(&mut *self.idle.lock().unwrap());
        futures::future::join_all(idle.into_iter().map(Sandbox::remove)).await;
    }

    /// Removes sandbox terminals a server that died left in this state dir.
    pub async fn remove_leftovers(&self) {
        let Ok(listing) = self.manager.list_terminals().await else { return };
        for info in listing.terminals.iter().filter(|t| t.name.starts_with(PREFIX)) {
            tracing::info!(terminal = %info.name, "removing a sandbox left by an earlier server");
            if let Err(e) = self.manager.remove_terminal(&info.name).await {
                tracing::warn!(terminal = %info.name, error = %e, "removing a leftover sandbox");
            }
        }
    }
}

/// 12 lowercase letters and digits: terminal names allow no more variety
/// than that in every runtime.
fn suffix() -> String {
    let id = kled::librechat::wire::new_id().to_ascii_lowercase();
    id.chars().filter(char::is_ascii_alphanumeric).take(12).collect()
}
