//! Sessions and their files. File bytes sit on the host under
//! `STATE/codeapi/SESSION/FILEID`: both ids are ours and random, so no name
//! a client sends ever becomes part of a host path. Each session's index
//! (owner, files, last use) is `STATE/codeapi/SESSION/meta.json`, written
//! atomically on every change, so a restarted server finds every session
//! and file the last one had (and expires them by TTL as before).

use crate::failure::Failure;
use crate::pool::Sandbox;
use kled::librechat::wire::{is_id, new_id};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFile {
    pub id: String,
    /// A relative path under /mnt/data (`data/in.csv`).
    pub name: String,
    pub size: u64,
    #[serde(with = "unix_ms")]
    pub modified: SystemTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Uploaded as an input never to be returned as an output (skills).
    #[serde(default)]
    pub read_only: bool,
}

/// What an exec may change; behind the session's async lock, so one
/// session's execs run one at a time.
pub struct SessionState {
    pub files: BTreeMap<String, StoredFile>,
    pub sandbox: Option<Sandbox>,
    /// Which file (id) each name in the sandbox's /mnt/data holds, as far
    /// as we put it there or saw it made.
    pub synced: HashMap<String, String>,
    pub sandbox_used: Instant,
}

pub struct Session {
    pub id: String,
    /// Who may use it: a [`crate::auth::Principal`]'s user key, or the key
    /// of a resource its files are shared by (agent, skill).
    pub owner: String,
    pub state: tokio::sync::Mutex<SessionState>,
    last_used: Mutex<Instant>,
}

impl Session {
    pub fn touch(&self) {
        *self.last_used.lock().unwrap() = Instant::now();
    }

    fn last_used_wall(&self) -> SystemTime {
        SystemTime::now() - self.last_used.lock().unwrap().elapsed()
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    owner: String,
    #[serde(with = "unix_ms")]
    last_used: SystemTime,
    files: Vec<StoredFile>,
}

pub struct Store {
    root: PathBuf,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl Store {
    /// Opens the store under `root`, loading what an earlier server kept.
    pub fn open(root: PathBuf) -> kled::Result<Store> {
        create_private_dir(&root)?;
        let store = Store { root, sessions: Mutex::new(HashMap::new()) };
        let (mut kept, mut dropped) = (0, 0);
        for entry in std::fs::read_dir(&store.root).map_err(|e| io_error(&store.root, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match is_id(&name).then(|| store.load(&name)).flatten() {
                Some(s) => {
                    store.sessions.lock().unwrap().insert(name, s);
                    kept += 1;
                }
                None => {
                    let _ = std::fs::remove_dir_all(entry.path());
                    dropped += 1;
                }
            }
        }
        if kept + dropped > 0 {
            tracing::info!(kept, dropped, "codeapi sessions from an earlier server");
        }
        Ok(store)
    }

    fn load(&self, id: &str) -> Option<Arc<Session>> {
        let path = self.root.join(id).join("meta.json");
        let meta: Meta = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let files = meta
            .files
            .into_iter()
            .filter(|f| is_id(&f.id) && self.path(id, &f.id).is_file())
            .map(|f| (f.id.clone(), f))
            .collect();
        let age = SystemTime::now().duration_since(meta.last_used).unwrap_or_default();
        let last_used = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        Some(Arc::new(Session {
            id: id.to_string(),
            owner: meta.owner,
            state: tokio::sync::Mutex::new(SessionState {
                files,
                sandbox: None,
                synced: HashMap::new(),
                sandbox_used: Instant::now(),
            }),
            last_used: Mutex::new(last_used),
        }))
    }

    /// Writes `session`'s index (call with its state locked).
    pub fn save(&self, session: &Session, st: &SessionState) {
        let meta = Meta {
            owner: session.owner.clone(),
            last_used: session.last_used_wall(),
            files: st.files.values().cloned().collect(),
        };
        let dir = self.root.join(&session.id);
        let (tmp, path) = (dir.join(".meta.json.tmp"), dir.join("meta.json"));
        let r = std::fs::write(&tmp, serde_json::to_vec(&meta).expect("plain data"))
            .and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = r {
            tracing::warn!(session = %session.id, error = %e, "cannot save the session index");
        }
    }

    pub fn create(&self, owner: String) -> kled::Result<Arc<Session>> {
        let id = new_id();
        let dir = self.root.join(&id);
        create_private_dir(&dir)?;
        let s = Arc::new(Session {
            id: id.clone(),
            owner,
            state: tokio::sync::Mutex::new(SessionState {
                files: BTreeMap::new(),
                sandbox: None,
                synced: HashMap::new(),
                sandbox_used: Instant::now(),
            }),
            last_used: Mutex::new(Instant::now()),
        });
        self.sessions.lock().unwrap().insert(id, s.clone());
        Ok(s)
    }

    /// The session `id`, whoever owns it (callers check), or a 404.
    pub fn find(&self, id: &str) -> Result<Arc<Session>, Failure> {
        is_id(id)
            .then(|| self.sessions.lock().unwrap().get(id).cloned())
            .flatten()
            .ok_or_else(|| Failure::not_found(format!("no session {id:?} (sessions expire when unused)")))
    }

    /// The session `id` if `owner` owns it. Another's session, a malformed
    /// id and an expired one are all the same 404.
    pub fn get(&self, id: &str, owner: &str) -> Result<Arc<Session>, Failure> {
        let s = self
            .find(id)
            .ok()
            .filter(|s| s.owner == owner)
            .ok_or_else(|| Failure::not_found(format!("no session {id:?} (sessions expire when unused)")))?;
        s.touch();
        Ok(s)
    }

    /// A session of `owner` whose sandbox is up and not running anything:
    /// one user's runs reuse that user's warm sandbox.
    pub fn warm_of(&self, owner: &str) -> Option<Arc<Session>> {
        let sessions: Vec<Arc<Session>> =
            self.sessions.lock().unwrap().values().filter(|s| s.owner == owner).cloned().collect();
        sessions
            .into_iter()
            .filter_map(|s| {
                let used = s.state.try_lock().ok().filter(|st| st.sandbox.is_some()).map(|st| st.sandbox_used)?;
                Some((used, s))
            })
            .max_by_key(|(used, _)| *used)
            .map(|(_, s)| s)
    }

    pub fn path(&self, session: &str, file: &str) -> PathBuf {
        debug_assert!(is_id(session) && is_id(file));
        self.root.join(session).join(file)
    }

    /// Stores `data` as a new file of `session` (mode 0600: only the
    /// server's user reads stored files). The caller saves the index.
    pub async fn put(
        &self,
        session: &Session,
        state: &mut SessionState,
        name: &str,
        data: &[u8],
        entity_id: Option<String>,
        read_only: bool,
    ) -> kled::Result<StoredFile> {
        let id = new_id();
        let path = self.path(&session.id, &id);
        let write = {
            let (path, data) = (path.clone(), data.to_vec());
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?.write_all(&data)
            })
        };
        write
            .await
            .map_err(|e| kled::Error::new(kled::ErrorKind::Io, e.to_string()))?
            .map_err(|e| io_error(&path, e))?;
        let f = StoredFile {
            id: id.clone(),
            name: name.to_string(),
            size: data.len() as u64,
            modified: SystemTime::now(),
            entity_id,
            read_only,
        };
        state.files.insert(id, f.clone());
        Ok(f)
    }

