//! One protocol conversation: reads frames, runs requests, writes replies.

use crate::flow::{Flow, Flows};
use crate::out::Out;
use crate::running::{Running, RunningMap};
use crate::{files, shutdown, spawn, sys};
use kled_protocol::{ErrorCode, Frame, FrameKind, Hello, Reply, Request, PROTOCOL_VERSION};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub struct Session {
    out: Out,
    running: RunningMap,
    uploads: HashMap<u32, files::Upload>,
    /// Unix sockets proxied by `connect` requests: their write side.
    proxies: HashMap<u32, std::os::unix::net::UnixStream>,
    /// Credit of the streaming requests (spawn, read_file, connect).
    flows: Flows,
    /// The credit each streaming request starts with (the client's HELLO).
    window: u64,
}

impl Session {
    /// Serves one stream until it closes or a `shutdown` arrives.
    pub fn serve<R: Read, W: Write + Send + 'static>(mut input: R, output: W) {
        let out = Out::new(output);
        let pid = std::process::id();
        if !out.send(Frame::json(FrameKind::Hello, 0, &Hello::new(env!("CARGO_PKG_VERSION"), Some(pid)))) {
            return;
        }
        let window = match Frame::read_from(&mut input) {
            Ok(Some(f)) if f.kind == FrameKind::Hello => match f.parse::<Hello>() {
                Ok(h) if h.protocol == PROTOCOL_VERSION => h.window,
                Ok(h) => {
                    out.error(
                        0,
                        ErrorCode::Version,
                        format!(
                            "kled-agent {} speaks protocol {PROTOCOL_VERSION}, client {} speaks {}",
                            env!("CARGO_PKG_VERSION"),
                            h.version,
                            h.protocol
                        ),
                    );
                    return;
                }
                Err(e) => {
                    out.error(0, ErrorCode::Invalid, e.to_string());
                    return;
                }
            },
            Ok(Some(_)) => {
                out.error(0, ErrorCode::Invalid, "expected HELLO as the first frame");
                return;
            }
            _ => return,
        };
        let mut session = Session {
            out,
            running: Arc::new(Mutex::new(HashMap::new())),
            uploads: HashMap::new(),
            proxies: HashMap::new(),
            flows: Flows::default(),
            window,
        };
        loop {
            match Frame::read_from(&mut input) {
                Ok(Some(frame)) => {
                    if !session.handle(frame) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("kled-agent: {e}");
                    break;
                }
            }
        }
        session.kill_all();
    }

    /// False when the session should end.
    fn handle(&mut self, frame: Frame) -> bool {
        let id = frame.id;
        match frame.kind {
            FrameKind::Request => match frame.parse::<Request>() {
                Ok(req) => return self.request(id, req),
                Err(e) => {
                    self.out.error(id, ErrorCode::Invalid, e.to_string());
                }
            },
            FrameKind::Input => self.input(id, frame.payload),
            FrameKind::Credit => match frame.credit_bytes() {
                Ok(bytes) => self.flows.grant(id, bytes),
                Err(e) => {
                    self.out.error(id, ErrorCode::Invalid, e.to_string());
                }
            },
            other => {
                self.out.error(id, ErrorCode::Invalid, format!("unexpected {other:?} frame from client"));
            }
        }
        true
    }

    fn input(&mut self, id: u32, data: Vec<u8>) {
        if let Some(upload) = self.uploads.get_mut(&id) {
            if data.is_empty() {
                let upload = self.uploads.remove(&id).expect("present");
                match upload.finish() {
                    Ok(bytes) => self.out.reply(id, &Reply::Written { bytes }),
                    Err(e) => self.out.error(id, files::code_of(&e), e.to_string()),
                };
            } else if let Err(e) = upload.write(&data) {
                // Keep the entry so the rest of the input is swallowed; report at EOF.
                upload.fail(e);
            }
            return;
        }
        if let Some(sock) = self.proxies.get_mut(&id) {
            // An empty INPUT (or a failed write) shuts the write side; the
            // reader thread ends the request when the socket closes.
            if data.is_empty() || sock.write_all(&data).is_err() {
                let _ = sock.shutdown(std::net::Shutdown::Write);
                self.proxies.remove(&id);
            }
            return;
        }
        let running = self.running.lock().unwrap();
        if let Some(r) = running.get(&id) {
            if let Some(tx) = &r.stdin {
                // A closed stdin (the process stopped reading) drops the data.
                let _ = tx.send(data);
            }
        }
        // Input for a request that has finished is dropped: the race is normal.
    }

    /// Registers the credit of streaming request `id`, or answers ERROR.
    fn flow(&self, id: u32) -> Option<Flow> {
        match self.flows.open(id, self.window) {
            Ok(f) => Some(f),
            Err(e) => {
                self.out.error(id, ErrorCode::Io, format!("cannot set up flow control: {e}"));
                None
            }
        }
    }

    fn request(&mut self, id: u32, req: Request) -> bool {
        match req {
            Request::Spawn(s) => {
                let Some(flow) = self.flow(id) else { return true };
                let (tx, rx) = if s.stdin {
                    let (tx, rx) = mpsc::channel();
                    (Some(tx), Some(rx))
                } else {
                    (None, None)
                };
                self.running.lock().unwrap().insert(
                    id,
                    Running { pgid: None, pending_signal: None, stdin: tx, pty: None, pending_resize: None },
                );
                let out = self.out.clone();
                let running = self.running.clone();
                std::thread::spawn(move || spawn::run(id, s, rx, out, running, flow));
            }
            Request::Kill { target, signal } => {
                let mut running = self.running.lock().unwrap();
                match running.get_mut(&target) {
                    Some(Running { pgid: Some(pgid), .. }) => sys::kill_group(*pgid, signal),
                    Some(r) => r.pending_signal = Some(signal),
                    None => {}
                }
                drop(running);
                self.out.reply(id, &Reply::Ok);
            }
            Request::Resize { target, rows, cols } => {
                use std::os::fd::AsRawFd;
                let mut running = self.running.lock().unwrap();
                let r = match running.get_mut(&target) {
                    Some(Running { pty: Some(fd), .. }) => sys::set_winsize(fd.as_raw_fd(), rows, cols),
                    // Not started yet: applied when it is.
                    Some(Running { pgid: None, pending_resize, .. }) => {
                        *pending_resize = Some((rows, cols));
                        Ok(())
                    }
                    // Ended, or never had a terminal: nothing to resize.
                    _ => Ok(()),
                };
                drop(running);
                match r {
                    Ok(()) => self.out.reply(id, &Reply::Ok),
                    Err(e) => self.out.error(id, ErrorCode::Io, format!("resize: {e}")),
                };
            }
            Request::ReadFile { path, max_bytes } => {
                let Some(flow) = self.flow(id) else { return true };
                let out = self.out.clone();
                std::thread::spawn(move || files::read(id, &path, max_bytes, &out, flow));
            }
            Request::WriteFile { path, mode, create_dirs } => {
                match files::Upload::begin(&path, mode, create_dirs, id) {
                    Ok(u) => {
                        self.uploads.insert(id, u);
                    }
                    Err(e) => {
                        // Still swallow the content that follows.
                        self.uploads.insert(id, files::Upload::failed(e));
                    }
                }
            }
            Request::ListDir { path } => match files::list(&path) {
                Ok(entries) => {
                    self.out.reply(id, &Reply::Listing { entries });
                }
                Err(e) => {
                    self.out.error(id, files::code_of(&e), format!("{path}: {e}"));
                }
            },
            Request::Remove { path, recursive } => match files::remove(&path, recursive) {
                Ok(()) => {
                    self.out.reply(id, &Reply::Ok);
                }
                Err(e) => {
                    self.out.error(id, files::code_of(&e), format!("{path}: {e}"));
                }
            },
            Request::Which { programs } => {
                let paths = programs.iter().map(|p| files::which(p)).collect();
                self.out.reply(id, &Reply::Which { paths });
            }
            Request::Info => {
                let u = sys::uname();
                let info = kled_protocol::AgentInfo {
                    pid: std::process::id(),
                    uid: sys::getuid(),
                    hostname: u.nodename,
                    kernel_release: u.release,
                    kernel_version: u.version,
                    os: std::env::consts::OS.to_string(),
                    arch: u.machine,
                    cwd: std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
                };
                self.out.reply(id, &Reply::Info(info));
            }
            Request::Shutdown => {
                self.out.reply(id, &Reply::Ok);
                shutdown::shutdown();
            }
            Request::Connect { path } => match std::os::unix::net::UnixStream::connect(&path) {
                Ok(sock) => match sock.try_clone() {
                    Ok(reader) => {
                        let Some(flow) = self.flow(id) else { return true };
                        // An empty DATA frame says "connected" before any byte flows.
                        self.out.send(Frame::new(FrameKind::Data, id, Vec::new()));
                        self.proxies.insert(id, sock);
                        let out = self.out.clone();
                        std::thread::spawn(move || proxy_out(id, reader, out, flow));
                    }
                    Err(e) => {
                        self.out.error(id, files::code_of(&e), format!("{path}: {e}"));
                    }
                },
                Err(e) => {
                    self.out.error(id, files::code_of(&e), format!("cannot connect to {path}: {e}"));
                }
            },
        }
        true
    }

    /// The stream is gone: nobody will read the output of what it started.
    fn kill_all(&self) {
        // Producers waiting for credit that will never come give up.
        self.flows.close_all();
        for sock in self.proxies.values() {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        let running = self.running.lock().unwrap();
        for r in running.values() {
            if let Some(pgid) = r.pgid {
                sys::kill_group(pgid, libc::SIGKILL);
            }
        }
    }
}

