//! A connection to one agent. Requests are multiplexed over the stream: a
//! writer task sends queued frames, a reader task routes incoming frames
//! through the [`Router`](crate::mux::Router) to the request they belong
//! to, so any number of execs share one connection. Streaming requests get
//! credit (protocol "Flow control"): their routes are bounded by the window,
//! and a reader that stops reading stops the agent, not our memory.

// A reply picker's Err is the unexpected reply itself, only ever formatted
// into the one error message: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use crate::error::{Error, ErrorKind, Result};
use crate::mux::Router;
use futures::{SinkExt, StreamExt};
use kled_protocol::{
    credit_cost, AgentInfo, DirEntry, ErrorCode, ErrorReply, Frame, FrameCodec, FrameKind, Hello, Reply, Request,
    CHUNK, FRAME_COST, PROTOCOL_VERSION,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

/// Frames a request that does not stream may get: its REPLY or ERROR, and
/// room for a misbehaving agent's extra frame before the reader waits.
const CONTROL_ROUTE: usize = 4;

pub(super) struct Inner {
    out: mpsc::UnboundedSender<Frame>,
    pub(super) router: Arc<Router<u32, Frame>>,
    next_id: AtomicU32,
    reader: JoinHandle<()>,
    agent: Hello,
    pub(super) label: String,
    window: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A cheap-to-clone handle on one agent connection.
#[derive(Clone)]
pub struct AgentClient {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient").field("label", &self.inner.label).field("agent", &self.inner.agent).finish()
    }
}

impl AgentClient {
    /// Performs the HELLO exchange over `reader`/`writer` and starts the
    /// connection's tasks on the current tokio runtime. `label` names the
    /// terminal in error messages.
    pub async fn connect<R, W>(reader: R, writer: W, label: &str, deadline: Duration) -> Result<AgentClient>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        // Frames are small and many: read them out of a buffer, not a syscall each.
        let mut frames_in = FramedRead::with_capacity(reader, FrameCodec, 256 * 1024);
        let mut frames_out = FramedWrite::new(writer, FrameCodec);
        let mine = Hello::new(env!("CARGO_PKG_VERSION"), None);
        let window = mine.window;
        let hello = async {
            frames_out.send(Frame::json(FrameKind::Hello, 0, &mine)).await?;
            frames_in.next().await.transpose()
        };
        let first = tokio::time::timeout(deadline, hello)
            .await
            .map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("{label}: the agent did not answer within {deadline:?}"))
            })?
            .map_err(|e| Error::agent(format!("{label}: cannot talk to the agent: {e}")))?;
        let agent: Hello = match first {
            Some(f) if f.kind == FrameKind::Hello => f.parse().map_err(|e| Error::agent(format!("{label}: {e}")))?,
            Some(f) if f.kind == FrameKind::Error => {
                let e: ErrorReply = f.parse().map_err(|e| Error::agent(e.to_string()))?;
                return Err(Error::agent(format!("{label}: the agent refused the connection: {}", e.message)));
            }
            Some(f) => return Err(Error::agent(format!("{label}: expected HELLO from the agent, got {:?}", f.kind))),
            None => return Err(Error::agent(format!("{label}: the agent closed the connection during the handshake"))),
        };
        if agent.protocol != PROTOCOL_VERSION {
            return Err(Error::agent(format!(
                "{label}: the agent (kled-agent {}) speaks protocol {}, this library speaks {PROTOCOL_VERSION}; restart the terminal to give it a matching agent",
                agent.version, agent.protocol
            )));
        }

        let router = Arc::new(Router::new());
        let (out, mut queue) = mpsc::unbounded_channel::<Frame>();
        let writer_router = router.clone();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if let Err(e) = frames_out.feed(frame).await {
                    writer_router.close(format!("writing to the agent failed: {e}"));
                    return;
                }
                if queue.is_empty() {
                    let _ = frames_out.flush().await;
                }
            }
            let _ = frames_out.close().await;
        });
        let reader_router = router.clone();
        let reader = tokio::spawn(async move {
            let why = loop {
                match frames_in.next().await {
                    Some(Ok(frame)) => {
                        let last = matches!(frame.kind, FrameKind::Exit | FrameKind::Reply | FrameKind::Error);
                        reader_router.deliver(frame.id, frame, last).await;
                    }
                    None => break "the agent closed the connection".to_string(),
                    Some(Err(e)) => break e.to_string(),
                }
            };
            reader_router.close(why);
        });
        let inner = Arc::new(Inner {
            out,
            router,
            next_id: AtomicU32::new(1),
            reader,
            agent,
            label: label.to_string(),
            window,
        });
        Ok(AgentClient { inner })
    }

    /// The agent's HELLO (version, pid).
    pub fn agent(&self) -> &Hello {
        &self.inner.agent
    }

    pub fn is_closed(&self) -> bool {
        self.inner.router.closed().is_some()
    }

    pub(super) fn lost(&self) -> Error {
        let why = self.inner.router.closed().unwrap_or_else(|| "connection lost".into());
        Error::agent(format!("{}: lost the connection to the agent ({why})", self.inner.label))
    }

    pub(super) fn fresh_id(&self) -> u32 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a new request id and sends the request. A streaming
    /// request's route holds a whole window of frames, which the agent's
    /// credit keeps it from exceeding.
    pub(super) fn open(&self, req: &Request, streams: bool) -> Result<(u32, mpsc::Receiver<Frame>)> {
        let id = self.fresh_id();
        let capacity = if streams { (self.inner.window / FRAME_COST) as usize + CONTROL_ROUTE } else { CONTROL_ROUTE };
        let rx = self.inner.router.open(id, capacity).map_err(|_| self.lost())?;
        self.send(Frame::json(FrameKind::Request, id, req))?;
        Ok((id, rx))
    }

    pub(super) fn send(&self, frame: Frame) -> Result<()> {
        self.inner.out.send(frame).map_err(|_| self.lost())
    }

    pub(super) fn send_input(&self, id: u32, data: &[u8]) -> Result<()> {
        self.send_chunks(id, data)?;
        // An empty INPUT is EOF.
        self.send(Frame::new(FrameKind::Input, id, Vec::new()))
    }

    pub(super) fn send_chunks(&self, id: u32, data: &[u8]) -> Result<()> {
        for chunk in data.chunks(CHUNK) {
            self.send(Frame::new(FrameKind::Input, id, chunk.to_vec()))?;
        }
        Ok(())
    }

    /// Credit owed to the agent for request `id`, returned in batches.
    pub(super) fn grant(&self, id: u32) -> Grant {
        Grant { client: self.clone(), id, owed: 0 }
    }

    /// Waits for the REPLY (or ERROR) that ends a simple request; DATA frames
    /// before it are appended to `data`.
    async fn finish(&self, id: u32, rx: &mut mpsc::Receiver<Frame>, mut data: Option<&mut Vec<u8>>) -> Result<Reply> {
        let mut grant = self.grant(id);
        loop {
            let frame = rx.recv().await.ok_or_else(|| self.lost())?;
            match frame.kind {
                FrameKind::Reply => return frame.parse().map_err(|e| Error::agent(e.to_string())),
                FrameKind::Error => return Err(agent_error(&frame)),
                FrameKind::Data => {
                    grant.consumed(frame.payload.len());
                    if let Some(d) = data.as_deref_mut() {
                        d.extend_from_slice(&frame.payload);
                    }
                }
                other => return Err(Error::agent(format!("unexpected {other:?} frame in a reply"))),
            }
        }
    }

    /// One request answered by one REPLY, raw.
    pub async fn request(&self, req: Request) -> Result<Reply> {
        let (id, mut rx) = self.open(&req, false)?;
        self.finish(id, &mut rx, None).await
    }

    /// One request whose REPLY `pick` turns into `T`; any other reply is the
    /// one "unexpected reply" error.
    async fn call<T>(
        &self,
        req: Request,
        what: &str,
        pick: impl FnOnce(Reply) -> std::result::Result<T, Reply>,
    ) -> Result<T> {
        let reply = self.request(req).await?;
        pick(reply).map_err(|other| unexpected(&self.inner.label, what, &other))
    }

    /// Where each of `programs` is on the agent's PATH.
    pub async fn which(&self, programs: &[String]) -> Result<Vec<Option<String>>> {
        self.call(Request::Which { programs: programs.to_vec() }, "which", |r| match r {
            Reply::Which { paths } => Ok(paths),
            other => Err(other),
        })
        .await
    }

    pub async fn info(&self) -> Result<AgentInfo> {
        self.call(Request::Info, "info", |r| match r {
            Reply::Info(i) => Ok(i),
            other => Err(other),
        })
        .await
    }

    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.call(Request::ListDir { path: path.to_string() }, "list_dir", |r| match r {
            Reply::Listing { entries } => Ok(entries),
            other => Err(other),
        })
        .await
    }

    pub async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.call(Request::Remove { path: path.to_string(), recursive }, "remove", ok).await
    }

    /// Asks the agent to stop everything it started and exit.
    pub async fn shutdown(&self) -> Result<()> {
        self.call(Request::Shutdown, "shutdown", ok).await
    }

    pub async fn read_file(&self, path: &str, max_bytes: Option<u64>) -> Result<(Vec<u8>, bool)> {
        let (id, mut rx) = self.open(&Request::ReadFile { path: path.to_string(), max_bytes }, true)?;
        // A read abandoned midway (its future dropped) releases the agent.
        let abandoned = Abandoned { grant: Some(self.grant(id)) };
        let mut data = Vec::new();
        let reply = self.finish(id, &mut rx, Some(&mut data)).await;
        abandoned.defuse();
        match reply? {
            Reply::Read { truncated, .. } => Ok((data, truncated)),
            other => Err(unexpected(&self.inner.label, "read_file", &other)),
        }
    }

    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>, create_dirs: bool) -> Result<u64> {
        let (id, mut rx) = self.open(&Request::WriteFile { path: path.to_string(), mode, create_dirs }, false)?;
        self.send_input(id, data)?;
        match self.finish(id, &mut rx, None).await? {
            Reply::Written { bytes } => Ok(bytes),
            other => Err(unexpected(&self.inner.label, "write_file", &other)),
        }
    }
}

