//! API keys and the per-key rate limit.

use crate::failure::Failure;
use axum::http::{HeaderMap, StatusCode};
use kled::Secret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which configured key a request used. Sessions belong to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub usize);

pub struct Keys(Vec<Secret>);

impl Keys {
    pub fn new(keys: &[Secret]) -> Keys {
        Keys(keys.iter().filter(|k| !k.expose().is_empty()).cloned().collect())
    }

    /// The key in `X-API-Key` or `Authorization: Bearer`, checked against
    /// every configured key in constant time per key.
    pub fn check(&self, headers: &HeaderMap) -> Result<KeyId, Failure> {
        let given = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let Some(given) = given else {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "missing API key: send it as X-API-Key or Authorization: Bearer",
            ));
        };
        let mut found = None;
        for (i, k) in self.0.iter().enumerate() {
            if constant_time_eq(k.expose().as_bytes(), given.as_bytes()) && found.is_none() {
                found = Some(KeyId(i));
            }
        }
        found.ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "Unauthorized", "invalid API key"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token bucket per key: `requests` per `per`, refilled continuously, so
/// a burst of `requests` passes and then one every `per / requests`.
pub struct RateLimiter {
    requests: u32,
    per: Duration,
    buckets: Mutex<HashMap<KeyId, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(requests: u32, per: Duration) -> RateLimiter {
        RateLimiter { requests, per, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how many whole seconds until one
    /// is there.
    pub fn take(&self, key: KeyId) -> Result<(), Failure> {
        if self.requests == 0 {
            return Ok(());
        }
        let cap = f64::from(self.requests);
        let rate = cap / self.per.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        let (tokens, at) = buckets.entry(key).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / rate).ceil().max(1.0) as u64;
            Err(Failure::rate_limited(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn both_auth_styles() {
        let keys = Keys::new(&[Secret::new("a-key"), Secret::new("b-key")]);
        assert_eq!(keys.check(&headers(&[("x-api-key", "b-key")])).unwrap(), KeyId(1));
        assert_eq!(keys.check(&headers(&[("authorization", "Bearer a-key")])).unwrap(), KeyId(0));
        assert_eq!(keys.check(&headers(&[])).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(keys.check(&headers(&[("x-api-key", "a-ke")])).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            keys.check(&headers(&[("authorization", "Basic a-key")])).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn bucket_allows_a_burst_then_says_when() {
        let r = RateLimiter::new(3, Duration::from_secs(30));
        for _ in 0..3 {
            r.take(KeyId(0)).unwrap();
        }
        let f = r.take(KeyId(0)).unwrap_err();
        assert_eq!(f.status, StatusCode::TOO_MANY_REQUESTS);
        let wait = f.retry_after.unwrap();
        assert!((9..=10).contains(&wait), "{wait}");
        r.take(KeyId(1)).unwrap();
        assert!(RateLimiter::new(0, Duration::from_secs(1)).take(KeyId(0)).is_ok());
    }
}
