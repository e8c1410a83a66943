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

    /// The engine name of terminal `name`'s container, from its record.
    pub fn container(&self, name: &str) -> String {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.path().join(format!("terminals/{name}.json"))).unwrap())
                .unwrap();
        rec["runtime"]["container"].as_str().unwrap().to_string()
    }

    /// Containers on the default engine labelled as terminal `name` of this
    /// state dir (works after the record is gone).
    pub async fn containers_of(&self, name: &str) -> Vec<String> {
        let docker = kled::engine::connect(&kled::engine::discover(None).unwrap()).await.unwrap();
        let mut filters = std::collections::HashMap::new();
        filters.insert(
            "label".to_string(),
            vec![format!("io.kled.home={}", self.path().display()), format!("io.kled.terminal={name}")],
        );
        let opts =
            bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        docker.list_containers(Some(opts)).await.unwrap().into_iter().filter_map(|c| c.id).collect()
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
        remove_containers(self.dir.path());
    }
}

/// Removes every container that terminals under `home` made, so a failed
/// test leaves nothing on the engine. Runs on its own thread and runtime:
/// Drop may run inside a test's runtime.
pub fn remove_containers(home: &Path) {
    let Ok(endpoint) = kled::engine::discover(None) else { return };
    let label = format!("io.kled.home={}", home.display());
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let Ok(docker) = kled::engine::connect(&endpoint).await else { return };
            let mut filters = std::collections::HashMap::new();
            filters.insert("label".to_string(), vec![label]);
            let opts =
                bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
            for c in docker.list_containers(Some(opts)).await.unwrap_or_default() {
                if let Some(id) = c.id {
                    let rm = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
                    let _ = docker.remove_container(&id, Some(rm)).await;
                }
            }
        });
    })
    .join();
}

/// Whether `pid` is a live (not zombie) process inside the terminal.
pub async fn alive(t: &Terminal, pid: i32) -> bool {
    let r = t.exec(kled::ExecRequest::new(format!("cat /proc/{pid}/stat"))).await.unwrap();
    r.exit_code == Some(0)
        && !r.stdout_str().rsplit_once(')').map(|(_, s)| s.trim_start().starts_with('Z')).unwrap_or(true)
}

/// Whether `program` is on the terminal's PATH.
pub async fn has(t: &Terminal, program: &str) -> bool {
    t.exec(kled::ExecRequest::new(format!("command -v {program}"))).await.unwrap().exit_code == Some(0)
}

/// Waits up to `secs` for `pid` to die inside the terminal.
pub async fn dies(t: &Terminal, pid: i32, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while alive(t, pid).await {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    true
}

/// The container engine for tests, or None (with the reason printed) when
/// none is set up. With KLED_REQUIRE_ENGINE=1 (the project's test command
/// sets it) a missing engine fails the test instead.
pub fn engine_or_skip(test: &str) -> Option<String> {
    match kled::engine::discover(None) {
        Ok(e) => Some(e),
        Err(e) if std::env::var("KLED_REQUIRE_ENGINE").as_deref() != Ok("1") => {
            eprintln!("SKIPPED {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: a container engine is required (KLED_REQUIRE_ENGINE=1): {e}"),
    }
}

/// Whether Neovim is installed, for Neovim tests. Without it they skip with
/// the reason printed, unless KLED_REQUIRE_ENGINE=1 (the project's test
/// command sets it), where they fail.
pub fn nvim_or_skip(test: &str) -> bool {
    if on_path("nvim") {
        return true;
    }
    if std::env::var("KLED_REQUIRE_ENGINE").as_deref() == Ok("1") {
        panic!("{test}: nvim is required (KLED_REQUIRE_ENGINE=1); install it with apt-get install neovim");
    }
    eprintln!("SKIPPED {test}: nvim is not installed (apt-get install neovim)");
    false
}

/// Kills every agent recorded under `home` (tests must not leave daemons).
pub fn kill_agents(home: &Path) {
    let Ok(entries) = std::fs::read_dir(home.join("terminals")) else { return };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        if let Some(pid) = v["runtime"]["pid"].as_u64() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            // Neovim servers run with --listen SOCKET in the home.
            if cmdline.contains("nvim") && cmdline.contains(&*home.to_string_lossy()) {
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
            if cmdline.contains("kled-agent") {
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