fn ok(r: Reply) -> std::result::Result<(), Reply> {
    match r {
        Reply::Ok => Ok(()),
        other => Err(other),
    }
}

fn unexpected(label: &str, what: &str, reply: &Reply) -> Error {
    Error::agent(format!("{label}: unexpected reply to {what}: {reply:?}"))
}

/// Returns credit for what a request's reader consumed, a quarter window
/// at a time: one CREDIT frame per 512 KiB read, and never a wait for a
/// reader that keeps up.
pub(super) struct Grant {
    client: AgentClient,
    id: u32,
    owed: u64,
}

impl Grant {
    /// The reader is gone for good: unlimited credit, so the agent is not
    /// left waiting (a file read, a killed process's last output, a socket)
    /// and sends the rest, which the router drops (the route is gone).
    pub fn release(&self) {
        let _ = self.client.send(Frame::credit(self.id, u64::MAX));
    }

    pub fn consumed(&mut self, payload_len: usize) {
        self.owed += credit_cost(payload_len);
        if self.owed >= (self.client.inner.window / 4).max(1) {
            // A closed connection needs no credit.
            let _ = self.client.send(Frame::credit(self.id, self.owed));
            self.owed = 0;
        }
    }
}

/// Releases a streaming request's credit and route if dropped before `defuse`.
struct Abandoned {
    grant: Option<Grant>,
}

