//! LibreChat's Code API tokens, verified as ClickHouse/code-interpreter
//! verifies them (service/src/auth/librechat-jwt.ts): `typ` JWT if present,
//! `alg` EdDSA or RS256 matching the key that `kid` names, then the claims
//! `iss`, `aud`, `sub`, `jti`, `iat`, `nbf`, `exp` (lifetime at most 300 s,
//! clock skew at most 30 s), `principal_source` and `auth_context_hash`.
//! A failure says why in the log (never the token) and answers 401.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kled::config::JwtConfig;
use serde::Deserialize;
use std::collections::HashMap;

/// The single-tenant namespace when a token has no `tenant_id` (the
/// reference server's default, `CODEAPI_JWT_SINGLE_TENANT_ID`).
const DEFAULT_TENANT: &str = "legacy";
const PRINCIPAL_SOURCES: &[&str] = &["librechat_jwt", "openid_reuse"];

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    pub tenant: String,
    pub user: String,
}

pub struct JwtVerifier {
    issuer: String,
    audience: String,
    skew: u64,
    max_lifetime: u64,
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

/// Why a token was refused: the reference server's reason names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub &'static str);

#[derive(Deserialize)]
struct Claims {
    sub: Option<serde_json::Value>,
    jti: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    tenant_id: Option<serde_json::Value>,
    principal_source: Option<serde_json::Value>,
    auth_context_hash: Option<serde_json::Value>,
}

impl JwtVerifier {
    /// None when no key is configured (JWTs are then not accepted at all).
    pub fn new(cfg: &JwtConfig) -> kled::Result<Option<JwtVerifier>> {
        if cfg.keys.is_empty() {
            return Ok(None);
        }
        let mut keys = HashMap::new();
        for k in &cfg.keys {
            if k.kid.trim().is_empty() {
                return Err(config_error(
                    "a JWT public key needs its kid: set KLED_CODEAPI_JWT_KID (or CODEAPI_JWT_KID), or kid in codeapi.auth.jwt.keys",
                ));
            }
            keys.insert(k.kid.clone(), load_key(&k.kid, &k.public_key)?);
        }
        Ok(Some(JwtVerifier {
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            skew: cfg.clock_skew.min(30),
            max_lifetime: cfg.max_lifetime.clamp(1, 300),
            keys,
        }))
    }

    pub fn verify(&self, token: &str) -> Result<TokenUser, Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refused("malformed"))?;
        if header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err(Refused("malformed"));
        }
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::RS256) {
            return Err(Refused("wrong_alg"));
        }
        let kid = header.kid.filter(|k| !k.trim().is_empty()).ok_or(Refused("malformed_claims"))?;
        let (key, alg) = self.keys.get(&kid).ok_or(Refused("unknown_kid"))?;
        if *alg != header.alg {
            return Err(Refused("wrong_alg"));
        }
        let mut v = Validation::new(*alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = self.skew;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            Refused(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not_yet_valid",
                K::InvalidIssuer => "wrong_issuer",
                K::InvalidAudience => "wrong_audience",
                K::InvalidSignature => "bad_signature",
                K::MissingRequiredClaim(_) => "malformed_claims",
                _ => "malformed",
            })
        })?;
        self.check_claims(data.claims)
    }

    /// What jsonwebtoken does not check: the reference server's rules.
    fn check_claims(&self, c: Claims) -> Result<TokenUser, Refused> {
        let text = |v: Option<serde_json::Value>| match v {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s),
            _ => Err(Refused("malformed_claims")),
        };
        let number =
            |v: &Option<serde_json::Value>| v.as_ref().and_then(|n| n.as_f64()).ok_or(Refused("malformed_claims"));
        let (iat, nbf, exp) = (number(&c.iat)?, number(&c.nbf)?, number(&c.exp)?);
        let user = text(c.sub)?;
        let jti = text(c.jti)?;
        if jti.len() > 256 {
            return Err(Refused("malformed_claims"));
        }
        let source = text(c.principal_source)?;
        if !PRINCIPAL_SOURCES.contains(&source.as_str()) {
            return Err(Refused("malformed_claims"));
        }
        text(c.auth_context_hash)?;
        let tenant = match c.tenant_id {
            None => DEFAULT_TENANT.to_string(),
            v => text(v)?,
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let skew = self.skew as f64;
        if nbf > now + skew {
            return Err(Refused("not_yet_valid"));
        }
        if iat > now + skew {
            return Err(Refused("future_iat"));
        }
        if exp <= now - skew {
            return Err(Refused("expired"));
        }
        if exp <= iat {
            return Err(Refused("malformed_claims"));
        }
        if exp - iat > self.max_lifetime as f64 {
            return Err(Refused("ttl_too_long"));
        }
        Ok(TokenUser { tenant, user })
    }
}

/// An Ed25519 or RSA public key in PEM, given inline (`\n` escapes allowed,
/// as in the reference server's environment variable) or as a file path.
fn load_key(kid: &str, value: &str) -> kled::Result<(DecodingKey, Algorithm)> {
    let inline = value.replace("\\n", "\n");
    let pem = if inline.trim_start().starts_with("-----BEGIN") {
        inline.trim().to_string()
    } else {
        std::fs::read_to_string(value.trim())
            .map_err(|e| config_error(format!("JWT key {kid:?}: cannot read the PEM file {:?}: {e}", value.trim())))?
    };
    if let Ok(k) = DecodingKey::from_ed_pem(pem.as_bytes()) {
        return Ok((k, Algorithm::EdDSA));
    }
    if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((k, Algorithm::RS256));
    }
    Err(config_error(format!("JWT key {kid:?} is not an Ed25519 or RSA public key in PEM")))
}

fn config_error(msg: impl Into<String>) -> kled::Error {
    kled::Error::new(kled::ErrorKind::Config, msg.into())
}
