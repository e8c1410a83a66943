//! Sessions and their files. File bytes sit on the host under
//! `STATE/codeapi/SESSION/FILEID`: both ids are ours and random, so no name
//! a client sends ever becomes part of a host path. The index is in memory;
//! a restarted server starts empty (and clears what the last one left).

use crate::auth::KeyId;
use crate::failure::Failure;
use crate::pool::Sandbox;
use kled::librechat::wire::{is_id, new_id};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub modified: SystemTime,
    pub entity_id: Option<String>,
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
    pub owner: KeyId,
    pub state: tokio::sync::Mutex<SessionState>,
    last_used: Mutex<Instant>,
}

impl Session {
    pub fn touch(&self) {
        *self.last_used.lock().unwrap() = Instant::now();
    }
}

pub struct Store {
    root: PathBuf,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl Store {
    pub fn open(root: PathBuf) -> kled::Result<Store> {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        Ok(Store { root, sessions: Mutex::new(HashMap::new()) })
    }

    pub fn create(&self, owner: KeyId) -> kled::Result<Arc<Session>> {
        let id = new_id();
        let dir = self.root.join(&id);
        std::fs::create_dir(&dir).map_err(|e| io_error(&dir, e))?;
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

    /// The session `id` if `owner` made it. Another key's session, a
    /// malformed id and an expired one are all the same 404.
    pub fn get(&self, id: &str, owner: KeyId) -> Result<Arc<Session>, Failure> {
        let s = is_id(id)
            .then(|| self.sessions.lock().unwrap().get(id).cloned())
            .flatten()
            .filter(|s| s.owner == owner)
            .ok_or_else(|| Failure::not_found(format!("no session {id:?} (sessions expire when unused)")))?;
        s.touch();
        Ok(s)
    }

    pub fn path(&self, session: &str, file: &str) -> PathBuf {
        debug_assert!(is_id(session) && is_id(file));
        self.root.join(session).join(file)
    }

    /// Stores `data` as a new file of `session`.
    pub async fn put(
        &self,
        session: &Session,
        state: &mut SessionState,
        name: &str,
        data: &[u8],
        entity_id: Option<String>,
    ) -> kled::Result<StoredFile> {
        let id = new_id();
        let path = self.path(&session.id, &id);
        tokio::fs::write(&path, data).await.map_err(|e| io_error(&path, e))?;
        let f = StoredFile {
            id: id.clone(),
            name: name.to_string(),
            size: data.len() as u64,
            modified: SystemTime::now(),
            entity_id,
        };
        state.files.insert(id, f.clone());
        Ok(f)
    }

    pub async fn read(&self, session: &str, file: &StoredFile) -> kled::Result<Vec<u8>> {
        let path = self.path(session, &file.id);
        tokio::fs::read(&path).await.map_err(|e| io_error(&path, e))
    }

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
            if best.as_ref().map_or(true, |(t, _)| st.sandbox_used < *t) {
                best = Some((st.sandbox_used, st));
            }
        }
        let (_, mut st) = best?;
        st.synced.clear();
        st.sandbox.take()
    }

    pub async fn drain_sandboxes(&self) -> Vec<Sandbox> {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut out = Vec::new();
        for s in sessions {
            out.extend(s.state.lock().await.sandbox.take());
        }
        out
    }

    pub fn clear(&self) {
        self.sessions.lock().unwrap().clear();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> kled::Error {
    kled::Error::new(kled::ErrorKind::Io, format!("{}: {e}", path.display()))
}

/// A client's file name, if it is one we can put in /mnt/data: a plain
/// name, no directories, no `..`, no control characters.
pub fn check_name(name: &str) -> Result<&str, Failure> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\')
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name)
    } else {
        Err(Failure::bad_request(format!(
            "invalid file name {name:?}: a plain name of at most 255 bytes, without '/', '\\\\', '..' or control characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\0b", "a\nb", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["data.csv", "..hidden", "a b.txt", "ünïcode.txt", "x..y"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
