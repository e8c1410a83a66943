//! When to try a Code Interpreter request again, and how long to wait.
//!
//! Only three answers are worth another try: 429 (wait what the server asks,
//! from `retry_after_seconds` or `Retry-After`, capped), and 503/504 (the
//! service is overloaded or restarting: jittered exponential backoff, or its
//! `Retry-After`). Everything else, including a refused connection, is
//! final: a 400 will not improve, and retrying a POST /exec that may have run
//! would run the code twice. All tries together stay within one deadline.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total time for a call, tries and waits included.
    pub deadline: Duration,
    /// The most tries (the first one included).
    pub max_attempts: u32,
    /// The longest wait a server's `Retry-After` may impose.
    pub max_retry_after: Duration,
    /// First backoff for 503/504; doubles each try, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            deadline: Duration::from_secs(300),
            max_attempts: 6,
            max_retry_after: Duration::from_secs(60),
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// How long to wait before try number `attempt + 1` after `status`, or
    /// None when the status is final.
    pub fn wait(&self, status: u16, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        match status {
            429 => Some(retry_after.unwrap_or_else(|| self.backoff(attempt)).min(self.max_retry_after)),
            503 | 504 => {
                Some(retry_after.map(|d| d.min(self.max_retry_after)).unwrap_or_else(|| self.backoff(attempt)))
            }
            _ => None,
        }
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, so
    /// clients that failed together do not come back together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.max_backoff);
        d / 2 + d.mul_f64(fastrand::f64() / 2.0)
    }
}

/// The longest wait a server's number is taken at before the policy caps
/// it: far above any sane `max_retry_after`, far below what overflows a
/// `Duration` or an `Instant` (`Duration::from_secs_f64(1e30)` panics).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(86_400);

/// A server's wait in seconds as a Duration: negative, NaN and infinite
/// values are no wait at all (None); huge ones are clamped, never a panic.
pub(crate) fn server_seconds(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(MAX_SERVER_WAIT).min(MAX_SERVER_WAIT))
}

/// `Retry-After`: seconds, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return server_seconds(secs);
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO).min(MAX_SERVER_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_429_503_504_retry() {
        let p = RetryPolicy::default();
        for s in [400, 401, 403, 404, 413, 422, 500, 502] {
            assert_eq!(p.wait(s, 1, None), None, "{s}");
        }
        assert!(p.wait(503, 1, None).is_some());
        assert!(p.wait(504, 1, None).is_some());
        assert_eq!(p.wait(429, 1, Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_is_capped_and_attempts_bounded() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait(429, 1, Some(Duration::from_secs(3600))), Some(p.max_retry_after));
        assert_eq!(p.wait(429, p.max_attempts, Some(Duration::from_secs(1))), None);
        assert_eq!(RetryPolicy::none().wait(503, 1, None), None);
    }

    #[test]
    fn backoff_grows_with_jitter_inside_bounds() {
        let p = RetryPolicy::default();
        for attempt in 1..6 {
            let full = p.base_backoff.saturating_mul(1 << (attempt - 1)).min(p.max_backoff);
            let d = p.wait(503, attempt, None).unwrap();
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not in [{:?}, {full:?}]", full / 2);
        }
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        let d = parse_retry_after(&soon).unwrap();
        assert!(d > Duration::from_secs(27) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(parse_retry_after("soon"), None);
        for huge in ["1e30", "1e308", "18446744073709551616"] {
            assert_eq!(parse_retry_after(huge), Some(MAX_SERVER_WAIT), "{huge}");
        }
        for bad in ["NaN", "inf", "-inf", "-1e30"] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }
}
