//! The API's error answers: a status and `{"error": ..., "details": ...}`,
//! plus `retry_after_seconds` and `Retry-After` when waiting helps.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kled::librechat::wire::ErrorBody;

#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub error: String,
    pub details: Option<String>,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, error: impl Into<String>, details: impl Into<String>) -> Failure {
        let details = details.into();
        Failure { status, error: error.into(), details: (!details.is_empty()).then_some(details), retry_after: None }
    }

    /// `{"error": ERROR}` alone, as the reference server answers.
    pub fn bare(status: StatusCode, error: impl Into<String>) -> Failure {
        Failure { status, error: error.into(), details: None, retry_after: None }
    }

    pub fn forbidden(error: impl Into<String>) -> Failure {
        Failure::bare(StatusCode::FORBIDDEN, error)
    }

    pub fn bad_request(details: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, "Bad request", details)
    }

    pub fn not_found(details: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "Not found", details)
    }

    pub fn too_large(details: impl Into<String>) -> Failure {
        Failure::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", details)
    }

    pub fn unavailable(details: impl Into<String>, retry_after: u64) -> Failure {
        Failure {
            retry_after: Some(retry_after),
            ..Failure::new(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable", details)
        }
    }

    pub fn rate_limited(retry_after: u64) -> Failure {
        Failure {
            retry_after: Some(retry_after),
            ..Failure::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests for this API key")
        }
    }

    /// A kled error in the server's own work (not the client's fault).
    pub fn internal(e: &kled::Error) -> Failure {
        tracing::warn!(error = %e, "codeapi request failed");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "Execution failed", e.message().to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error,
            details: self.details,
            message: None,
            // Only a 429 carries it in the body: that is where LibreChat looks.
            retry_after_seconds: self
                .retry_after
                .filter(|_| self.status == StatusCode::TOO_MANY_REQUESTS)
                .map(|s| s as f64),
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
