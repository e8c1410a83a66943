//! Unix-socket mode: one agent serving many connections, detached from the
//! process that started it (how local terminals outlive their creator).

use crate::session::Session;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::OnceLock;

static SOCKET: OnceLock<String> = OnceLock::new();

pub fn run(path: &str, daemon: bool, log: Option<&str>) -> Result<(), String> {
    let listener = bind(path).map_err(|e| format!("cannot listen on {path}: {e}"))?;
    let _ = SOCKET.set(path.to_string());
    // Bound before detaching: once the starter sees us exit, connects succeed.
    if daemon {
        crate::sys::daemonize(log).map_err(|e| format!("cannot detach: {e}"))?;
    }
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
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

pub fn cleanup() {
    if let Some(p) = SOCKET.get() {
        let _ = std::fs::remove_file(p);
    }
}
