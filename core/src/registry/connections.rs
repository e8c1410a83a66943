//! The connection cache: one live agent (or Neovim) connection per terminal
//! for this process, shared by every handle on it.

use crate::backend::Backend;
use crate::runtime::ExecProfile;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A live connection to a terminal's agent (or Neovim) and how commands run there.
#[derive(Clone)]
pub(crate) struct Connection {
    pub client: Backend,
    pub profile: Arc<ExecProfile>,
    /// The process that dialled it. After fork() the child inherits the
    /// cache, but the connection's tasks lived on the parent's runtime
    /// threads, which the child does not have: the child must dial anew.
    pid: u32,
}

impl Connection {
    pub fn new(client: Backend, profile: ExecProfile) -> Connection {
        Connection { client, profile: Arc::new(profile), pid: std::process::id() }
    }
}

#[derive(Default)]
pub(crate) struct Connections(Mutex<HashMap<String, Connection>>);

impl Connections {
    /// The cached connection, if this process made it and it is still open.
    pub fn get(&self, name: &str) -> Option<Connection> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        map.get(name).filter(|c| c.pid == pid && !c.client.is_closed()).cloned()
    }

    pub fn put(&self, name: &str, conn: Connection) {
        let old = self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), conn);
        old.map(discard);
    }

    pub fn forget(&self, name: &str) {
        let old = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
        old.map(discard);
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        let map = std::mem::take(self.0.get_mut().unwrap_or_else(|p| p.into_inner()));
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
