//! The kled agent protocol: the frames exchanged between the kled core and a
//! `kled-agent` over one byte stream (a child's pipes, a unix socket, an
//! attached container exec, an SSH channel).
//!
//! # Frame format
//!
//! Every frame is a 9-byte header followed by a payload:
//!
//! ```text
//! +----------------+---------+----------------+-----------------+
//! | len: u32 (BE)  | kind:u8 | id: u32 (BE)   | payload         |
//! +----------------+---------+----------------+-----------------+
//!   len counts kind + id + payload, so len >= 5 and len - 5 <= MAX_PAYLOAD
//! ```
//!
//! `id` names a request chosen by the client (non-zero); frames with id 0 belong
//! to the connection (HELLO). Control payloads are JSON (`Hello`, `Request`,
//! `Reply`, `ExitInfo`, `ErrorReply`); data payloads (INPUT, STDOUT, STDERR,
//! DATA) are raw bytes so that binary output crosses without encoding cost.
//!
//! # Conversation
//!
//! 1. Both sides send HELLO with their `protocol` number; a side that sees a
//!    different number sends ERROR (code `version`) and closes.
//! 2. The client sends REQUEST frames with fresh ids. Requests run
//!    concurrently; frames of different requests interleave freely.
//! 3. `spawn`: optional INPUT frames (stdin; an empty INPUT is EOF), then the
//!    agent answers STDOUT/STDERR frames and finally one EXIT.
//!    `write_file`: INPUT frames with the content, an empty INPUT, then REPLY.
//!    `read_file`: DATA frames, then REPLY. `connect`: INPUT frames to the
//!    socket, DATA frames from it, REPLY when it closes. Every other request:
//!    one REPLY.
//!    Any request may instead end with one ERROR.
//! 4. **Flow control.** The client's HELLO names a `window` in bytes. Each
//!    streaming request (`spawn`, `read_file`, `connect`) starts with that
//!    much credit; every STDOUT, STDERR or DATA frame the agent sends spends
//!    [`credit_cost`] of it (payload plus [`FRAME_COST`], so a flood of tiny
//!    frames is bounded too). With no credit left the agent stops reading
//!    (the child's pipe, the file, the socket), so a reader that stopped
//!    slows the producer down instead of filling memory. The client returns
//!    credit with CREDIT frames (payload: the bytes, u64 BE) as it consumes.
//!    Control frames (EXIT, REPLY, ERROR) cost nothing.
//! 5. `kill` signals the process group of a running spawn; `shutdown` makes the
//!    agent kill everything it started and exit.
//!
//! When the stream closes, the agent kills the process groups of spawns that
//! stream started and that are still running.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// Bumped on any incompatible change to frames or messages.
pub const PROTOCOL_VERSION: u32 = 2;
/// Largest payload a frame may carry. Data is chunked well below this.
pub const MAX_PAYLOAD: usize = 8 * 1024 * 1024;
/// Size of a data chunk the agent sends; large enough for throughput, small
/// enough to interleave the frames of concurrent requests.
pub const CHUNK: usize = 64 * 1024;
pub const HEADER_LEN: usize = 9;
/// What a data frame costs in credit beyond its payload: about what one
/// queued frame costs the client in memory, so that the window bounds
/// memory whatever the frame sizes.
pub const FRAME_COST: u64 = 128;
/// The window a client grants when it has no reason to choose another:
/// large enough that a reader keeping up never waits for credit (it returns
/// credit every quarter window), small enough to hold per stream.
pub const DEFAULT_WINDOW: u64 = 2 * 1024 * 1024;

/// Credit spent by a data frame carrying `payload_len` bytes.
pub fn credit_cost(payload_len: usize) -> u64 {
    payload_len as u64 + FRAME_COST
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    Hello = 1,
    Request = 2,
    Input = 3,
    Stdout = 4,
    Stderr = 5,
    Data = 6,
    Exit = 7,
    Reply = 8,
    Error = 9,
    /// Client to agent: more credit for a streaming request (u64 BE bytes).
    Credit = 10,
}

