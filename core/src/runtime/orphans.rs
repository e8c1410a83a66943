//! Commands a local terminal's agent left behind when it died.
//!
//! Each start gives the terminal a random id that every command carries in
//! its environment (`KLED_TERMINAL_ID`), inherited by whatever it starts:
//! [`kill_marked`] finds them all, wherever they moved (a new session for a
//! PTY, `setsid`, a double fork). A program that clears its environment
//! escapes this; the session rule below still catches it if it stayed.
//!
//! The agent daemon is a session leader (it calls setsid when it detaches)
//! and runs each command in a process group of its own inside that session,
//! so its commands keep the agent's pid as their session id after the agent
//! is gone and they were re-parented to PID 1. `stop` and `remove` use this
//! to end them when no agent is left to ask. A pid can be reused, so a
//! process is only killed when it also carries the terminal's marker in its
//! environment (`KLED_TERMINAL=NAME`, set on every command).

use std::time::Duration;

/// SIGKILLs every process in session `sid` whose environment holds `marker`.
/// Returns how many were killed.
pub fn kill_session(sid: u32, marker: &str) -> usize {
    kill_while(|| members(sid, marker))
}

/// SIGKILLs every process whose environment holds `marker` (only this
/// user's environments are readable, and the marker is random). Returns
/// how many were killed.
pub fn kill_marked(marker: &str) -> usize {
    let me = std::process::id();
    kill_while(|| pids().filter(|&pid| pid != me && session_of(pid).is_some() && has_env(pid, marker)).collect())
}

/// Kills what `find` finds, again while it finds more (a command may be
/// forking as we go).
fn kill_while(find: impl Fn() -> Vec<u32>) -> usize {
    let mut killed = 0;
    for _ in 0..20 {
        let found = find();
        if found.is_empty() {
            break;
        }
        for pid in &found {
            // SAFETY: plain syscall; `find` checked the pid just now.
            unsafe {
                libc::kill(*pid as i32, libc::SIGKILL);
            }
        }
        killed += found.len();
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}

/// Every pid in /proc.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

fn members(sid: u32, marker: &str) -> Vec<u32> {
    pids().filter(|&pid| session_of(pid) == Some(sid) && has_env(pid, marker)).collect()
}

/// Field 6 of /proc/PID/stat (after the parenthesised command name, which
/// may itself contain spaces and parentheses); None for a zombie, which
/// keeps its environment file but is already dead.
fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?;
    if state == "Z" {
        return None;
    }
    f.nth(2)?.parse().ok()
}

fn has_env(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn kills_marked_members_of_a_session_only() {
        // A child that makes its own session, then forks two grandchildren:
        // one with the marker, one without.
        let mut leader = std::process::Command::new("/bin/sh");
        leader.args(["-c", "sleep 30 & env -u KLED_TERMINAL sleep 30 & wait"]).env("KLED_TERMINAL", "t-orphans");
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            leader.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = leader.spawn().unwrap();
        let sid = child.id();
        std::thread::sleep(Duration::from_millis(200));
        let before = members(sid, "KLED_TERMINAL=t-orphans");
        assert_eq!(before.len(), 2, "the shell and its marked sleep: {before:?}");
        assert_eq!(kill_session(sid, "KLED_TERMINAL=t-orphans"), 2);
        let _ = child.wait();
        assert!(members(sid, "KLED_TERMINAL=t-orphans").is_empty());
        // The unmarked sleep is left alone; end it ourselves.
        let left: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| session_of(pid) == Some(sid))
            .collect();
        assert_eq!(left.len(), 1, "the unmarked sleep survives: {left:?}");
        unsafe { libc::kill(left[0] as i32, libc::SIGKILL) };
    }
}
