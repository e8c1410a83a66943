//! Unix-socket mode: one agent serving many connections, detached from the
//! process that started it (how local terminals outlive their creator).

use crate::session::Session;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::OnceLock;

static SOCKET: OnceLock<String> = OnceLock::new();

/// Serves `path`. Only peers running as this user, as root, or as one of the
/// `allowed` uids may talk to the agent (checked with SO_PEERCRED on every
/// connection): the socket's directory is private, and this is the second
/// lock on the same door.
pub fn run(path: &str, daemon: bool, log: Option<&str>, allowed: &[u32]) -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let listener = bind(path).map_err(|e| format!("cannot listen on {path}: {e}"))?;
    let _ = SOCKET.set(path.to_string());
    // The listener owns its socket file: a `shutdown` removes it on the way out.
    crate::shutdown::on_exit(cleanup);
    // Bound before detaching: once the starter sees us exit, connects succeed.
    if daemon {
        crate::sys::daemonize(log).map_err(|e| format!("cannot detach: {e}"))?;
    }
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                match crate::sys::peer_uid(stream.as_raw_fd()) {
                    Ok(uid) if uid == me || uid == 0 || allowed.contains(&uid) => {}
                    Ok(uid) => {
                        eprintln!("kled-agent: refused a connection from uid {uid}");
                        continue;
                    }
                    Err(e) => {
                        eprintln!("kled-agent: cannot check a peer's uid, refused: {e}");
                        continue;
                    }
                }
                std::thread::spawn(move || {
                    let Ok(writer) = stream.try_clone() else { return };
                    Session::serve(stream, writer);
                });
            }
            Err(e) => eprintln!("kled-agent: accept: {e}"),
        }
    }
    Ok(())
}

fn bind(path: &str) -> io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, "another agent is already serving it"));
            }
            // A socket left by an agent that died.
            std::fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        other => other,
    }
}

fn cleanup() {
    if let Some(p) = SOCKET.get() {
        let _ = std::fs::remove_file(p);
    }
}
