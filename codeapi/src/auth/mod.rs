//! Who is calling: a static key (`X-API-Key` or `Authorization: Bearer`),
//! a LibreChat-minted JWT (`Authorization: Bearer`, see [`jwt`]), or nobody
//! checked (`codeapi.auth: none`). And the per-caller rate limit.

pub mod jwt;

use crate::failure::Failure;
use axum::http::{HeaderMap, StatusCode};
use kled::config::{CodeApiAuth, CodeApiConfig};
use kled::Secret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The caller. Files and sandboxes belong to a user within a namespace:
/// a static key is a namespace of its own (every LibreChat user behind one
/// key is one user to this server); a JWT's namespace is its `tenant_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// `key:N`, `jwt:TENANT` or `none`.
    pub namespace: String,
    pub user: String,
}

impl Principal {
    pub fn is_jwt(&self) -> bool {
        self.namespace.starts_with("jwt:")
    }

    /// The owner key of this user's own files (kind `user`). JSON, so no
    /// tenant or user name can be made to collide with another's.
    pub fn user_key(&self) -> String {
        serde_json::json!([self.namespace, "user", self.user]).to_string()
    }

    /// The owner key of files shared by kind within this namespace, as the
    /// reference server's session-key.ts derives it: `agent` and `skill`
    /// files belong to the resource, not to the user who uploaded them.
    pub fn shared_key(&self, kind: &str, resource_id: &str, version: Option<f64>) -> String {
        match kind {
            "skill" => serde_json::json!([self.namespace, "skill", resource_id, version]).to_string(),
            _ => serde_json::json!([self.namespace, kind, resource_id]).to_string(),
        }
    }
}

pub struct Authenticator {
    off: bool,
    keys: Keys,
    jwt: Option<jwt::JwtVerifier>,
}

impl Authenticator {
    pub fn new(cfg: &CodeApiConfig) -> kled::Result<Authenticator> {
        let (off, jwt) = match &cfg.auth {
            CodeApiAuth::None => (true, None),
            CodeApiAuth::Verify(a) => (false, jwt::JwtVerifier::new(&a.jwt)?),
        };
        let keys = Keys::new(&cfg.api_keys);
        if !off && keys.0.is_empty() && jwt.is_none() {
            return Err(kled::Error::new(
                kled::ErrorKind::Config,
                "no API keys and no JWT key: set codeapi.api_keys (or KLED_CODEAPI_KEYS=key1,key2), or LibreChat's public key in KLED_CODEAPI_JWT_PUBLIC_KEY with KLED_CODEAPI_JWT_KID (or codeapi.auth.jwt.keys)",
            ));
        }
        Ok(Authenticator { off, keys, jwt })
    }

    pub fn is_off(&self) -> bool {
        self.off
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<Principal, Failure> {
        if self.off {
            return Ok(Principal { namespace: "none".into(), user: "anonymous".into() });
        }
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let api_key = header("x-api-key");
        let bearer = header("authorization").and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim()).filter(|t| !t.is_empty())
        });
        if api_key.is_some() && bearer.is_some() {
            return Err(Failure::bare(StatusCode::BAD_REQUEST, "Ambiguous authentication headers"));
        }
        let Some(given) = api_key.or(bearer) else {
            return Err(if self.jwt.is_some() {
                Failure::bare(StatusCode::UNAUTHORIZED, "Bearer token is required")
            } else {
                Failure::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "missing API key: send it as X-API-Key or Authorization: Bearer",
                )
            });
        };
        if let Some(i) = self.keys.find(given) {
            // Named by a digest of the key, not its place in the list: the
            // stored files of a key stay its own across restarts whatever
            // keys are added or removed, and the key itself is never stored.
            let id = &self.keys.1[i];
            return Ok(Principal { namespace: format!("key:{id}"), user: format!("key:{id}") });
        }
        match (&self.jwt, bearer) {
            (Some(v), Some(token)) if token.matches('.').count() == 2 => match v.verify(token) {
                Ok(u) => Ok(Principal { namespace: format!("jwt:{}", u.tenant), user: u.user }),
                Err(jwt::Refused(reason)) => {
                    tracing::warn!(reason, "JWT refused");
                    Err(Failure::bare(StatusCode::UNAUTHORIZED, "Invalid bearer token"))
                }
            },
            _ => Err(Failure::new(StatusCode::UNAUTHORIZED, "Unauthorized", "invalid API key")),
        }
    }
}

