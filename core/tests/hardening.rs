//! Findings of probing kled as an attacker and as a careless user would
//! (issue 14), each against real processes: another user's squatted socket
//! directory, an agent reached by another uid, a start killed midway, an
//! agent that crashed under its commands, an open state dir.

#[macro_use]
mod common;

use kled::{Config, ExecRequest, Manager, State};
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A state dir so deep that `run/NAME.sock` does not fit in a socket path,
/// so the agent's socket goes to the short fallback directory.
fn deep_home(base: &Path) -> PathBuf {
    let deep = base.join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    deep
}

fn record(home: &Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(home.join(format!("terminals/{name}.json"))).unwrap()).unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(true))
        .unwrap_or(false)
}

fn wait_dead(pid: u32) -> bool {
    for _ in 0..200 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// Another local user: the one scripts/test.sh makes (`kled-other`, its uid
/// in KLED_TEST_OTHER_UID), else nobody (65534).
fn other_uid() -> u32 {
    std::env::var("KLED_TEST_OTHER_UID").ok().and_then(|u| u.parse().ok()).unwrap_or(65534)
}

#[tokio::test]
async fn a_socket_directory_made_by_another_user_is_refused() {
    let base = common::Home::new();
    let home = deep_home(base.path());
    let m = Manager::new(Some(home.clone()), Config::default()).unwrap();
    let t = m.create_terminal("local", "sq", json!({})).await.unwrap();
    t.start().await.unwrap();
    let socket = PathBuf::from(record(&home, "sq")["runtime"]["socket"].as_str().unwrap());
    assert!(!socket.starts_with(&home), "the deep home's socket lives elsewhere: {}", socket.display());
    let dir = socket.parent().unwrap().to_path_buf();
    let md = std::fs::symlink_metadata(&dir).unwrap();
    assert_eq!((md.mode() & 0o777, md.uid()), (0o700, unsafe { libc::geteuid() }));
    assert_eq!(t.exec(ExecRequest::new("echo ok")).await.unwrap().stdout_str(), "ok\n");
    t.stop().await.unwrap();

    // Another user takes the directory's place (as one could, in /tmp, before
    // our first use): open to all, and theirs.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&dir, Some(other_uid()), Some(other_uid())).unwrap();
    let e = t.start().await.unwrap_err();
    assert!(
        e.message().contains("refusing to use") && e.message().contains(&format!("belongs to uid {}", other_uid())),
        "{e}"
    );
    // A symlink in its place is refused as well.
    std::fs::remove_dir(&dir).unwrap();
    std::os::unix::fs::symlink("/tmp", &dir).unwrap();
    let e = t.start().await.unwrap_err();
    assert!(e.message().contains("symbolic link"), "{e}");
    std::fs::remove_file(&dir).unwrap();
    // Once it is gone, kled makes its own again.
    t.start().await.unwrap();
    assert_eq!(t.exec(ExecRequest::new("echo back")).await.unwrap().stdout_str(), "back\n");
    t.remove().await.unwrap();
}

#[tokio::test]
async fn the_agent_talks_only_to_its_own_user() {
    let home = common::Home::new();
    // The agent on a socket another user can reach (a directory open to all),
    // to check its own door: SO_PEERCRED.
    let open = home.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = open.join("a.sock");
    let agent = kled::agent::install_agent(&home.path().join("bin")).unwrap();
    let mut child = std::process::Command::new(&agent).arg("--listen").arg(&socket).spawn().unwrap();
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    // Another user connects and sends a frame: the agent hangs up without a
    // word (a Hello reply would be the first bytes it sends).
    let probe = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\ns.settimeout(5)\n\
         try:\n    s.sendall(b'\\x00'*16)\nexcept OSError:\n    pass\n\
         try:\n    d=s.recv(100)\nexcept OSError:\n    d=b''\nsys.stdout.write('got %d bytes' % len(d))\n",
        socket.display().to_string()
    );
    let out = std::process::Command::new("setpriv")
        .args(["--reuid", &other_uid().to_string(), "--regid", &other_uid().to_string(), "--clear-groups"])
        .args(["/usr/bin/python3", "-c", &probe])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got 0 bytes");
}

