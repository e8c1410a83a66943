//! One error type for the whole core. Bindings map `ErrorKind` to their own
//! idiom (Python exception classes, Node `code`s, C status codes).

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The broad class of an error, stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No terminal (or file) by that name.
    NotFound,
    /// A terminal by that name exists already.
    AlreadyExists,
    /// A bad name, option, language, path or request.
    InvalidArgument,
    /// The runtime (or a program it needs) is not available on this machine.
    RuntimeUnavailable,
    /// The terminal is not in a state that allows the operation.
    InvalidState,
    /// A deadline passed before the operation finished.
    Timeout,
    /// The agent or engine broke the conversation (crashed, vanished, spoke nonsense).
    Agent,
    /// A file-system or OS error on the host.
    Io,
    /// The configuration file or environment is wrong.
    Config,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::RuntimeUnavailable => "runtime_unavailable",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Agent => "agent",
            ErrorKind::Io => "io",
            ErrorKind::Config => "config",
        }
    }
}

/// An error with a message written for the person who has to act on it.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn not_found(name: &str) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("no terminal named {name:?}; `kled terminal list` shows the terminals that exist"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn agent(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Agent, message)
    }

    pub(crate) fn io(context: impl fmt::Display, e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{context}: {e}"))
    }

    /// The same error with more context in front.
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error { kind: self.kind, message: format!("{context}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
