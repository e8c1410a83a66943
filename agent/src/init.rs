//! `--init`: the agent as a container's PID 1. A container needs a process
//! that stays up, and PID 1 must reap orphaned processes and honour SIGTERM
//! (the kernel gives PID 1 no default signal actions), or `stop` waits for
//! its timeout and zombies pile up. Any image works, even one with no shell.
//!
//! With `--listen SOCKET`, PID 1 also keeps a `kled-agent --listen SOCKET`
//! child running (restarting it if it dies). The listener is a separate
//! process because PID 1 reaps with waitpid(-1), which would steal the exit
//! statuses of the commands the listener runs.

use std::process::Command;
use std::time::Duration;

extern "C" fn on_terminate(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

fn spawn_listener(socket: &str, allowed: &[u32]) -> Option<i32> {
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = Command::new(exe);
    cmd.args(["--listen", socket]);
    for uid in allowed {
        cmd.arg("--allow-uid").arg(uid.to_string());
    }
    match cmd.spawn() {
        Ok(child) => Some(child.id() as i32),
        Err(e) => {
            eprintln!("kled-agent --init: cannot start the listener: {e}");
            None
        }
    }
}

pub fn run(listen: Option<String>, allowed: &[u32]) -> ! {
    // SAFETY: installing a handler that only calls _exit.
    unsafe {
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(sig, on_terminate as *const () as libc::sighandler_t);
        }
    }
    let mut listener = listen.as_deref().and_then(|s| spawn_listener(s, allowed));
    loop {
        // SAFETY: waitpid on any child with a null status pointer.
        let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
        if pid < 0 {
            // No children right now: orphans adopted later are reaped on
            // the next pass.
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        if Some(pid) == listener {
            std::thread::sleep(Duration::from_millis(100));
            listener = listen.as_deref().and_then(|s| spawn_listener(s, allowed));
        }
    }
}
