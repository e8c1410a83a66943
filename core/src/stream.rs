//! A running exec: its events, with one watchdog for every front end, and
//! a handle that reaches the command from elsewhere.

use crate::backend::{Control, Process};
use crate::error::{Error, Result};
use crate::exec::{ExecEvent, ExitStatus};
use crate::registry::Registry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long past its own timeout an exec may go before the client gives up
/// on the agent (which enforces the timeout itself, so this fires only for a
/// wedged agent or connection).
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

/// The events of a running exec.
pub struct ExecStream {
    handle: Process,
    started: Instant,
    /// When to stop waiting for the agent: the timeout plus a grace.
    deadline: Option<tokio::time::Instant>,
    /// For errors that say why (another process stopped the terminal).
    registry: Arc<Registry>,
    name: Arc<str>,
    ended: bool,
}

impl ExecStream {
    pub(crate) fn new(
        handle: Process,
        timeout: Option<Duration>,
        registry: Arc<Registry>,
        name: Arc<str>,
    ) -> ExecStream {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t + WATCHDOG_GRACE);
        ExecStream { handle, started: Instant::now(), deadline, registry, name, ended: false }
    }

    /// The next chunk of output, or the exit; None after the exit. If the
    /// agent has not ended the command well past its timeout, the command is
    /// killed and the exit reported as timed out. Cancel-safe: usable in
    /// `select!`, where a branch that loses drops no event.
    pub async fn next(&mut self) -> Option<Result<ExecEvent>> {
        if self.ended {
            return None;
        }
        let event = match self.deadline {
            Some(d) => match tokio::time::timeout_at(d, self.handle.next()).await {
                Ok(event) => event,
                Err(_) => {
                    let _ = self.handle.kill(libc::SIGKILL);
                    self.ended = true;
                    let status = ExitStatus {
                        exit_code: None,
                        signal: None,
                        timed_out: true,
                        truncated: false,
                        duration: self.started.elapsed(),
                    };
                    return Some(Ok(ExecEvent::Exit(status)));
                }
            },
            None => self.handle.next().await,
        };
        match event {
            Some(Ok(ExecEvent::Exit(st))) => {
                self.ended = true;
                Some(Ok(ExecEvent::Exit(st)))
            }
            Some(Err(e)) => {
                self.ended = true;
                Some(Err(self.registry.explain(&self.name, e)))
            }
            None => {
                self.ended = true;
                Some(Err(Error::agent("exec ended without an exit status")))
            }
            other => other,
        }
    }

    /// Feeds every output event to `sink` and returns the exit status.
    pub async fn collect_into(&mut self, mut sink: impl FnMut(&ExecEvent)) -> Result<ExitStatus> {
        loop {
            match self.next().await {
                Some(Ok(ExecEvent::Exit(st))) => return Ok(st),
                Some(Ok(ev)) => sink(&ev),
                Some(Err(e)) => return Err(e),
                None => return Err(Error::agent("exec ended without an exit status")),
            }
        }
    }

    /// Sends a signal to the command's process group.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.handle.kill(signal)
    }

    /// A cloneable handle that signals, feeds or resizes this command from
    /// another task or thread while one waits in `next()` (which needs
    /// `&mut self`).
    pub fn control(&self) -> ExecControl {
        ExecControl(self.handle.control())
    }

    /// Discards the rest of the output and returns the exit status.
    pub async fn exit_status(mut self) -> Result<ExitStatus> {
        self.collect_into(|_| {}).await
    }
}

/// Reaches the command of an [`ExecStream`]; see [`ExecStream::control`].
/// Anything sent after the command ended is ignored.
#[derive(Clone)]
pub struct ExecControl(Control);

impl ExecControl {
    /// Sends `signal` to the command's process group.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.0.kill(signal)
    }

    /// More input, for a request made with `stdin_open`.
    pub fn write_stdin(&self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.0.write(data)
    }

    /// Ends the input (EOF; on a pseudo-terminal, ^D).
    pub fn close_stdin(&self) -> Result<()> {
        self.0.close()
    }

    /// New size for the command's pseudo-terminal (it gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.0.resize(rows, cols)
    }
}

impl std::fmt::Debug for ExecControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExecControl")
    }
}
