//! Persistence: one JSON record per terminal in the state directory, so a
//! terminal made by one process (Python, the CLI, C) is found by any other.
//!
//! Layout of the state directory:
//! ```text
//! terminals/NAME.json   the record (written to a temp file, then renamed)
//! locks/NAME.lock       flock(2) taken around start/stop/remove of NAME
//! run/NAME.sock         a local terminal's agent socket
//! logs/NAME.log         a local terminal's agent log
//! work/NAME/            a local terminal's default working directory
//! bin/                  the agent binary, extracted from the library
//! ```
//! Creating a record is atomic and exclusive: the record is written to a
//! temporary file and hard-linked to its final name, which fails if the name
//! exists, so of two processes creating one name exactly one wins.

use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Created,
    Running,
    Stopped,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is kept about a terminal between processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub kind: Kind,
    /// The runtime's options as given at creation (validated).
    pub options: serde_json::Value,
    pub state: State,
    /// Why the terminal failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds since the epoch.
    pub created_at: u64,
    pub updated_at: u64,
    /// Runtime-private facts (a local agent's socket and pid, a container id).
    #[serde(default)]
    pub runtime: serde_json::Value,
    /// The terminal's session on the Code Interpreter API, once it ran code there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::librechat::RemoteSession>,
    /// The kled version that last wrote this record.
    pub kled_version: String,
}