/// Copies what a proxied socket sends into DATA frames; REPLY at its end.
/// It reads the socket only while it has credit, so a client that stops
/// reading leaves the backlog in the socket's sender.
fn proxy_out(id: u32, mut sock: std::os::unix::net::UnixStream, out: Out, flow: Flow) {
    let mut buf = vec![0u8; kled_protocol::CHUNK];
    loop {
        let Some(room) = flow.credit.wait_room() else {
            let _ = sock.shutdown(std::net::Shutdown::Both);
            return;
        };
        match sock.read(&mut buf[..room]) {
            Ok(0) => break,
            Ok(n) => {
                flow.credit.spend(n);
                if !out.send(Frame::new(FrameKind::Data, id, buf[..n].to_vec())) {
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    out.reply(id, &Reply::Ok);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kled_protocol::{ErrorReply, Spawn};
    use std::sync::Mutex;

    /// A writer the test can read back after the session ends.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut r = bytes;
        let mut out = Vec::new();
        while let Some(f) = Frame::read_from(&mut r).unwrap() {
            out.push(f);
        }
        out
    }

    fn encode(fs: &[Frame]) -> Vec<u8> {
        let mut buf = Vec::new();
        for f in fs {
            f.write_to(&mut buf).unwrap();
        }
        buf
    }

    #[test]
    fn a_different_protocol_version_is_refused_clearly() {
        let hello = Hello { protocol: PROTOCOL_VERSION + 1, ..Hello::new("9.9.9", None) };
        let input = encode(&[Frame::json(FrameKind::Hello, 0, &hello)]);
        let sink = Sink::default();
        Session::serve(&input[..], sink.clone());
        let out = frames(&sink.0.lock().unwrap());
        assert_eq!(out[0].kind, FrameKind::Hello);
        assert_eq!(out[1].kind, FrameKind::Error);
        let e: ErrorReply = out[1].parse().unwrap();
        assert_eq!(e.code, ErrorCode::Version);
        assert!(e.message.contains("9.9.9"), "{}", e.message);
    }

    #[test]
    fn garbage_and_unknown_requests_get_errors_not_crashes() {
        let hello = Hello::new("test", None);
        let spawn = Spawn {
            argv: vec!["echo".into(), "hi".into()],
            env: Default::default(),
            cwd: None,
            stdin: false,
            timeout_ms: None,
            max_output: 1024,
            tty: None,
        };
        let input = encode(&[
            Frame::json(FrameKind::Hello, 0, &hello),
            Frame::new(FrameKind::Request, 1, b"{\"op\":\"format_disk\"}".to_vec()),
            Frame::new(FrameKind::Stdout, 2, b"clients do not send this".to_vec()),
            Frame::json(FrameKind::Request, 3, &Request::Which { programs: vec!["sh".into(), "nope-kled".into()] }),
            Frame::json(FrameKind::Request, 4, &Request::Spawn(spawn)),
        ]);
        let sink = Sink::default();
        Session::serve(&input[..], sink.clone());
        // The spawn runs on its own thread: wait for its exit frame.
        for _ in 0..200 {
            if frames(&sink.0.lock().unwrap()).iter().any(|f| f.kind == FrameKind::Exit) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = frames(&sink.0.lock().unwrap());
        let by_id = |id| out.iter().filter(move |f| f.id == id).collect::<Vec<_>>();
        assert_eq!(by_id(1)[0].kind, FrameKind::Error);
        assert_eq!(by_id(2)[0].kind, FrameKind::Error);
        match by_id(3)[0].parse::<Reply>().unwrap() {
            Reply::Which { paths } => assert!(paths[0].is_some() && paths[1].is_none()),
            other => panic!("{other:?}"),
        }
        // The session ended (input closed) while echo ran: it was killed or
        // finished, and either way reported an exit.
        assert!(by_id(4).iter().any(|f| f.kind == FrameKind::Exit));
    }
}
