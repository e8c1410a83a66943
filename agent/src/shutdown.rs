//! Stopping the whole agent. Whoever owns something to undo at exit (the
//! listener, its socket file) registers a hook here, so this module needs
//! to know none of them.

use crate::{groups, sys};
use std::sync::Mutex;

static HOOKS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Runs `hook` just before a `shutdown` exits.
pub fn on_exit(hook: fn()) {
    HOOKS.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
}

/// Stops everything this agent started (politely, then not), and exits.
pub fn shutdown() -> ! {
    let groups = groups::all();
    let session = own_session_members();
    for &g in &groups {
        sys::kill_group(g, libc::SIGTERM);
    }
    for &p in &session {
        // SAFETY: signalling processes of our own session.
        unsafe {
            libc::kill(p, libc::SIGTERM);
        }
    }
    if !groups.is_empty() || !session.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for &g in &groups {
        sys::kill_group(g, libc::SIGKILL);
    }
    for p in own_session_members() {
        // SAFETY: as above.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
    let hooks: Vec<fn()> = HOOKS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for hook in hooks {
        hook();
    }
    std::process::exit(0)
}

/// When the agent leads its own session (daemon mode), every process in that
/// session was started from it, including ones whose parent already exited
/// (`cmd &`). Listing them lets `stop` leave nothing behind.
fn own_session_members() -> Vec<i32> {
    let me = std::process::id() as i32;
    // SAFETY: getsid(0) asks about ourselves.
    if unsafe { libc::getsid(0) } != me {
        return Vec::new();
    }
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return found };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if pid == me {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name: state ppid pgrp session ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(3).and_then(|s| s.parse::<i32>().ok()) == Some(me) {
            found.push(pid);
        }
    }
    found
}
