//! A connection to one agent. Requests are multiplexed over the stream: a
//! writer task sends queued frames, a reader task routes incoming frames to
//! the request they belong to, so any number of execs share one connection.

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{ExecEvent, ExitStatus};
use kled_protocol::{
    decode_header, ErrorCode, ErrorReply, ExitInfo, Frame, FrameKind, Hello, Reply, Request, Spawn, CHUNK, HEADER_LEN,
    PROTOCOL_VERSION,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

type Routes = HashMap<u32, mpsc::UnboundedSender<Frame>>;
/// How long the agent may take to connect a proxied socket.
const CONNECT_ACK_DEADLINE: Duration = Duration::from_secs(10);

struct Shared {
    routes: Mutex<Routes>,
    /// Why the connection ended, once it has.
    closed: Mutex<Option<String>>,
}

struct Inner {
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    next_id: AtomicU32,
    reader: JoinHandle<()>,
    agent: Hello,
    label: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A cheap-to-clone handle on one agent connection.
#[derive(Clone)]
pub struct AgentClient {
    inner: Arc<Inner>,
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
    pub async fn connect<R, W>(reader: R, mut writer: W, label: &str, deadline: Duration) -> Result<AgentClient>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        // Frames are small and many: read them out of a buffer, not a syscall each.
        let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, reader);
        let hello = async {
            let mine = Frame::json(FrameKind::Hello, 0, &Hello::new(env!("CARGO_PKG_VERSION"), None));
            write_frame(&mut writer, &mine).await.map_err(kled_protocol::FrameError::Io)?;
            read_frame(&mut reader).await
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

        let shared = Arc::new(Shared { routes: Mutex::new(HashMap::new()), closed: Mutex::new(None) });
        let (out, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer_shared = shared.clone();
        tokio::spawn(async move {
            while let Some(buf) = queue.recv().await {
                if let Err(e) = writer.write_all(&buf).await {
                    close(&writer_shared, format!("writing to the agent failed: {e}"));
                    return;
                }
                if queue.is_empty() {
                    let _ = writer.flush().await;
                }
            }
            let _ = writer.shutdown().await;
        });
        let reader_shared = shared.clone();
        let reader = tokio::spawn(async move {
            let why = loop {
                match read_frame(&mut reader).await {
                    Ok(Some(frame)) => route(&reader_shared, frame),
                    Ok(None) => break "the agent closed the connection".to_string(),
                    Err(e) => break e.to_string(),
                }
            };
            close(&reader_shared, why);
        });
        Ok(AgentClient {
            inner: Arc::new(Inner { out, shared, next_id: AtomicU32::new(1), reader, agent, label: label.to_string() }),
        })
    }

    /// The agent's HELLO (version, pid).
    pub fn agent(&self) -> &Hello {
        &self.inner.agent
    }

    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.lock().unwrap().is_some()
    }

    fn lost(&self) -> Error {
        let why = self.inner.shared.closed.lock().unwrap().clone().unwrap_or_else(|| "connection lost".into());
        Error::agent(format!("{}: lost the connection to the agent ({why})", self.inner.label))
    }

    /// Registers a new request id and sends the request.
    fn open(&self, req: &Request) -> Result<(u32, mpsc::UnboundedReceiver<Frame>)> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        {
            // Checked under the routes lock so that a concurrent close cannot
            // miss this route and leave it waiting forever.
            let mut routes = self.inner.shared.routes.lock().unwrap();
            if self.is_closed() {
                return Err(self.lost());
            }
            routes.insert(id, tx);
        }
        self.send(Frame::json(FrameKind::Request, id, req))?;
        Ok((id, rx))
    }

    fn send(&self, frame: Frame) -> Result<()> {
        let mut buf = Vec::with_capacity(HEADER_LEN + frame.payload.len());
        buf.extend_from_slice(&frame.header());
        buf.extend_from_slice(&frame.payload);
        self.inner.out.send(buf).map_err(|_| self.lost())
    }

    fn send_input(&self, id: u32, data: &[u8]) -> Result<()> {
        self.send_chunks(id, data)?;
        // An empty INPUT is EOF.
        self.send(Frame::new(FrameKind::Input, id, Vec::new()))
    }

    fn send_chunks(&self, id: u32, data: &[u8]) -> Result<()> {
        for chunk in data.chunks(CHUNK) {
            self.send(Frame::new(FrameKind::Input, id, chunk.to_vec()))?;
        }
        Ok(())
    }

    /// Waits for the REPLY (or ERROR) that ends a simple request; DATA frames
    /// before it are appended to `data`.
    async fn finish(&self, rx: &mut mpsc::UnboundedReceiver<Frame>, mut data: Option<&mut Vec<u8>>) -> Result<Reply> {
        loop {
            let frame = rx.recv().await.ok_or_else(|| self.lost())?;
            match frame.kind {
                FrameKind::Reply => return frame.parse().map_err(|e| Error::agent(e.to_string())),
                FrameKind::Error => return Err(agent_error(&frame)),
                FrameKind::Data => {
                    if let Some(d) = data.as_deref_mut() {
                        d.extend_from_slice(&frame.payload);
                    }
                }
                other => return Err(Error::agent(format!("unexpected {other:?} frame in a reply"))),
            }
        }
    }

    pub async fn request(&self, req: Request) -> Result<Reply> {
        let (_, mut rx) = self.open(&req)?;
        self.finish(&mut rx, None).await
    }

    /// Starts a process; its output and exit arrive through the handle.
    /// `spawn.stdin` asks to keep stdin open (written through the handle's
    /// control, ended by its `close_stdin`); otherwise `stdin`, when given,
    /// is all the input and EOF follows it.
    pub fn spawn(&self, spawn: Spawn, stdin: Option<&[u8]>) -> Result<SpawnHandle> {
        let keep_open = spawn.stdin;
        let spawn = Spawn { stdin: keep_open || stdin.is_some(), ..spawn };
        let (id, rx) = self.open(&Request::Spawn(spawn))?;
        let handle = SpawnHandle { client: self.clone(), id, rx, done: false };
        match stdin {
            Some(data) if keep_open => self.send_chunks(id, data)?,
            Some(data) => self.send_input(id, data)?,
            None => {}
        }
        Ok(handle)
    }

    pub async fn read_file(&self, path: &str, max_bytes: Option<u64>) -> Result<(Vec<u8>, bool)> {
        let (_, mut rx) = self.open(&Request::ReadFile { path: path.to_string(), max_bytes })?;
        let mut data = Vec::new();
        match self.finish(&mut rx, Some(&mut data)).await? {
            Reply::Read { truncated, .. } => Ok((data, truncated)),
            other => Err(Error::agent(format!("unexpected reply to read_file: {other:?}"))),
        }
    }

    pub async fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>, create_dirs: bool) -> Result<u64> {
        let (id, mut rx) = self.open(&Request::WriteFile { path: path.to_string(), mode, create_dirs })?;
        self.send_input(id, data)?;
        match self.finish(&mut rx, None).await? {
            Reply::Written { bytes } => Ok(bytes),
            other => Err(Error::agent(format!("unexpected reply to write_file: {other:?}"))),
        }
    }
}