impl Abandoned {
    fn defuse(mut self) {
        self.grant = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(g) = self.grant.take() {
            g.client.inner.router.remove(g.id);
            g.release();
        }
    }
}

pub(super) fn agent_error(frame: &Frame) -> Error {
    match frame.parse::<ErrorReply>() {
        Ok(e) => {
            let kind = match e.code {
                ErrorCode::NotFound => ErrorKind::NotFound,
                ErrorCode::Invalid => ErrorKind::InvalidArgument,
                ErrorCode::PermissionDenied | ErrorCode::Io => ErrorKind::Io,
                ErrorCode::Version => ErrorKind::Agent,
            };
            Error::new(kind, e.message)
        }
        Err(e) => Error::agent(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kled_protocol::{Spawn, DEFAULT_WINDOW};

    /// An agent on the other end of a duplex that says HELLO, then runs `script`.
    async fn fake_agent<F, Fut>(protocol: u32, script: F) -> Result<AgentClient>
    where
        F: FnOnce(
                FramedRead<tokio::io::ReadHalf<tokio::io::DuplexStream>, FrameCodec>,
                FramedWrite<tokio::io::WriteHalf<tokio::io::DuplexStream>, FrameCodec>,
            ) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (client_side, agent_side) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(agent_side);
        tokio::spawn(async move {
            let mut w = FramedWrite::new(aw, FrameCodec);
            let hello = Hello { protocol, ..Hello::new("0.0.1-old", Some(1)) };
            w.send(Frame::json(FrameKind::Hello, 0, &hello)).await.unwrap();
            script(FramedRead::new(ar, FrameCodec), w).await;
        });
        let (r, w) = tokio::io::split(client_side);
        AgentClient::connect(r, w, "terminal \"t\"", Duration::from_secs(2)).await
    }

    fn spawn_true() -> Spawn {
        Spawn {
            argv: vec!["true".into()],
            env: Default::default(),
            cwd: None,
            stdin: false,
            timeout_ms: None,
            max_output: 1,
            tty: None,
        }
    }

    #[tokio::test]
    async fn protocol_mismatch_is_a_clear_error() {
        let e = fake_agent(PROTOCOL_VERSION - 1, |mut r, _w| async move {
            let _ = r.next().await;
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Agent);
        assert!(e.message().contains("0.0.1-old") && e.message().contains("restart the terminal"), "{e}");
    }

    #[tokio::test]
    async fn a_vanished_agent_fails_requests_instead_of_hanging() {
        // Swallow the client's HELLO, then hang up.
        let client = fake_agent(PROTOCOL_VERSION, |mut r, _w| async move {
            let _ = r.next().await;
        })
        .await
        .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(2), client.info()).await.unwrap().unwrap_err();
        assert!(e.message().contains("lost the connection"), "{e}");
        assert!(client.is_closed());
        assert!(client.spawn(spawn_true(), None).is_err());
    }

    #[tokio::test]
    async fn typed_calls_name_an_unexpected_reply_and_readers_return_credit() {
        let (credits_tx, mut credits) = mpsc::unbounded_channel();
        let client = fake_agent(PROTOCOL_VERSION, move |mut r, mut w| async move {
            while let Some(Ok(f)) = r.next().await {
                match f.kind {
                    FrameKind::Credit => credits_tx.send((f.id, f.credit_bytes().unwrap())).unwrap(),
                    FrameKind::Request => match f.parse::<Request>().unwrap() {
                        Request::ReadFile { .. } => {
                            // A whole window of data, which the reader must pay back.
                            for _ in 0..DEFAULT_WINDOW / CHUNK as u64 {
                                w.feed(Frame::new(FrameKind::Data, f.id, vec![1; CHUNK])).await.unwrap();
                            }
                            let done = Reply::Read { bytes: 0, truncated: false };
                            w.send(Frame::json(FrameKind::Reply, f.id, &done)).await.unwrap();
                        }
                        _ => w.send(Frame::json(FrameKind::Reply, f.id, &Reply::Ok)).await.unwrap(),
                    },
                    _ => {}
                }
            }
        })
        .await
        .unwrap();
        let e = client.which(&["sh".into()]).await.unwrap_err();
        assert!(e.message().contains("unexpected reply to which: Ok"), "{e}");
        client.remove("/x", false).await.unwrap();
        let (data, _) = client.read_file("/f", None).await.unwrap();
        assert_eq!(data.len() as u64, DEFAULT_WINDOW);
        let mut returned = 0;
        while returned < DEFAULT_WINDOW {
            let (_, bytes) = tokio::time::timeout(Duration::from_secs(2), credits.recv()).await.unwrap().unwrap();
            returned += bytes;
        }
        assert!(returned <= DEFAULT_WINDOW + DEFAULT_WINDOW / CHUNK as u64 * FRAME_COST);
    }

    #[tokio::test]
    async fn a_silent_agent_times_out() {
        let (client_side, _agent_side) = tokio::io::duplex(1024);
        let (r, w) = tokio::io::split(client_side);
        let e = AgentClient::connect(r, w, "t", Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }
}