impl FrameKind {
    pub fn from_u8(b: u8) -> Option<FrameKind> {
        Some(match b {
            1 => FrameKind::Hello,
            2 => FrameKind::Request,
            3 => FrameKind::Input,
            4 => FrameKind::Stdout,
            5 => FrameKind::Stderr,
            6 => FrameKind::Data,
            7 => FrameKind::Exit,
            8 => FrameKind::Reply,
            9 => FrameKind::Error,
            10 => FrameKind::Credit,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub id: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn new(kind: FrameKind, id: u32, payload: Vec<u8>) -> Frame {
        Frame { kind, id, payload }
    }

    /// A frame whose payload is `msg` as JSON.
    pub fn json<T: Serialize>(kind: FrameKind, id: u32, msg: &T) -> Frame {
        // Serializing our own plain structs cannot fail.
        let payload = serde_json::to_vec(msg).expect("protocol message serializes");
        Frame { kind, id, payload }
    }

    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, FrameError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| FrameError::Malformed(format!("bad {:?} payload: {e}", self.kind)))
    }

    /// `bytes` more credit for request `id`.
    pub fn credit(id: u32, bytes: u64) -> Frame {
        Frame { kind: FrameKind::Credit, id, payload: bytes.to_be_bytes().to_vec() }
    }

    /// The bytes a CREDIT frame grants.
    pub fn credit_bytes(&self) -> Result<u64, FrameError> {
        let b: [u8; 8] =
            self.payload.as_slice().try_into().map_err(|_| {
                FrameError::Malformed(format!("a CREDIT payload is 8 bytes, not {}", self.payload.len()))
            })?;
        Ok(u64::from_be_bytes(b))
    }

    pub fn header(&self) -> [u8; HEADER_LEN] {
        encode_header(self.kind, self.id, self.payload.len())
    }

    /// The frame's bytes on the wire: the one encoding, used by
    /// [`Frame::write_to`] and by the tokio codec.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.encode_into(&mut buf);
        buf
    }

    /// Appends the frame's bytes to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.header());
        buf.extend_from_slice(&self.payload);
    }

    /// Decodes the frame at the start of `buf`: `Ok(None)` while `buf` holds
    /// less than a whole frame, else the frame and the bytes it took. A bad
    /// header is an error as soon as its 9 bytes are there.
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(header) = buf.first_chunk::<HEADER_LEN>() else { return Ok(None) };
        let (kind, id, len) = decode_header(header)?;
        let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + len) else { return Ok(None) };
        Ok(Some((Frame { kind, id, payload: payload.to_vec() }, HEADER_LEN + len)))
    }

    /// Writes the frame with one `write_all` of header and payload together,
    /// so that frames written under a lock never interleave.
    pub fn write_to<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.encode())
    }

    /// Reads one frame; `Ok(None)` on a clean end of stream between frames.
    /// It reads exactly one frame's bytes (no read-ahead), so a blocking
    /// reader can hand the stream on between frames.
    pub fn read_from<R: Read>(r: &mut R) -> Result<Option<Frame>, FrameError> {
        let mut header = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match r.read(&mut header[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(FrameError::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        let (kind, id, len) = decode_header(&header)?;
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(e),
        })?;
        Ok(Some(Frame { kind, id, payload }))
    }
}

pub fn encode_header(kind: FrameKind, id: u32, payload_len: usize) -> [u8; HEADER_LEN] {
    let len = (payload_len + 5) as u32;
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&len.to_be_bytes());
    h[4] = kind as u8;
    h[5..9].copy_from_slice(&id.to_be_bytes());
    h
}

/// Checks a header and returns (kind, id, payload length).
pub fn decode_header(h: &[u8; HEADER_LEN]) -> Result<(FrameKind, u32, usize), FrameError> {
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if !(5..=MAX_PAYLOAD + 5).contains(&len) {
        return Err(FrameError::Malformed(format!("frame length {len} out of range")));
    }
    let kind = FrameKind::from_u8(h[4]).ok_or_else(|| FrameError::Malformed(format!("unknown frame kind {}", h[4])))?;
    let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    Ok((kind, id, len - 5))
}

#[derive(Debug)]
pub enum FrameError {
    Io(io::Error),
    Truncated,
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "agent stream: {e}"),
            FrameError::Truncated => write!(f, "agent stream ended in the middle of a frame"),
            FrameError::Malformed(m) => write!(f, "malformed frame: {m}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> FrameError {
        FrameError::Io(e)
    }
}

#[cfg(feature = "tokio")]
mod codec;
#[cfg(feature = "tokio")]
pub use codec::FrameCodec;

/// First frame in each direction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    pub protocol: u32,
    /// The crate version of the side that sent it.
    pub version: String,
    /// Agent side only: its process id.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Client side only: the credit, in bytes, each streaming request starts
    /// with (see "Flow control" above); 0 turns flow control off, for a
    /// client that always reads everything at once.
    #[serde(default)]
    pub window: u64,
}