impl Record {
    pub fn new(name: &str, kind: Kind, options: serde_json::Value) -> Record {
        let now = now();
        Record {
            name: name.to_string(),
            kind,
            options,
            state: State::Created,
            error: None,
            created_at: now,
            updated_at: now,
            runtime: serde_json::Value::Null,
            remote: None,
            kled_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A record that could not be read, reported by name instead of failing a listing.
#[derive(Debug, Clone, Serialize)]
pub struct BadRecord {
    pub name: String,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// An exclusive flock, released on drop.
pub struct LockGuard {
    #[allow(dead_code)] // held for its flock
    file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Deletes the lock file while holding it (the name is going away).
    /// Waiters notice and lock a fresh file: see [`StateDir::lock`].
    pub fn unlink(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl StateDir {
    /// `$KLED_HOME`, else `$XDG_STATE_HOME/kled`, else `~/.local/state/kled`.
    pub fn default_path() -> Result<PathBuf> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = env("KLED_HOME") {
            return Ok(p);
        }
        if let Some(p) = env("XDG_STATE_HOME") {
            return Ok(p.join("kled"));
        }
        env("HOME")
            .map(|h| h.join(".local/state/kled"))
            .ok_or_else(|| Error::new(ErrorKind::Config, "cannot find a state directory: set KLED_HOME (or HOME)"))
    }

    pub fn open(root: PathBuf) -> Result<StateDir> {
        crate::private_dir::own_root(&root)?;
        let dir = StateDir { root };
        for sub in ["terminals", "locks"] {
            dir.subdir(sub)?;
        }
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A stable 64-bit hash (FNV-1a) of the root path: it names what this
    /// state dir owns outside itself (container names, the short socket
    /// directory), so two state dirs never share them.
    pub fn root_hash(&self) -> u64 {
        self.root
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
    }

    /// `root/sub`, created owner-only if missing.
    pub fn subdir(&self, sub: &str) -> Result<PathBuf> {
        let p = self.root.join(sub);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)
            .map_err(|e| Error::io(format!("cannot create state directory {}", p.display()), e))?;
        Ok(p)
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.root.join("terminals").join(format!("{name}.json"))
    }

    fn temp_path(&self, name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        self.root.join("terminals").join(format!(".{name}.{}.{n}.tmp", std::process::id()))
    }

    fn write_temp(&self, record: &Record) -> Result<PathBuf> {
        let tmp = self.temp_path(&record.name);
        let data = serde_json::to_vec_pretty(record).expect("records serialize");
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&data)?;
            f.write_all(b"\n")?;
            f.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", tmp.display()), e)
        })?;
        Ok(tmp)
    }

    /// Stores a new record; `AlreadyExists` if the name is taken.
    pub fn create(&self, record: &Record) -> Result<()> {
        let tmp = self.write_temp(record)?;
        let linked = fs::hard_link(&tmp, self.record_path(&record.name));
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::new(ErrorKind::AlreadyExists, format!("a terminal named {:?} already exists", record.name)))
            }
            Err(e) => Err(Error::io("cannot store the terminal record", e)),
        }
    }

    /// Replaces an existing record atomically.
    pub fn save(&self, record: &Record) -> Result<()> {
        let mut record = record.clone();
        record.updated_at = now();
        record.kled_version = env!("CARGO_PKG_VERSION").to_string();
        let tmp = self.write_temp(&record)?;
        fs::rename(&tmp, self.record_path(&record.name)).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("cannot store the terminal record", e)
        })
    }

    pub fn load(&self, name: &str) -> Result<Record> {
        let path = self.record_path(name);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::not_found(name)),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let record: Record = serde_json::from_slice(&data).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("the record of terminal {name:?} ({}) is corrupt: {e}", path.display()),
            )
        })?;
        if record.name != name {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the record {} names another terminal ({:?})", path.display(), record.name),
            ));
        }
        Ok(record)
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        match fs::remove_file(self.record_path(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found(name)),
            Err(e) => Err(Error::io("cannot remove the terminal record", e)),
        }
    }

    pub fn exists(&self, name: &str) -> bool {
        self.record_path(name).exists()
    }

    /// Every readable record, sorted by name, and every unreadable one by name.
    pub fn list(&self) -> Result<(Vec<Record>, Vec<BadRecord>)> {
        self.sweep_temps();
        let dir = self.root.join("terminals");
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json").filter(|s| !s.starts_with('.')).map(str::to_string)
            })
            .collect();
        names.sort();
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for name in names {
            match self.load(&name) {
                Ok(r) => good.push(r),
                // Removed by another process since read_dir: not a problem.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => bad.push(BadRecord { name, error: e.message().to_string() }),
            }
        }
        Ok((good, bad))
    }

    /// Takes the lifecycle lock of `name`, blocking until it is free.
    ///
    /// `remove` deletes the lock file while it holds the lock (so lock files
    /// do not pile up). A process that was waiting on the old file then holds
    /// a lock nobody else can see, so after every flock the file at the path
    /// must still be the one locked; if not, it locks the new one.
    pub fn lock(&self, name: &str) -> Result<LockGuard> {
        use std::os::unix::fs::MetadataExt;
        let path = self.root.join("locks").join(format!("{name}.lock"));
        loop {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io(format!("cannot open lock {}", path.display()), e))?;
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io(format!("cannot lock {}", path.display()), e));
            }
            let held = f.metadata().map_err(|e| Error::io(format!("cannot inspect lock {}", path.display()), e))?;
            match fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(LockGuard { file: f, path });
                }
                // Removed (or replaced) while we waited: lock the current one.
                _ => continue,
            }
        }
    }

    /// Deletes temporary record files left by a process that died between
    /// writing and renaming one: a dead writer, and at least a minute old
    /// (a writer in another pid namespace may look dead from here).
    fn sweep_temps(&self) {
        let dir = self.root.join("terminals");
        let Ok(entries) = fs::read_dir(&dir) else { return };
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = temp_writer(&n) else { continue };
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > std::time::Duration::from_secs(60))
                .unwrap_or(false);
            // SAFETY: signal 0 only checks that the pid exists.
            let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            if old && !alive {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// The writer's pid of a temporary record file `.NAME.PID.N.tmp`.
fn temp_writer(file: &str) -> Option<u32> {
    let inner = file.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let _seq: u64 = parts.next()?.parse().ok()?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_go_with_their_terminal_and_stale_temps_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path().to_path_buf()).unwrap();
        let guard = dir.lock("gone").unwrap();
        // A second taker waits on the same file...
        let waiter = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let g = dir.lock("gone").unwrap();
                // ...and must end up holding the file that is there now.
                std::fs::metadata(&g.path).is_ok()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        guard.unlink();
        drop(guard);
        assert!(waiter.join().unwrap(), "the waiter holds a lock file that still exists");
        // A temp file of a dead writer, over a minute old, is swept by list().
        let stale = tmp.path().join("terminals/.x.999999999.0.tmp");
        std::fs::write(&stale, b"{}").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(old).unwrap();
        let fresh = tmp.path().join(format!("terminals/.y.{}.0.tmp", std::process::id()));
        std::fs::write(&fresh, b"{}").unwrap();
        dir.list().unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists(), "a live writer's temp file stays");
    }

    #[test]
    fn create_is_exclusive_and_corrupt_records_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path().to_path_buf()).unwrap();
        let r = Record::new("one", Kind::Local, serde_json::json!({}));
        dir.create(&r).unwrap();
        assert_eq!(dir.create(&r).unwrap_err().kind(), ErrorKind::AlreadyExists);
        let mut r2 = dir.load("one").unwrap();
        r2.state = State::Running;
        dir.save(&r2).unwrap();
        assert_eq!(dir.load("one").unwrap().state, State::Running);
        fs::write(tmp.path().join("terminals/broken.json"), b"{not json").unwrap();
        let (good, bad) = dir.list().unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].name, "broken");
        assert!(bad[0].error.contains("corrupt"), "{}", bad[0].error);
        dir.delete("one").unwrap();
        assert_eq!(dir.load("one").unwrap_err().kind(), ErrorKind::NotFound);
        // No temporary files are left behind.
        let left: Vec<_> =
            fs::read_dir(tmp.path().join("terminals")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn concurrent_creates_have_one_winner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path().to_path_buf()).unwrap();
        let wins: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..16)
                .map(|_| s.spawn(|| dir.create(&Record::new("race", Kind::Local, serde_json::json!({}))).is_ok()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(wins, 1);
    }
}