    pub async fn read(&self, session: &str, file: &StoredFile) -> kled::Result<Vec<u8>> {
        let path = self.path(session, &file.id);
        tokio::fs::read(&path).await.map_err(|e| io_error(&path, e))
    }

    /// Drops a file (the caller saves the index).
    pub fn delete(&self, session: &str, state: &mut SessionState, file: &str) -> bool {
        let Some(f) = state.files.remove(file) else { return false };
        let _ = std::fs::remove_file(self.path(session, &f.id));
        true
    }

    /// Takes the sandboxes idle longer than `idle` out of their sessions,
    /// and drops sessions unused for `ttl` (a busy session is never
    /// touched). Returns the sandboxes to remove.
    pub async fn expire(&self, idle: Duration, ttl: Duration) -> Vec<Sandbox> {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut out = Vec::new();
        for s in sessions {
            let Ok(mut st) = s.state.try_lock() else { continue };
            let unused = s.last_used.lock().unwrap().elapsed();
            if unused >= ttl {
                out.extend(st.sandbox.take());
                self.sessions.lock().unwrap().remove(&s.id);
                let _ = std::fs::remove_dir_all(self.root.join(&s.id));
                tracing::debug!(session = %s.id, "session expired");
            } else if st.sandbox.is_some() && st.sandbox_used.elapsed() >= idle {
                out.extend(st.sandbox.take());
                st.synced.clear();
            }
        }
        out
    }

    /// The least recently used sandbox of a session not running anything,
    /// unused for at least `min_idle`, taken out to make room.
    pub fn evict_one(&self, min_idle: Duration) -> Option<Sandbox> {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut best: Option<(Instant, tokio::sync::MutexGuard<'_, SessionState>)> = None;
        for s in &sessions {
            let Ok(st) = s.state.try_lock() else { continue };
            if st.sandbox.is_none() || st.sandbox_used.elapsed() < min_idle {
                continue;
            }
            if best.as_ref().is_none_or(|(t, _)| st.sandbox_used < *t) {
                best = Some((st.sandbox_used, st));
            }
        }
        let (_, mut st) = best?;
        st.synced.clear();
        st.sandbox.take()
    }

    /// Every sandbox out of its session, every index saved: for shutdown.
    /// The stored files stay for the next server.
    pub async fn drain_sandboxes(&self) -> Vec<Sandbox> {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut out = Vec::new();
        for s in sessions {
            let mut st = s.state.lock().await;
            out.extend(st.sandbox.take());
            self.save(&s, &st);
        }
        out
    }

    /// How many sessions hold a sandbox, and how many of those run now.
    pub fn sandbox_counts(&self) -> (usize, usize) {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let (mut held, mut busy) = (0, 0);
        for s in sessions {
            match s.state.try_lock() {
                Ok(st) => held += usize::from(st.sandbox.is_some()),
                Err(_) => {
                    held += 1;
                    busy += 1;
                }
            }
        }
        (held, busy)
    }
}

fn create_private_dir(dir: &std::path::Path) -> kled::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) => Err(io_error(dir, e)),
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> kled::Error {
    kled::Error::new(kled::ErrorKind::Io, format!("{}: {e}", path.display()))
}

/// SystemTime as milliseconds since the epoch.
mod unix_ms {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_millis(u64::deserialize(d)?))
    }
}