/// The keys, and each one's stable name (the first 16 bytes of its
/// SHA-256, in hex).
struct Keys(Vec<Secret>, Vec<String>);

impl Keys {
    fn new(keys: &[Secret]) -> Keys {
        use sha2::Digest;
        let keys: Vec<Secret> = keys.iter().filter(|k| !k.expose().is_empty()).cloned().collect();
        let ids = keys
            .iter()
            .map(|k| sha2::Sha256::digest(k.expose().as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        Keys(keys, ids)
    }

    /// Which key `given` is, compared in constant time per key.
    fn find(&self, given: &str) -> Option<usize> {
        let mut found = None;
        for (i, k) in self.0.iter().enumerate() {
            if constant_time_eq(k.expose().as_bytes(), given.as_bytes()) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token bucket per caller: `requests` per `per`, refilled continuously, so
/// a burst of `requests` passes and then one every `per / requests`.
pub struct RateLimiter {
    requests: u32,
    per: Duration,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(requests: u32, per: Duration) -> RateLimiter {
        RateLimiter { requests, per, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `who`, or says how many whole seconds until one
    /// is there.
    pub fn take(&self, who: &Principal) -> Result<(), Failure> {
        if self.requests == 0 {
            return Ok(());
        }
        let cap = f64::from(self.requests);
        let rate = cap / self.per.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        let (tokens, at) = buckets.entry(who.user_key()).or_insert((cap, now));
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

    fn keys(k: &[&str]) -> Authenticator {
        let cfg = CodeApiConfig { api_keys: k.iter().map(|k| Secret::new(*k)).collect(), ..CodeApiConfig::default() };
        Authenticator::new(&cfg).unwrap()
    }

    #[test]
    fn both_auth_styles() {
        let a = keys(&["a-key", "b-key"]);
        let (ka, kb) = (
            a.check(&headers(&[("authorization", "Bearer a-key")])).unwrap(),
            a.check(&headers(&[("x-api-key", "b-key")])).unwrap(),
        );
        assert_ne!(ka, kb);
        // The same key is the same caller whatever its place in the list.
        assert_eq!(keys(&["b-key"]).check(&headers(&[("x-api-key", "b-key")])).unwrap(), kb);
        assert!(!kb.user.contains("b-key"));
        assert_eq!(a.check(&headers(&[])).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.check(&headers(&[("x-api-key", "a-ke")])).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            a.check(&headers(&[("authorization", "Basic a-key")])).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let both = headers(&[("x-api-key", "a-key"), ("authorization", "Bearer a-key")]);
        assert_eq!(a.check(&both).unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn owner_keys_cannot_collide() {
        let p = |ns: &str, u: &str| Principal { namespace: ns.into(), user: u.into() };
        assert_ne!(p("jwt:t:user:x", "y").user_key(), p("jwt:t", "x:user:y").user_key());
        assert_ne!(p("key:0", "key:0").user_key(), p("jwt:key:0", "key:0").user_key());
        assert_ne!(
            p("jwt:t", "a").shared_key("skill", "s", Some(1.0)),
            p("jwt:t", "a").shared_key("skill", "s", Some(2.0))
        );
        assert_eq!(p("jwt:t", "a").shared_key("agent", "x", None), p("jwt:t", "b").shared_key("agent", "x", None));
    }

    #[test]
    fn no_keys_at_all_is_refused_unless_auth_is_none() {
        assert!(Authenticator::new(&CodeApiConfig::default()).is_err());
        let cfg = CodeApiConfig { auth: CodeApiAuth::None, ..CodeApiConfig::default() };
        assert!(Authenticator::new(&cfg).unwrap().check(&headers(&[])).is_ok());
    }

    #[test]
    fn bucket_allows_a_burst_then_says_when() {
        let (a, b) = (
            Principal { namespace: "key:0".into(), user: "key:0".into() },
            Principal { namespace: "key:1".into(), user: "key:1".into() },
        );
        let r = RateLimiter::new(3, Duration::from_secs(30));
        for _ in 0..3 {
            r.take(&a).unwrap();
        }
        let f = r.take(&a).unwrap_err();
        assert_eq!(f.status, StatusCode::TOO_MANY_REQUESTS);
        let wait = f.retry_after.unwrap();
        assert!((9..=10).contains(&wait), "{wait}");
        r.take(&b).unwrap();
        assert!(RateLimiter::new(0, Duration::from_secs(1)).take(&a).is_ok());
    }
}