#[tokio::test]
async fn a_start_killed_midway_leaves_nothing_that_rm_or_create_adopts() {
    let home = common::Home::new();
    let m = &home.manager;
    let t = m.create_terminal("local", "midway", json!({})).await.unwrap();
    t.start().await.unwrap();
    let pid = record(home.path(), "midway")["runtime"]["pid"].as_u64().unwrap() as u32;
    let bg = t.exec(ExecRequest::new("sleep 300 >/dev/null 2>&1 & echo $!")).await.unwrap();
    let child: u32 = bg.stdout_str().trim().parse().unwrap();
    // The record as a start killed by SIGKILL before it saved leaves it:
    // still "created", no runtime facts, while the agent runs.
    let path = home.path().join("terminals/midway.json");
    let mut rec = record(home.path(), "midway");
    rec["state"] = json!("created");
    rec["runtime"] = serde_json::Value::Null;
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let fresh = Manager::new(Some(home.path().to_path_buf()), Config::default()).unwrap();
    fresh.remove_terminal("midway").await.unwrap();
    assert!(wait_dead(pid), "rm left the agent {pid} running");
    assert!(wait_dead(child), "rm left the agent's command {child} running");

    // Again, then create the name anew instead of removing it: the new
    // terminal gets a new agent in its own (existing) working directory.
    let t = fresh.create_terminal("local", "midway", json!({})).await.unwrap();
    t.start().await.unwrap();
    let old = record(home.path(), "midway")["runtime"]["pid"].as_u64().unwrap() as u32;
    let mut rec = record(home.path(), "midway");
    rec["state"] = json!("created");
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(home.path().join("work/midway"));
    t.start().await.unwrap();
    let new = record(home.path(), "midway")["runtime"]["pid"].as_u64().unwrap() as u32;
    assert_ne!(old, new, "a leftover agent was adopted");
    assert!(wait_dead(old));
    let r = t.exec(ExecRequest::new("pwd")).await.unwrap();
    assert_eq!(r.exit_code, Some(0), "{r:?}");
    assert!(r.stdout_str().trim_end().ends_with("work/midway"), "{r:?}");
    t.remove().await.unwrap();
    assert!(!home.path().join("locks/midway.lock").exists(), "rm leaves no lock file");
}

#[tokio::test]
async fn commands_of_a_crashed_agent_end_with_stop() {
    let home = common::Home::new();
    let t = home.local("crash").await;
    let pid = record(home.path(), "crash")["runtime"]["pid"].as_u64().unwrap() as u32;
    let bg = t.exec(ExecRequest::new("sleep 300 >/dev/null 2>&1 & echo $!")).await.unwrap();
    let child: u32 = bg.stdout_str().trim().parse().unwrap();
    // Commands that left the agent's session: one in a session of its own
    // (setsid), one on a pseudo-terminal (which the agent starts in a new
    // session), each reporting its pid through a file.
    let r = t.exec(ExecRequest::new("setsid sh -c 'echo $$ > setsid.pid; exec sleep 300' >/dev/null 2>&1 &")).await;
    r.unwrap().check().unwrap();
    // (It ignores SIGHUP, else the agent's death would hang up its PTY and end it.)
    let mut pty = ExecRequest::new("trap '' HUP; echo $$ > pty.pid; exec sleep 300");
    pty.tty = Some(kled::TtySize { rows: 24, cols: 80 });
    let _stream = t.exec_stream(pty).await.unwrap();
    // Async: on this one-thread runtime the spawn goes out only while we yield.
    let read_pid = |f: &'static str| {
        let path = home.path().join("work/crash").join(f);
        async move {
            for _ in 0..500 {
                if let Some(p) = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
                    return p;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("{f} never appeared");
        }
    };
    let (own_session, on_pty) = (read_pid("setsid.pid").await, read_pid("pty.pid").await);
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(wait_dead(pid));
    for p in [child, own_session, on_pty] {
        assert!(alive(p), "the command {p} outlives its agent (re-parented)");
    }
    t.stop().await.unwrap();
    assert!(wait_dead(child), "stop left {child} running after its agent died");
    assert!(wait_dead(own_session), "stop left the setsid command {own_session} running");
    assert!(wait_dead(on_pty), "stop left the PTY command {on_pty} running");
    assert_eq!(t.state().await.unwrap(), State::Stopped);
    t.remove().await.unwrap();
}

#[tokio::test]
async fn state_dirs_and_working_dirs_are_private() {
    let base = tempfile::Builder::new().prefix("kled-test-").tempdir_in("/tmp").unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let m = Manager::new(Some(base.path().to_path_buf()), Config::default()).unwrap();
    assert_eq!(std::fs::metadata(base.path()).unwrap().mode() & 0o777, 0o700, "an open state dir is closed");
    let t = m.create_terminal("local", "priv", json!({})).await.unwrap();
    let work = base.path().join("work/priv");
    assert_eq!(std::fs::metadata(&work).unwrap().mode() & 0o777, 0o700);
    t.remove().await.unwrap();
    // A state dir of another user is refused, not used.
    let theirs = base.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(other_uid()), Some(other_uid())).unwrap();
    let e = Manager::new(Some(theirs), Config::default()).unwrap_err();
    assert!(e.message().contains(&format!("belongs to uid {}", other_uid())), "{e}");
}
