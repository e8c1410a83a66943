//! Test support: a private state directory whose agents are stopped when
//! the test ends, however it ends.

#![allow(dead_code)]

#[macro_use]
mod exec_suite;

use kled::{Config, Manager, Terminal};
use std::path::Path;

pub struct Home {
    pub dir: tempfile::TempDir,
    pub manager: Manager,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new().prefix("kled-test-").tempdir_in("/tmp").unwrap();
        let manager = Manager::new(Some(dir.path().to_path_buf()), Config::default()).unwrap();
        Home { dir, manager }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub async fn local(&self, name: &str) -> Terminal {
        let t = self.manager.create_terminal("local", name, serde_json::json!({})).await.unwrap();
        t.start().await.unwrap();
        t
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        kill_agents(self.dir.path());
    }
}

/// Kills every agent recorded under `home` (tests must not leave daemons).
pub fn kill_agents(home: &Path) {
    let Ok(entries) = std::fs::read_dir(home.join("terminals")) else { return };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        if let Some(pid) = v["runtime"]["pid"].as_u64() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("kled-agent") {
                // The agent leads its own session: everything in it goes too.
                for member in session_members(pid as i32) {
                    unsafe {
                        libc::kill(member, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

/// Processes whose session id is `sid` (the leader included).
pub fn session_members(sid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        if rest.split_whitespace().nth(3).and_then(|s| s.parse::<i32>().ok()) == Some(sid) {
            found.push(pid);
        }
    }
    found
}

pub fn pid_alive(pid: i32) -> bool {
    // Zombies count as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(true),
        Err(_) => false,
    }
}

pub fn on_path(program: &str) -> bool {
    std::env::var("PATH").unwrap_or_default().split(':').any(|d| Path::new(d).join(program).is_file())
}
