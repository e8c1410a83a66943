//! What went wrong talking to a Code Interpreter API, keeping the server's
//! own words. Never holds the API key: requests are described by method and
//! path only.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 401/403: the key is missing or refused.
    Unauthorized,
    /// 400/422: the request was refused as malformed (unknown language, ...).
    BadRequest,
    /// 404: no such session or file.
    NotFound,
    /// 413: a body or file over the server's limit.
    TooLarge,
    /// 429, still rate-limited when the retries or the deadline ran out.
    RateLimited,
    /// 503/504, still unavailable when the retries or the deadline ran out.
    Unavailable,
    /// Any other status.
    Server,
    /// No answer: connection refused, TLS failure, reset.
    Transport,
    /// The client's total deadline passed.
    Deadline,
    /// An answer that does not follow the protocol.
    Protocol,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The server's message (its `error` and `details`), or ours.
    pub message: String,
    /// What the server asked us to wait, for 429 and 503.
    pub retry_after: Option<Duration>,
    /// `METHOD /path` of the request.
    pub request: String,
}

impl ApiError {
    pub(crate) fn new(kind: ApiErrorKind, request: &str, message: impl Into<String>) -> ApiError {
        ApiError { kind, status: None, message: message.into(), retry_after: None, request: request.to_string() }
    }

    pub(crate) fn from_status(status: u16, request: &str, message: String, retry_after: Option<Duration>) -> ApiError {
        let kind = match status {
            401 | 403 => ApiErrorKind::Unauthorized,
            400 | 422 => ApiErrorKind::BadRequest,
            404 => ApiErrorKind::NotFound,
            413 => ApiErrorKind::TooLarge,
            429 => ApiErrorKind::RateLimited,
            502..=504 => ApiErrorKind::Unavailable,
            _ => ApiErrorKind::Server,
        };
        ApiError { kind, status: Some(status), message, retry_after, request: request.to_string() }
    }

    fn hint(&self) -> &'static str {
        match self.kind {
            ApiErrorKind::Unauthorized => {
                "; set LIBRECHAT_CODE_API_KEY (or librechat.api_key in the config) to a key this server accepts"
            }
            ApiErrorKind::RateLimited => "; wait and try again, or raise the key's limit on the server",
            ApiErrorKind::Unavailable | ApiErrorKind::Transport => {
                "; check LIBRECHAT_CODE_BASEURL (or librechat.base_url) and that the service is up"
            }
            _ => "",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code Interpreter API: {}", self.request)?;
        if let Some(s) = self.status {
            write!(f, " answered {s}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {}s)", d.as_secs_f64().ceil())?;
        }
        f.write_str(self.hint())
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for crate::Error {
    fn from(e: ApiError) -> crate::Error {
        use crate::ErrorKind as K;
        let kind = match e.kind {
            ApiErrorKind::Unauthorized => K::Config,
            ApiErrorKind::BadRequest | ApiErrorKind::TooLarge | ApiErrorKind::Protocol => K::InvalidArgument,
            ApiErrorKind::NotFound => K::NotFound,
            ApiErrorKind::RateLimited | ApiErrorKind::Deadline => K::Timeout,
            ApiErrorKind::Unavailable | ApiErrorKind::Server | ApiErrorKind::Transport => K::RuntimeUnavailable,
        };
        crate::Error::new(kind, e.to_string())
    }
}
