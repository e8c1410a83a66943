//! The few raw system calls std does not offer.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

pub fn kill_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; ESRCH (already gone) is fine to ignore.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// SIGKILLs process group `pgid` again and again until it is empty (ESRCH)
/// or `within` passed: a command that keeps forking (a fork bomb) can add
/// members while the first signal is being delivered.
pub fn kill_group_until_empty(pgid: i32, within: std::time::Duration) {
    if pgid <= 0 {
        return;
    }
    let deadline = std::time::Instant::now() + within;
    loop {
        // SAFETY: plain syscall.
        let rc = unsafe { libc::killpg(pgid, libc::SIGKILL) };
        if rc != 0 || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// An fd that becomes readable when `pid` exits, where the kernel has
/// pidfd_open (Linux 5.3+; some sandboxes lack it).
pub fn pidfd_open(pid: u32) -> Option<RawFd> {
    // SAFETY: syscall with plain integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        None
    } else {
        Some(fd as RawFd)
    }
}

/// The uid of the process at the other end of a unix socket (SO_PEERCRED).
pub fn peer_uid(fd: RawFd) -> io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len)
    };
    if rc == 0 {
        Ok(cred.uid)
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd we own.
    unsafe {
        libc::close(fd);
    }
}

/// poll(2) on `fds` (reading); returns which are readable or hung up.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    loop {
        // SAFETY: pfds is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

pub struct Uname {
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
}

pub fn uname() -> Uname {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe {
        libc::uname(&mut u);
    }
    fn field(f: &[libc::c_char]) -> String {
        let bytes: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
    Uname {
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
    }
}

pub fn getuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getuid() }
}

/// Detach from the caller: fork, let the parent exit, start a new session.
/// Must be called while the process is still single-threaded.
pub fn daemonize(log: Option<&str>) -> io::Result<()> {
    // SAFETY: single-threaded at this point, so fork is sound.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain syscalls on our own process and fds.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    if let Some(path) = log {
        use std::os::fd::IntoRawFd;
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let fd = f.into_raw_fd();
        // SAFETY: redirect stderr to the log file we just opened.
        unsafe {
            libc::dup2(fd, 2);
            libc::close(fd);
        }
    }
    Ok(())
}

/// A new pseudo-terminal of `rows` x `cols`: (master, slave), both
/// close-on-exec (the child gets the slave through dup2, which clears it).
pub fn open_pty(rows: u16, cols: u16) -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let check = |r: libc::c_int| if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) };
    // SAFETY: plain libc calls on an fd we own; ptsname_r writes into `name`.
    unsafe {
        let master = OwnedFd::from_raw_fd(check(libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?);
        check(libc::grantpt(master.as_raw_fd()))?;
        check(libc::unlockpt(master.as_raw_fd()))?;
        let mut name = [0 as libc::c_char; 128];
        let r = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        let slave =
            OwnedFd::from_raw_fd(check(libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?);
        set_winsize(master.as_raw_fd(), rows, cols)?;
        Ok((master, slave))
    }
}

/// Sets a pseudo-terminal's size; its foreground process group gets SIGWINCH.
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
