//! Running one process: pipes, output caps, timeout, exit.

use crate::flow::{Credit, Flow};
use crate::groups;
use crate::out::Out;
use crate::running::RunningMap;
use crate::sys;
use kled_protocol::{ExitInfo, Frame, FrameKind, Spawn, CHUNK};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long output may keep arriving after the process exited, from
/// background children that inherited its pipes (`cmd &`). They are not
/// waited for beyond this: they belong to the terminal, not to this exec.
const LINGER: Duration = Duration::from_millis(200);
/// After a timeout kill, how long to wait for pipes held by processes that
/// escaped the group (setsid) before giving up on them.
const KILL_LINGER: Duration = Duration::from_millis(500);

/// After the timeout's first SIGKILL: reap the leader (so it stops counting
/// as a member) and keep killing the group until nothing is left in it.
fn child_reaped_kill(child: &mut Child, status: &mut Option<ExitStatus>, pgid: i32) {
    if status.is_none() {
        *status = child.wait().ok();
    }
    sys::kill_group_until_empty(pgid, KILL_LINGER);
}

pub fn run(id: u32, spec: Spawn, stdin: Option<Receiver<Vec<u8>>>, out: Out, running: RunningMap, flow: Flow) {
    let start = Instant::now();
    let info = match start_child(&spec) {
        Ok((child, pty)) => {
            let pgid = child.id() as i32;
            groups::insert(pgid);
            let (pending, resize) = {
                let mut map = running.lock().unwrap();
                map.get_mut(&id).map_or((None, None), |r| {
                    r.pgid = Some(pgid);
                    r.pty = pty.as_ref().and_then(|m| m.try_clone().ok());
                    (r.pending_signal.take(), r.pending_resize.take())
                })
            };
            if let (Some((rows, cols)), Some(m)) = (resize, &pty) {
                let _ = sys::set_winsize(m.as_raw_fd(), rows, cols);
            }
            if let Some(sig) = pending {
                sys::kill_group(pgid, sig);
            }
            let info = pump(id, child, pty, &spec, stdin, &out, start, &flow.credit);
            groups::remove(pgid);
            info
        }
        Err(e) => {
            // Report like a shell would, so argv and shell commands agree.
            let code = match e.kind() {
                ErrorKind::NotFound => 127,
                _ => 126,
            };
            let program = spec.argv.first().map(String::as_str).unwrap_or("");
            let msg = format!("kled-agent: cannot run {program:?}: {e}\n");
            out.send(Frame::new(FrameKind::Stderr, id, msg.into_bytes()));
            ExitInfo { code: Some(code), duration_us: start.elapsed().as_micros() as u64, ..Default::default() }
        }
    };
    running.lock().unwrap().remove(&id);
    out.send(Frame::json(FrameKind::Exit, id, &info));
}

/// Starts the process: on pipes, or on a new pseudo-terminal (returned:
/// its master side) when the spec asks for one.
fn start_child(spec: &Spawn) -> std::io::Result<(Child, Option<OwnedFd>)> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(std::io::Error::new(ErrorKind::InvalidInput, "empty command"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args).envs(&spec.env);
    if let Some(cwd) = &spec.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            return Err(std::io::Error::new(ErrorKind::NotFound, format!("working directory {cwd} does not exist")));
        }
        cmd.current_dir(cwd);
    }
    let Some(size) = spec.tty else {
        cmd.stdin(if spec.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so a timeout kills everything the command started.
            .process_group(0);
        return Ok((cmd.spawn()?, None));
    };
    let (master, slave) = sys::open_pty(size.rows, size.cols)?;
    cmd.stdin(Stdio::from(slave.try_clone()?)).stdout(Stdio::from(slave.try_clone()?)).stderr(Stdio::from(slave));
    if !spec.env.contains_key("TERM") && std::env::var_os("TERM").is_none() {
        cmd.env("TERM", "xterm-256color");
    }
    // A session of its own (so also a group of its own, for timeouts), with
    // the terminal as its controlling one: job control and ^C work.
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // `cmd` (and with it the parent's copies of the slave) is dropped on
    // return, so the master reads EIO once the process side is closed.
    Ok((cmd.spawn()?, Some(master)))
}

