//! Sandboxes: terminals of the configured kind, started ahead of need.
//!
//! A semaphore bounds how many exist at once (warm, in use, or being
//! removed: a permit is given back only when the container is gone), so
//! the engine never holds more than `sessions.max_sandboxes`.
//!
//! Making and removing a sandbox take hundreds of milliseconds, and a
//! request future can be dropped at any await (its client went away). So
//! both run as tracked tasks, never inside a request: a sandbox whose
//! requester left goes to the warm pool, and shutdown waits for every task.

use kled::config::CodeApiConfig;
use kled::{Manager, Terminal};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// Sandbox terminal names start with this; `remove_leftovers` relies on it.
pub const PREFIX: &str = "codeapi-";

/// Where a session's files are, and the sandbox's working directory.
pub const DATA_DIR: &str = "/mnt/data";

/// Warm sandboxes started at once when the pool runs low.
const PARALLEL_STARTS: usize = 4;

pub struct Sandbox {
    pub terminal: Terminal,
    permit: OwnedSemaphorePermit,
}

impl Sandbox {
    /// Removes the terminal, then frees its place.
    async fn remove(self) {
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
    /// Limits the sandbox's own kernel enforces (gVisor), set on its agent.
    rlimits: Option<Rlimits>,
    warm: usize,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Sandbox>>,
    /// Warm sandboxes being made now.
    making: AtomicUsize,
    closed: AtomicBool,
    /// After a failed warm start, when to try again (not every tick).
    next_try: Mutex<Instant>,
    tasks: TaskTracker,
}

impl Pool {
    pub fn new(manager: Manager, cfg: &CodeApiConfig) -> Arc<Pool> {
        let mut options = cfg.sandbox.options.clone();
        if let Some(map) = options.as_object_mut() {
            map.entry("workdir").or_insert_with(|| DATA_DIR.into());
            map.entry("cpus").or_insert_with(|| cfg.sandbox.cpus.into());
            map.entry("memory").or_insert_with(|| cfg.sandbox.memory.into());
            map.entry("pids").or_insert_with(|| cfg.sandbox.pids.into());
        }
        let rlimits = (cfg.sandbox.kind == "gvisor").then(|| Rlimits {
            pids: options.get("pids").and_then(|v| v.as_u64()).unwrap_or(u64::from(cfg.sandbox.pids)),
            memory_mib: options.get("memory").and_then(|v| v.as_u64()).unwrap_or(cfg.sandbox.memory),
        });
        Arc::new(Pool {
            manager,
            kind: cfg.sandbox.kind.clone(),
            options,
            rlimits,
            warm: cfg.sessions.warm.min(cfg.sessions.max_sandboxes),
            slots: Arc::new(Semaphore::new(cfg.sessions.max_sandboxes.max(1))),
            idle: Mutex::new(Vec::new()),
            making: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            next_try: Mutex::new(Instant::now()),
            tasks: TaskTracker::new(),
        })
    }

    /// A started sandbox: a warm one, else a new one once there is a place,
    /// waiting at most `wait` for the place. `make_room` runs whenever there
    /// is none, to free one (it evicts an idle session's sandbox). None when
    /// no place came free in time.
    pub async fn get(self: &Arc<Self>, wait: Duration, make_room: impl Fn() -> bool) -> Option<kled::Result<Sandbox>> {
        let deadline = Instant::now() + wait;
        let mut evicted: Option<Instant> = None;
        let permit = loop {
            if let Some(s) = self.idle.lock().unwrap().pop() {
                return Some(Ok(s));
            }
            if let Ok(p) = self.slots.clone().try_acquire_owned() {
                break p;
            }
            // Sandboxes go idle while we wait: free one, but not another
            // before the last one's removal has had time to give its place.
            if evicted.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) && make_room() {
                evicted = Some(Instant::now());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let turn = left.min(Duration::from_millis(200));
            if let Ok(p) = tokio::time::timeout(turn, self.slots.clone().acquire_owned()).await {
                break p.expect("the semaphore is never closed");
            }
        };
        Some(self.make_detached(permit).await)
    }

