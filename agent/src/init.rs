//! `--init`: the agent as a container's PID 1. A container needs a process
//! that stays up, and PID 1 must reap orphaned processes and honour SIGTERM
//! (the kernel gives PID 1 no default signal actions), or `stop` waits for
//! its timeout and zombies pile up. Any image works, even one with no shell.

extern "C" fn on_terminate(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

pub fn run() -> ! {
    // SAFETY: installing a handler that only calls _exit.
    unsafe {
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(sig, on_terminate as *const () as libc::sighandler_t);
        }
    }
    loop {
        // SAFETY: waitpid on any child with a null status pointer.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
        if r < 0 {
            // No children right now: orphans adopted later are reaped on
            // the next pass.
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}
