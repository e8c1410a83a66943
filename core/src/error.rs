//! One error type for the whole core. Bindings map `ErrorKind` to their own
//! idiom (Python exception classes, Node `code`s, C status codes).

use crate::hint::Hint;
use std::fmt;
use std::sync::Arc;

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

/// What an error was caused by: an OS error, a wrapped kled error, or any
/// other error a dependency gave. Shared, so that `Error` stays `Clone`
/// (bulk creation reports one failure to many waiters).
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error with a message written for the person who has to act on it, an
/// optional [`Hint`] (the next step, as data each front end renders in its
/// own terms) and its cause (`std::error::Error::source`).
///
/// `message()` is the whole story in one line ("context: cause"), so a front
/// end that shows only text loses nothing; `source()` gives the causes to
/// programs that want them (an `io::Error`'s `raw_os_error()`, or the kled
/// error that `context` wrapped).
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<Hint>,
    source: Option<Source>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), hint: None, source: None }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the hint (front ends render that themselves).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to do next, if the core knows.
    pub fn hint(&self) -> Option<&Hint> {
        self.hint.as_ref()
    }

    /// The same error with a hint (replacing any it had).
    pub fn with_hint(mut self, hint: Hint) -> Error {
        self.hint = Some(hint);
        self
    }

    /// The same error, caused by `source` (whose text the message should
    /// already contain: the source is for programs, the message for people).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn not_found(name: &str) -> Error {
        Error::new(ErrorKind::NotFound, format!("no terminal named {name:?}")).with_hint(Hint::ListTerminals)
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
        Error::new(kind, format!("{context}: {e}")).with_source(e)
    }

    /// The same error with more context in front. Kind and hint stay; the
    /// original error becomes the source.
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
            hint: self.hint.clone(),
            source: Some(Arc::new(self)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Kind, message and hint; the source only as whether there is one (a
/// source's Debug could be anything, and secrets never go into Debug).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("hint", &self.hint)
            .field("has_source", &self.source.is_some())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn context_keeps_kind_hint_and_cause() {
        let io = Error::io("reading /x", std::io::Error::from_raw_os_error(libc::EACCES));
        let os = io.source().and_then(|s| s.downcast_ref::<std::io::Error>()).map(|e| e.raw_os_error());
        assert_eq!(os, Some(Some(libc::EACCES)));
        let outer = Error::not_found("t").context("bulk");
        assert_eq!(outer.kind(), ErrorKind::NotFound);
        assert_eq!(outer.hint(), Some(&Hint::ListTerminals));
        assert_eq!(outer.message(), "bulk: no terminal named \"t\"");
        let inner = outer.source().and_then(|s| s.downcast_ref::<Error>()).unwrap();
        assert_eq!(inner.message(), "no terminal named \"t\"");
        assert!(!format!("{outer:?}").contains("Arc"));
    }
}