/// Reads what is ready, coalescing small writes (busybox writes 4 KiB at a
/// time) into one frame of up to `buf.len()` bytes while more is waiting.
/// Returns the bytes read and whether the pipe reached EOF (or failed).
fn read_burst<R: Read + AsRawFd>(r: &mut R, buf: &mut [u8]) -> (usize, bool) {
    let mut n = 0;
    loop {
        match r.read(&mut buf[n..]) {
            Ok(0) => return (n, true),
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return (n, true),
        }
        if n == buf.len() || !sys::poll_readable(&[r.as_raw_fd()], 0).map(|v| v[0]).unwrap_or(false) {
            return (n, false);
        }
    }
}

struct Stream {
    pipe: Option<File>,
    err: Option<File>,
}

/// Forwards the child's output until it exited and its pipes closed (or
/// lingered), enforcing the timeout and the caps. A pipe is read only while
/// the request has credit for what is read from it (or while its cap drops
/// everything anyway): with none, the child blocks in write(2) and the pipe
/// buffer is all that waits, while the deadline and exit are still watched.
#[allow(clippy::too_many_arguments)]
fn pump(
    id: u32,
    mut child: Child,
    pty: Option<OwnedFd>,
    spec: &Spawn,
    stdin: Option<Receiver<Vec<u8>>>,
    out: &Out,
    start: Instant,
    credit: &Credit,
) -> ExitInfo {
    let pgid = child.id() as i32;
    // A terminal's input and output are its master side; pipes otherwise.
    let (input, mut streams) = match pty {
        Some(master) => {
            let reader = master.try_clone().ok().map(File::from);
            (Some((File::from(master), true)), Stream { pipe: reader, err: None })
        }
        None => (
            child.stdin.take().map(|p| (File::from(OwnedFd::from(p)), false)),
            Stream {
                pipe: child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
                err: child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
            },
        ),
    };
    if let (Some(rx), Some((mut sink, is_tty))) = (stdin, input) {
        std::thread::spawn(move || {
            while let Ok(chunk) = rx.recv() {
                // End of input: a pipe closes; a terminal gets ^D (EOF at
                // the start of a line in canonical mode).
                if chunk.is_empty() {
                    if is_tty {
                        let _ = sink.write_all(b"\x04");
                    }
                    break;
                }
                if sink.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
    }
    let pidfd = sys::pidfd_open(child.id());
    let deadline = spec.timeout_ms.map(|ms| start + Duration::from_millis(ms));
    let mut sent = [0u64; 2];
    let mut truncated = [false; 2];
    let mut status: Option<ExitStatus> = None;
    let mut linger_until: Option<Instant> = None;
    let mut timed_out = false;
    let mut buf = vec![0u8; CHUNK];
    let mut client_gone = false;

    loop {
        if status.is_none() {
            if let Ok(Some(s)) = child.try_wait() {
                status = Some(s);
                linger_until.get_or_insert(Instant::now() + LINGER);
            }
        }
        let open = streams.pipe.is_some() || streams.err.is_some();
        if status.is_some() && (!open || linger_until.is_some_and(|t| Instant::now() >= t)) {
            break;
        }
        let now = Instant::now();
        if let Some(d) = deadline {
            if !timed_out && now >= d {
                timed_out = true;
                // Until the group is empty (zombies count until reaped, so
                // this is bounded): one signal can miss a fork in flight.
                sys::kill_group(pgid, libc::SIGKILL);
                child_reaped_kill(&mut child, &mut status, pgid);
                let until = now + KILL_LINGER;
                linger_until = Some(linger_until.map_or(until, |t| t.min(until)));
            }
        }
        if timed_out && status.is_none() && linger_until.is_some_and(|t| now >= t) {
            // Everything is killed; only reaping is left and it cannot take long.
            status = child.wait().ok();
            break;
        }
        // Sleep until output, exit (pidfd), the deadline or the linger end.
        // Without a pidfd, exit is noticed by polling try_wait.
        let mut wait = Duration::from_millis(match (pidfd.is_some() && status.is_none(), open) {
            (true, _) => 1000,
            (false, true) => 50,
            (false, false) => 2,
        });
        if let Some(d) = deadline.filter(|_| !timed_out) {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if let Some(t) = linger_until {
            wait = wait.min(t.saturating_duration_since(now));
        }
        // A pipe whose cap is reached is drained without credit (its bytes
        // are dropped); the others wait for credit when there is none.
        let capped = [0, 1].map(|w| sent[w] >= spec.max_output);
        if !client_gone && credit.is_closed() {
            // The conversation ended: nobody will return credit or read.
            client_gone = true;
            sys::kill_group(pgid, libc::SIGKILL);
        }
        let stalled = !client_gone && credit.room() == 0;
        let readable = [0, 1].map(|w| [streams.pipe.is_some(), streams.err.is_some()][w] && (!stalled || capped[w]));
        let waiting = stalled && (streams.pipe.is_some() || streams.err.is_some()) && !readable.iter().all(|r| *r);
        if waiting && !timed_out {
            // Output held back is not lost to the linger: it counts from
            // when the reader makes room again.
            if let Some(t) = linger_until.as_mut() {
                *t = (*t).max(now + LINGER);
            }
        }
        let mut fds = Vec::with_capacity(4);
        if readable[0] {
            fds.push(streams.pipe.as_ref().map_or(-1, |p| p.as_raw_fd()));
        }
        if readable[1] {
            fds.push(streams.err.as_ref().map_or(-1, |p| p.as_raw_fd()));
        }
        if let Some(fd) = pidfd.filter(|_| status.is_none()) {
            fds.push(fd);
        }
        if waiting {
            fds.push(credit.wake_fd());
        }
        let ready = match sys::poll_readable(&fds, wait.as_millis().min(i32::MAX as u128) as i32) {
            Ok(r) => r,
            Err(_) => vec![true; fds.len()],
        };
        if waiting && ready.last().copied().unwrap_or(false) {
            credit.drain();
        }
        let mut idx = 0;
        for which in [0usize, 1] {
            if !readable[which] {
                continue;
            }
            let is_ready = ready.get(idx).copied().unwrap_or(false);
            idx += 1;
            if !is_ready {
                continue;
            }
            let limit = if capped[which] { buf.len() } else { credit.room().min(buf.len()) };
            if limit == 0 {
                continue;
            }
            let burst = if which == 0 {
                streams.pipe.as_mut().map(|p| read_burst(p, &mut buf[..limit]))
            } else {
                streams.err.as_mut().map(|p| read_burst(p, &mut buf[..limit]))
            };
            let Some((n, eof)) = burst else { continue };
            if n > 0 {
                let room = spec.max_output.saturating_sub(sent[which]) as usize;
                let take = n.min(room);
                if take < n {
                    truncated[which] = true;
                }
                if take > 0 && !client_gone {
                    sent[which] += take as u64;
                    credit.spend(take);
                    let kind = if which == 0 { FrameKind::Stdout } else { FrameKind::Stderr };
                    if !out.send(Frame::new(kind, id, buf[..take].to_vec())) {
                        // Nobody reads the output any more: stop the command.
                        client_gone = true;
                        sys::kill_group(pgid, libc::SIGKILL);
                    }
                }
            }
            if eof {
                if which == 0 {
                    streams.pipe = None;
                } else {
                    streams.err = None;
                }
            }
        }
    }
    if let Some(fd) = pidfd {
        sys::close(fd);
    }
    let status = match status {
        Some(s) => Some(s),
        None => child.wait().ok(),
    };
    ExitInfo {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        stdout_truncated: truncated[0],
        stderr_truncated: truncated[1],
        duration_us: start.elapsed().as_micros() as u64,
    }
}