    /// Makes a sandbox in a tracked task; if the caller is gone by the time
    /// it is ready, it joins the warm pool.
    async fn make_detached(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> kled::Result<Sandbox> {
        let (tx, rx) = oneshot::channel();
        let pool = self.clone();
        self.tasks.spawn(async move {
            let made = pool.make(permit).await;
            if let Err(Ok(orphan)) = tx.send(made) {
                pool.keep(orphan).await;
            }
        });
        rx.await.unwrap_or_else(|_| Err(kled::Error::new(kled::ErrorKind::Agent, "starting a sandbox was cut short")))
    }

    async fn make(&self, permit: OwnedSemaphorePermit) -> kled::Result<Sandbox> {
        let name = format!("{PREFIX}{}", suffix());
        let t0 = Instant::now();
        let terminal = self.manager.create_terminal(&self.kind, &name, self.options.clone()).await?;
        if let Err(e) = terminal.start().await {
            let _ = terminal.remove().await;
            return Err(e);
        }
        if let Some(limits) = &self.rlimits {
            if let Err(e) = limits.apply(&terminal).await {
                let _ = terminal.remove().await;
                return Err(e);
            }
        }
        tracing::debug!(terminal = %name, ms = t0.elapsed().as_millis() as u64, "sandbox started");
        Ok(Sandbox { terminal, permit })
    }

    /// Into the warm pool, or removed if the pool is closing.
    async fn keep(&self, s: Sandbox) {
        if self.is_closed() {
            s.remove().await;
        } else {
            self.idle.lock().unwrap().push(s);
        }
    }

    /// Removes `s` in a tracked task.
    pub fn retire(&self, s: Sandbox) {
        self.tasks.spawn(s.remove());
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

    /// How many warm sandboxes are missing (ready or being made).
    pub fn shortfall(&self) -> usize {
        let have = self.idle.lock().unwrap().len() + self.making.load(Ordering::SeqCst);
        self.warm.saturating_sub(have)
    }

    /// Warm sandboxes ready now.
    pub fn warm_count(&self) -> usize {
        self.idle.lock().unwrap().len()
    }

    /// Whether every place is taken.
    pub fn full(&self) -> bool {
        self.slots.available_permits() == 0
    }

    /// Starts warm sandboxes (a few at once) up to `warm`, as places allow.
    pub fn refill(self: &Arc<Self>) {
        if self.is_closed() || Instant::now() < *self.next_try.lock().unwrap() {
            return;
        }
        let room = PARALLEL_STARTS.saturating_sub(self.making.load(Ordering::SeqCst));
        for _ in 0..self.shortfall().min(room) {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else { return };
            self.making.fetch_add(1, Ordering::SeqCst);
            let pool = self.clone();
            self.tasks.spawn(async move {
                let made = pool.make(permit).await;
                pool.making.fetch_sub(1, Ordering::SeqCst);
                match made {
                    Ok(s) => pool.keep(s).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "starting a warm sandbox; trying again in 30s");
                        *pool.next_try.lock().unwrap() = Instant::now() + Duration::from_secs(30);
                    }
                }
            });
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Stops making sandboxes, removes the warm ones and `more`, and waits
    /// for every sandbox task to end.
    pub async fn close(&self, more: Vec<Sandbox>) {
        self.closed.store(true, Ordering::SeqCst);
        let idle: Vec<Sandbox> = std::mem::take(&mut *self.idle.lock().unwrap());
        for s in idle.into_iter().chain(more) {
            self.retire(s);
        }
        self.tasks.close();
        self.tasks.wait().await;
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

/// Per-process limits set on a gVisor sandbox's agent, so that every run
/// (a child of the agent) inherits them.
///
/// Why: this machine's runsc runs with `--ignore-cgroups` (ENGINE-NOTES), so
/// the container's cgroup limits (`pids`, `memory`, `cpus`) do not reach
/// the sandbox: 300 processes and a 3 GB allocation succeeded under
/// `--pids-limit 64 --memory 512m`. gVisor's own kernel does enforce
/// rlimits: RLIMIT_NPROC (it counts the sandbox's tasks, not the host's)
/// and RLIMIT_AS (per process). Under runc those same rlimits would count
/// every host process of the uid, so they are set for gvisor only; runc
/// containers get the cgroup limits.
#[derive(Debug, Clone, Copy)]
struct Rlimits {
    pids: u64,
    memory_mib: u64,
}

impl Rlimits {
    async fn apply(&self, t: &Terminal) -> kled::Result<()> {
        let bytes = self.memory_mib.saturating_mul(1 << 20);
        // $PPID is the agent that spawns every exec of this terminal.
        let script = format!(
            "prlimit --pid \"$PPID\" --nproc={p}:{p} --as={bytes}:{bytes} && prlimit --pid \"$PPID\" --nproc --as --noheadings --raw",
            p = self.pids
        );
        let r = t.exec(kled::ExecRequest::new(kled::Command::Shell(script))).await?;
        if r.exit_code != Some(0) {
            return Err(kled::Error::new(
                kled::ErrorKind::Config,
                format!(
                    "cannot set the sandbox's process and memory limits (prlimit from util-linux must be in the image): {}",
                    String::from_utf8_lossy(&r.stderr).trim()
                ),
            ));
        }
        tracing::trace!(terminal = t.name(), limits = %String::from_utf8_lossy(&r.stdout).trim(), "sandbox rlimits");
        Ok(())
    }
}

/// 12 lowercase letters and digits: terminal names allow no more variety
/// than that in every runtime.
fn suffix() -> String {
    let id = kled::librechat::wire::new_id().to_ascii_lowercase();
    id.chars().filter(char::is_ascii_alphanumeric).take(12).collect()
}
