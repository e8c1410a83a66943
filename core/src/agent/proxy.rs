//! A unix socket where the agent runs, proxied over the agent connection.

use super::client::{agent_error, AgentClient};
use crate::error::{Error, ErrorKind, Result};
use kled_protocol::{Frame, FrameKind, Request, CHUNK};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the agent may take to connect a proxied socket.
const CONNECT_ACK_DEADLINE: Duration = Duration::from_secs(10);

impl AgentClient {
    /// A byte stream to the unix socket `path` where the agent runs (a
    /// Neovim server inside a sandbox), proxied over this connection: no
    /// published port, no bind-mounted socket. The stream's EOF is the
    /// socket's; dropping (or shutting down) the stream closes the socket.
    /// What the socket sends is taken from the agent only as fast as the
    /// stream's reader reads it (credit is returned after each write).
    pub async fn connect_socket(&self, path: &str) -> Result<tokio::io::DuplexStream> {
        let (id, mut rx) = self.open(&Request::Connect { path: path.to_string() }, true)?;
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let (mut from_us, mut to_us) = tokio::io::split(theirs);
        // The agent acknowledges with an empty DATA frame, or refuses with ERROR.
        match tokio::time::timeout(CONNECT_ACK_DEADLINE, rx.recv()).await {
            Ok(Some(f)) if f.kind == FrameKind::Data && f.payload.is_empty() => {}
            Ok(Some(f)) if f.kind == FrameKind::Error => return Err(agent_error(&f)),
            Ok(Some(f)) => {
                return Err(Error::agent(format!(
                    "{}: unexpected {:?} frame in answer to connect {path}",
                    self.inner.label, f.kind
                )))
            }
            Ok(None) => return Err(self.lost()),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{}: the agent did not answer connect {path} within {CONNECT_ACK_DEADLINE:?}",
                        self.inner.label
                    ),
                ))
            }
        }
        let mut grant = self.grant(id);
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                match frame.kind {
                    FrameKind::Data => {
                        let n = frame.payload.len();
                        if to_us.write_all(&frame.payload).await.is_err() {
                            // Our side of the stream is gone: let the agent drain the socket.
                            grant.release();
                            return;
                        }
                        grant.consumed(n);
                    }
                    _ => break,
                }
            }
            let _ = to_us.shutdown().await;
        });
        let client = self.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match from_us.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if client.send(Frame::new(FrameKind::Input, id, buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = client.send(Frame::new(FrameKind::Input, id, Vec::new()));
        });
        Ok(ours)
    }
}
