//! A process the agent runs for us: its output as events, with credit
//! returned as they are taken, and a control to signal, feed or resize it.

use super::client::{agent_error, AgentClient, Grant};
use crate::error::{Error, Result};
use crate::exec::{ExecEvent, ExitStatus};
use kled_protocol::{ExitInfo, Frame, FrameKind, Request, Spawn};
use tokio::sync::mpsc;

impl AgentClient {
    /// Starts a process; its output and exit arrive through the handle.
    /// `spawn.stdin` asks to keep stdin open (written through the handle's
    /// control, ended by its `close_stdin`); otherwise `stdin`, when given,
    /// is all the input and EOF follows it.
    pub fn spawn(&self, spawn: Spawn, stdin: Option<&[u8]>) -> Result<SpawnHandle> {
        let keep_open = spawn.stdin;
        let spawn = Spawn { stdin: keep_open || stdin.is_some(), ..spawn };
        let (id, rx) = self.open(&Request::Spawn(spawn), true)?;
        let handle = SpawnHandle { client: self.clone(), id, rx, grant: self.grant(id), done: false };
        match stdin {
            Some(data) if keep_open => self.send_chunks(id, data)?,
            Some(data) => self.send_input(id, data)?,
            None => {}
        }
        Ok(handle)
    }
}

/// A running process. Dropping it before the exit kills the process group,
/// so an abandoned exec (a cancelled future, a Ctrl-C) leaves nothing running.
/// Output waits in the agent (and the process in write(2)) until `next` takes
/// it: at most a window of it is ever in this process.
pub struct SpawnHandle {
    client: AgentClient,
    id: u32,
    rx: mpsc::Receiver<Frame>,
    grant: Grant,
    done: bool,
}

impl SpawnHandle {
    /// The next piece of output, or the exit (after which: None).
    pub async fn next(&mut self) -> Option<Result<ExecEvent>> {
        if self.done {
            return None;
        }
        let Some(frame) = self.rx.recv().await else {
            self.done = true;
            return Some(Err(self.client.lost()));
        };
        Some(match frame.kind {
            FrameKind::Stdout | FrameKind::Stderr => {
                self.grant.consumed(frame.payload.len());
                Ok(if frame.kind == FrameKind::Stdout {
                    ExecEvent::Stdout(frame.payload)
                } else {
                    ExecEvent::Stderr(frame.payload)
                })
            }
            FrameKind::Exit => {
                self.done = true;
                frame
                    .parse::<ExitInfo>()
                    .map(|e| ExecEvent::Exit(ExitStatus::from(e)))
                    .map_err(|e| Error::agent(e.to_string()))
            }
            FrameKind::Error => {
                self.done = true;
                Err(agent_error(&frame))
            }
            other => Err(Error::agent(format!("unexpected {other:?} frame for a process"))),
        })
    }

    /// Sends `signal` to the process group.
    pub fn kill(&self, signal: i32) -> Result<()> {
        self.control().kill(signal)
    }

    /// A handle that signals, feeds or resizes this process from anywhere,
    /// while another task waits in `next()`.
    pub fn control(&self) -> SpawnControl {
        SpawnControl { client: self.client.clone(), id: self.id }
    }
}

impl Drop for SpawnHandle {
    fn drop(&mut self) {
        self.client.inner.router.remove(self.id);
        if !self.done {
            let _ = self.kill(libc::SIGKILL);
            // The killed process's last output must not wait for credit.
            self.grant.release();
        }
    }
}

/// Signals, feeds and resizes one spawned process. After the process ended
/// the agent no longer knows its id and ignores these: spawn ids are never
/// reused on a connection, so a late one cannot reach another process.
#[derive(Clone)]
pub struct SpawnControl {
    client: AgentClient,
    id: u32,
}

impl SpawnControl {
    pub fn kill(&self, signal: i32) -> Result<()> {
        self.fire(Request::Kill { target: self.id, signal })
    }

    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.fire(Request::Resize { target: self.id, rows, cols })
    }

    /// More input (of a spawn whose stdin was kept open).
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.client.send_chunks(self.id, data)
    }

    /// Ends the input.
    pub fn close(&self) -> Result<()> {
        self.client.send(Frame::new(FrameKind::Input, self.id, Vec::new()))
    }

    /// Fire and forget: the reply is routed nowhere and dropped.
    fn fire(&self, req: Request) -> Result<()> {
        let id = self.client.fresh_id();
        self.client.send(Frame::json(FrameKind::Request, id, &req))
    }
}
