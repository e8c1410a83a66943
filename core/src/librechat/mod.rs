//! LibreChat's Code Interpreter API: the wire format, and a client.
//!
//! The API (legacy hosted service at `https://api.librechat.ai/v1`, and the
//! newer self-hosted servers, `kled serve codeapi` among them):
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /exec` `{lang, code, args?, files?: [{id, session_id, name}]}` | `{session_id, stdout, stderr, files: [{id, name}]}` |
//! | `POST /upload` multipart `file` (one or more), optional `entity_id` | `{message: "success", session_id, files: [{fileId, filename}]}` |
//! | `GET /files/{session_id}?detail=summary\|full` | `[{name: "SESSION/FILEID", fileId, lastModified, ...}]` |
//! | `GET /download/{session_id}/{fileId}` | the bytes |
//! | `DELETE /files/{session_id}/{fileId}` | 200 |
//!
//! Errors are JSON `{error, details?}`; a 429 says
//! `{"error": "rate_limited", "retry_after_seconds": N}` and sends
//! `Retry-After: N`. The key travels as `X-API-Key` (hosted) or
//! `Authorization: Bearer` (self-hosted). Session and file ids are 21-char
//! nanoids (`[A-Za-z0-9_-]{21}`): LibreChat rejects anything else.
//!
//! The server side lives in the `kled-codeapi` crate; it shares these types.

mod client;
mod error;
mod retry;
mod run;
pub mod wire;

pub use client::{Auth, Client, ClientBuilder, UploadFile};
pub use error::{ApiError, ApiErrorKind};
pub use retry::RetryPolicy;
pub use run::{RemoteRun, RemoteSession};
pub use wire::{ExecBody, ExecOutput, FileInfo, FileRef, InputFile, RunInfo, UploadReply, UploadedFile, ID_LEN};

/// LibreChat's language ids, in its order.
pub const LANGUAGE_IDS: &[&str] = &["py", "js", "ts", "c", "cpp", "java", "php", "rs", "go", "d", "f90", "r", "bash"];

/// The LibreChat id for a language name or alias (`python` -> `py`).
pub fn language_id(lang: &str) -> crate::Result<&'static str> {
    crate::languages::Language::find(lang).map(|l| l.id)
}