impl AgentClient {
    /// A byte stream to the unix socket `path` where the agent runs (a
    /// Neovim server inside a sandbox), proxied over this connection: no
    /// published port, no bind-mounted socket. The stream's EOF is the
    /// socket's; dropping (or shutting down) the stream closes the socket.
    pub async fn connect_socket(&self, path: &str) -> Result<tokio::io::DuplexStream> {
        let (id, mut rx) = self.open(&Request::Connect { path: path.to_string() })?;
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
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                match frame.kind {
                    FrameKind::Data => {
                        if to_us.write_all(&frame.payload).await.is_err() {
                            return;
                        }
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

/// A running process. Dropping it before the exit kills the process group,
/// so an abandoned exec (a cancelled future, a Ctrl-C) leaves nothing running.
pub struct SpawnHandle {
    client: AgentClient,
    id: u32,
    rx: mpsc::UnboundedReceiver<Frame>,
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
            FrameKind::Stdout => Ok(ExecEvent::Stdout(frame.payload)),
            FrameKind::Stderr => Ok(ExecEvent::Stderr(frame.payload)),
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
        let id = self.client.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.client.send(Frame::json(FrameKind::Request, id, &req))
    }
}

impl Drop for SpawnHandle {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.kill(libc::SIGKILL);
        }
        self.client.inner.shared.routes.lock().unwrap().remove(&self.id);
    }
}

fn route(shared: &Shared, frame: Frame) {
    let last = matches!(frame.kind, FrameKind::Exit | FrameKind::Reply | FrameKind::Error);
    let mut routes = shared.routes.lock().unwrap();
    let sender = if last { routes.remove(&frame.id) } else { routes.get(&frame.id).cloned() };
    drop(routes);
    if let Some(tx) = sender {
        // The receiver may be gone (an abandoned request): drop the frame.
        let _ = tx.send(frame);
    }
}

fn close(shared: &Shared, why: String) {
    let mut routes = shared.routes.lock().unwrap();
    shared.closed.lock().unwrap().get_or_insert(why);
    // Dropping the senders wakes every waiting request with "lost".
    routes.clear();
}

fn agent_error(frame: &Frame) -> Error {
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

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &Frame) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(HEADER_LEN + frame.payload.len());
    buf.extend_from_slice(&frame.header());
    buf.extend_from_slice(&frame.payload);
    w.write_all(&buf).await?;
    w.flush().await
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::result::Result<Option<Frame>, kled_protocol::FrameError> {
    use kled_protocol::FrameError;
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = r.read(&mut header[got..]).await.map_err(FrameError::Io)?;
        if n == 0 {
            return if got == 0 { Ok(None) } else { Err(FrameError::Truncated) };
        }
        got += n;
    }
    let (kind, id, len) = decode_header(&header)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(Frame { kind, id, payload }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fake_agent(protocol: u32) -> Result<AgentClient> {
        let (client_side, agent_side) = tokio::io::duplex(1 << 16);
        let (mut ar, mut aw) = tokio::io::split(agent_side);
        tokio::spawn(async move {
            let hello = Hello { protocol, version: "0.0.1-old".into(), pid: Some(1) };
            write_frame(&mut aw, &Frame::json(FrameKind::Hello, 0, &hello)).await.unwrap();
            // Swallow what the client sends, then hang up.
            let _ = read_frame(&mut ar).await;
        });
        let (r, w) = tokio::io::split(client_side);
        AgentClient::connect(r, w, "terminal \"t\"", Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn protocol_mismatch_is_a_clear_error() {
        let e = fake_agent(PROTOCOL_VERSION + 1).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Agent);
        assert!(e.message().contains("0.0.1-old") && e.message().contains("restart the terminal"), "{e}");
    }

    #[tokio::test]
    async fn a_vanished_agent_fails_requests_instead_of_hanging() {
        let client = fake_agent(PROTOCOL_VERSION).await.unwrap();
        let e = tokio::time::timeout(Duration::from_secs(2), client.request(Request::Info)).await.unwrap().unwrap_err();
        assert!(e.message().contains("lost the connection"), "{e}");
        assert!(client.is_closed());
        let e = client.spawn(
            Spawn {
                argv: vec!["true".into()],
                env: Default::default(),
                cwd: None,
                stdin: false,
                timeout_ms: None,
                max_output: 1,
                tty: None,
            },
            None,
        );
        assert!(e.is_err());
    }

    #[tokio::test]
    async fn a_silent_agent_times_out() {
        let (client_side, _agent_side) = tokio::io::duplex(1024);
        let (r, w) = tokio::io::split(client_side);
        let e = AgentClient::connect(r, w, "t", Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }
}