impl Hello {
    /// A HELLO granting [`DEFAULT_WINDOW`] (the agent's `window` means nothing).
    pub fn new(version: &str, pid: Option<u32>) -> Hello {
        Hello { protocol: PROTOCOL_VERSION, version: version.to_string(), pid, window: DEFAULT_WINDOW }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Spawn(Spawn),
    Kill {
        target: u32,
        signal: i32,
    },
    /// New size for a spawn's pseudo-terminal (its process gets SIGWINCH).
    Resize {
        target: u32,
        rows: u16,
        cols: u16,
    },
    ReadFile {
        path: String,
        max_bytes: Option<u64>,
    },
    WriteFile {
        path: String,
        mode: Option<u32>,
        create_dirs: bool,
    },
    ListDir {
        path: String,
    },
    /// Removes a file, or a directory (with `recursive`, and its content).
    Remove {
        path: String,
        recursive: bool,
    },
    Which {
        programs: Vec<String>,
    },
    Info,
    Shutdown,
    /// Connects to a unix socket where the agent runs (a Neovim server inside
    /// a sandbox) and proxies it over this request: an empty DATA frame says
    /// it is connected, then INPUT frames carry bytes to the socket (an empty
    /// INPUT shuts its write side), DATA frames carry bytes from it, and one
    /// REPLY `ok` ends the request when the socket closes. A failed connect
    /// is one ERROR instead.
    Connect {
        path: String,
    },
}

/// Start a process. The agent runs `argv` directly (no shell: the core turns
/// shell strings into `[shell, "-c", cmd]`) in a new process group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Spawn {
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// When true, INPUT frames follow with stdin; otherwise stdin is /dev/null.
    #[serde(default)]
    pub stdin: bool,
    /// Kill the whole process group after this long.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Bytes of each of stdout and stderr forwarded before the rest is dropped.
    pub max_output: u64,
    /// Run on a pseudo-terminal of this size: stdin, stdout and stderr are
    /// its slave side (output comes as STDOUT frames only), the process leads
    /// a new session with it as controlling terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<TtySize>,
}

/// A pseudo-terminal's size in character cells.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct TtySize {
    pub rows: u16,
    pub cols: u16,
}

/// Last frame of a spawn.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub duration_us: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Ok,
    Written { bytes: u64 },
    Read { bytes: u64, truncated: bool },
    Listing { entries: Vec<DirEntry> },
    Which { paths: Vec<Option<String>> },
    Info(AgentInfo),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    /// "file", "dir", "symlink" or "other".
    pub kind: String,
    pub size: u64,
    pub mode: u32,
    /// Last modification, nanoseconds since the epoch (0 when unknown: an
    /// older agent, or a runtime that cannot tell).
    #[serde(default)]
    pub mtime_ns: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentInfo {
    pub pid: u32,
    pub uid: u32,
    pub hostname: String,
    /// `uname -r` of the kernel the agent runs on.
    pub kernel_release: String,
    /// `uname -v`: gVisor and VM kernels have their own.
    pub kernel_version: String,
    pub os: String,
    pub arch: String,
    pub cwd: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Version,
    NotFound,
    PermissionDenied,
    Invalid,
    Io,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip() {
        let f = Frame::new(FrameKind::Stdout, 7, b"\x00\xffhello".to_vec());
        let mut buf = Vec::new();
        f.write_to(&mut buf).unwrap();
        assert_eq!(buf.len(), HEADER_LEN + 7);
        let mut r = &buf[..];
        assert_eq!(Frame::read_from(&mut r).unwrap(), Some(f));
        assert!(Frame::read_from(&mut r).unwrap().is_none());
    }

    #[test]
    fn truncated_and_bad_frames_are_errors() {
        let mut buf = Vec::new();
        Frame::new(FrameKind::Data, 1, vec![1, 2, 3]).write_to(&mut buf).unwrap();
        let mut r = &buf[..buf.len() - 1];
        assert!(matches!(Frame::read_from(&mut r), Err(FrameError::Truncated)));
        let mut bad = buf.clone();
        bad[4] = 99;
        assert!(matches!(Frame::read_from(&mut &bad[..]), Err(FrameError::Malformed(_))));
        let huge = encode_header(FrameKind::Data, 1, MAX_PAYLOAD + 1);
        assert!(decode_header(&huge).is_err());
    }

    #[test]
    fn decode_waits_for_a_whole_frame() {
        let f = Frame::credit(5, 1 << 40);
        let buf = f.encode();
        for cut in 0..buf.len() {
            assert!(Frame::decode(&buf[..cut]).unwrap().is_none(), "{cut}");
        }
        let mut two = buf.clone();
        two.extend_from_slice(&buf);
        let (g, used) = Frame::decode(&two).unwrap().unwrap();
        assert_eq!((g.credit_bytes().unwrap(), used), (1 << 40, buf.len()));
        assert!(Frame::new(FrameKind::Credit, 1, vec![1]).credit_bytes().is_err());
    }

    #[test]
    fn requests_are_tagged_json() {
        let r = Request::Kill { target: 3, signal: 9 };
        let f = Frame::json(FrameKind::Request, 4, &r);
        assert_eq!(std::str::from_utf8(&f.payload).unwrap(), r#"{"op":"kill","target":3,"signal":9}"#);
        assert_eq!(f.parse::<Request>().unwrap(), r);
    }
}
