//! Configuration: a YAML file plus environment variables.
//!
//! The file comes from an explicit path, else `$KLED_CONFIG`, else
//! `$XDG_CONFIG_HOME/kled/config.yaml` (`~/.config/kled/config.yaml`) when it
//! exists. Unknown keys are errors naming the key. Environment variables
//! `LIBRECHAT_CODE_BASEURL` and `LIBRECHAT_CODE_API_KEY` override the file.
//!
//! ```yaml
//! coder:     { url: https://coder.example.com, token: ..., timeout: 30 }
//! kata:      { url: unix:///run/kled/kata.sock, timeout: 30 }
//! librechat: { base_url: https://api.librechat.ai/v1, api_key: ..., auth: x-api-key|bearer, timeout: 300 }
//! isolation:
//!   gvisor:  { engine: unix:///run/kled/gvisor.sock, runtime: runsc }
//!   kata:    { engine: unix:///run/kled/kata.sock }
//! ```

use crate::error::{Error, ErrorKind, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::secret::secret_list;
pub use crate::secret::Secret;

pub const DEFAULT_LIBRECHAT_BASE_URL: &str = "https://api.librechat.ai/v1";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub coder: CoderConfig,
    pub kata: KataConfig,
    pub librechat: LibreChatConfig,
    pub isolation: IsolationConfig,
    /// `kled serve codeapi`.
    pub codeapi: CodeApiConfig,
}

/// `kled serve codeapi`: LibreChat's Code Interpreter API on kled terminals.
///
/// ```yaml
/// codeapi:
///   listen: 127.0.0.1:8700
///   api_keys: [key-1, key-2]          # or KLED_CODEAPI_KEYS=key-1,key-2
///   sandbox: { kind: gvisor, cpus: 1, memory: 1024, pids: 256, options: { image: localhost/kled-debian, network: none } }
///   limits: { run_timeout: 30, max_output: 1048576, max_file: 52428800, max_body: 67108864, max_files: 100 }
///   sessions: { ttl: 86400, idle: 300, max_sandboxes: 16, warm: 2 }
///   rate_limit: { requests: 120, per: 60 }   # per key; requests 0 turns it off
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeApiConfig {
    pub listen: String,
    #[serde(deserialize_with = "secret_list")]
    pub api_keys: Vec<Secret>,
    /// LibreChat's minted JWTs (`auth: {jwt: ...}`), or `auth: none`.
    pub auth: CodeApiAuth,
    pub sandbox: SandboxConfig,
    pub limits: CodeApiLimits,
    pub sessions: SessionConfig,
    pub rate_limit: RateLimitConfig,
}

impl Default for CodeApiConfig {
    fn default() -> Self {
        CodeApiConfig {
            listen: "127.0.0.1:8700".into(),
            api_keys: Vec::new(),
            auth: CodeApiAuth::default(),
            sandbox: SandboxConfig::default(),
            limits: CodeApiLimits::default(),
            sessions: SessionConfig::default(),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

/// How `kled serve codeapi` knows who is calling. Static keys
/// (`api_keys`) always work; JWTs when `jwt.keys` has a key; `none` (the
/// word) turns checking off, for a trusted network only.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeApiAuth {
    None,
    Verify(CodeApiAuthConfig),
}

impl Default for CodeApiAuth {
    fn default() -> Self {
        CodeApiAuth::Verify(CodeApiAuthConfig::default())
    }
}

impl<'de> Deserialize<'de> for CodeApiAuth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Map(CodeApiAuthConfig),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "none" => Ok(CodeApiAuth::None),
            Raw::Word(w) => {
                Err(serde::de::Error::custom(format!("codeapi.auth must be `none` or a map with `jwt`, not {w:?}")))
            }
            Raw::Map(m) => Ok(CodeApiAuth::Verify(m)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeApiAuthConfig {
    pub jwt: JwtConfig,
}

/// LibreChat's Code API tokens, checked as ClickHouse/code-interpreter
/// checks them (EdDSA or RS256, `kid` naming one of `keys`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: Vec<JwtKeyConfig>,
    /// Seconds of clock difference allowed (at most 30).
    pub clock_skew: u64,
    /// The longest lifetime (`exp - iat`) accepted, seconds (at most 300).
    pub max_lifetime: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            issuer: "librechat".into(),
            audience: "codeapi".into(),
            keys: Vec::new(),
            clock_skew: 30,
            max_lifetime: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    pub kid: String,
    /// A public key in PEM (Ed25519 or RSA), or the path of a PEM file.
    pub public_key: String,
}

/// Which terminal each session runs in, and its limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Any kind: gvisor (the default), container, kata, local (no isolation
    /// at all: for trusted code only).
    pub kind: String,
    /// The kind's options. `image` needs the languages to be offered;
    /// `network` defaults to none, as the hosted service has no network.
    /// `cpus`, `memory` and `pids` here win over the fields below.
    pub options: serde_json::Value,
    /// CPUs per sandbox (the container option `cpus`).
    pub cpus: f64,
    /// MiB per sandbox (the container option `memory`).
    pub memory: u64,
    /// Processes and threads per sandbox (the container option `pids`).
    pub pids: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            kind: "gvisor".into(),
            options: serde_json::json!({"image": "localhost/kled-debian", "network": "none"}),
            cpus: 1.0,
            memory: 1024,
            pids: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeApiLimits {
    /// Seconds a run may take before it is killed.
    pub run_timeout: u64,
    /// Bytes of stdout and of stderr returned per run; a longer stream keeps
    /// its start and its end, with a note of the cut between.
    pub max_output: usize,
    /// Bytes per file, uploaded or produced.
    pub max_file: usize,
    /// Bytes per request body (an upload's files together, an exec's JSON).
    pub max_body: usize,
    /// Files per session.
    pub max_files: usize,
}

impl Default for CodeApiLimits {
    fn default() -> Self {
        CodeApiLimits { run_timeout: 30, max_output: 1 << 20, max_file: 50 << 20, max_body: 64 << 20, max_files: 100 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds a session (and its files) lives after its last use.
    pub ttl: u64,
    /// Seconds a session's sandbox stays up after its last run.
    pub idle: u64,
    /// Sandboxes up at once, warm ones included.
    pub max_sandboxes: usize,
    /// Sandboxes kept started and unused, so a new session need not wait.
    pub warm: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { ttl: 86_400, idle: 300, max_sandboxes: 16, warm: 2 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests allowed per key per `per` seconds (0: no limit).
    pub requests: u32,
    pub per: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig { requests: 120, per: 60 }
    }
}

/// Isolated container kinds: which engine serves them and which OCI runtime
/// they ask for. Podman 4.3 ignores the requested runtime over its HTTP API,
/// so an engine whose *default* runtime is the isolated one can be named.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationConfig {
    pub gvisor: IsolatedEngine,
    pub kata: IsolatedEngine,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolatedEngine {
    /// Engine endpoint (`unix:///run/kled/gvisor.sock`); default: the usual engine.
    pub engine: Option<String>,
    /// OCI runtime name to request; default `runsc` (gvisor) or `kata`.
    pub runtime: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoderConfig {
    pub url: Option<String>,
    pub token: Option<Secret>,
    /// Seconds.
    pub timeout: u64,
}

impl Default for CoderConfig {
    fn default() -> Self {
        CoderConfig { url: None, token: None, timeout: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KataConfig {
    /// Engine endpoint whose default OCI runtime is Kata.
    pub url: Option<String>,
    /// Seconds.
    pub timeout: u64,
}

impl Default for KataConfig {
    fn default() -> Self {
        KataConfig { url: None, timeout: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LibreChatConfig {
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// How the key is sent: `x-api-key` (the hosted service) or `bearer`.
    pub auth: LibreChatAuth,
    /// Total seconds for one call, retries included.
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LibreChatAuth {
    #[default]
    #[serde(rename = "x-api-key")]
    ApiKey,
    #[serde(rename = "bearer")]
    Bearer,
}

impl Default for LibreChatConfig {
    fn default() -> Self {
        LibreChatConfig {
            base_url: DEFAULT_LIBRECHAT_BASE_URL.to_string(),
            api_key: None,
            auth: LibreChatAuth::ApiKey,
            timeout: 300,
        }
    }
}

impl Config {
    /// Parses YAML; the error names the offending key and where it is.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| Error::new(ErrorKind::Config, format!("{origin}: {e}")))
    }

    /// The configuration in force: file (explicit, `$KLED_CONFIG`, or the
    /// default location if present), then the environment on top.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("KLED_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from));
        let mut config = match explicit {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    Error::new(ErrorKind::Config, format!("cannot read config file {}: {e}", p.display()))
                })?;
                Config::from_yaml(&text, &p.display().to_string())?
            }
            None => match default_path() {
                Some(p) if p.exists() => {
                    let text = std::fs::read_to_string(&p).map_err(|e| {
                        Error::new(ErrorKind::Config, format!("cannot read config file {}: {e}", p.display()))
                    })?;
                    Config::from_yaml(&text, &p.display().to_string())?
                }
                _ => Config::default(),
            },
        };
        config.apply_env();
        Ok(config)
    }

    /// A configuration from a JSON-like value (as bindings receive it: a
    /// Python dict, a JS object), checked like the YAML file, with the
    /// environment applied on top as `load` does.
    pub fn from_value(value: serde_json::Value) -> Result<Config> {
        let mut config: Config = if value.is_null() {
            Config::default()
        } else {
            serde_json::from_value(value).map_err(|e| Error::new(ErrorKind::Config, format!("config: {e}")))?
        };
        config.apply_env();
        Ok(config)
    }

    /// Applies `LIBRECHAT_CODE_BASEURL` and `LIBRECHAT_CODE_API_KEY`.
    pub fn apply_env(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(url) = var("LIBRECHAT_CODE_BASEURL") {
            self.librechat.base_url = url;
        }
        if let Some(key) = var("LIBRECHAT_CODE_API_KEY") {
            self.librechat.api_key = Some(Secret::new(key));
        }
        if let Some(keys) = var("KLED_CODEAPI_KEYS") {
            self.codeapi.api_keys = keys.split(',').map(str::trim).filter(|k| !k.is_empty()).map(Secret::new).collect();
        }
        // LibreChat's public key; the reference server's names work too.
        let jwt_key = var("KLED_CODEAPI_JWT_PUBLIC_KEY").or_else(|| var("CODEAPI_JWT_PUBLIC_KEY"));
        if let (Some(public_key), CodeApiAuth::Verify(auth)) = (jwt_key, &mut self.codeapi.auth) {
            let kid = var("KLED_CODEAPI_JWT_KID")
                .or_else(|| var("CODEAPI_JWT_KID"))
                .or_else(|| var("CODEAPI_JWT_KEY_ID"))
                .unwrap_or_default();
            auth.jwt.keys.retain(|k| k.kid != kid);
            auth.jwt.keys.push(JwtKeyConfig { kid, public_key });
        }
        if let CodeApiAuth::Verify(auth) = &mut self.codeapi.auth {
            if let Some(iss) = var("KLED_CODEAPI_JWT_ISSUER").or_else(|| var("CODEAPI_JWT_ISSUER")) {
                auth.jwt.issuer = iss;
            }
            if let Some(aud) = var("KLED_CODEAPI_JWT_AUDIENCE").or_else(|| var("CODEAPI_JWT_AUDIENCE")) {
                auth.jwt.audience = aud;
            }
        }
        match var("KLED_LIBRECHAT_AUTH").as_deref() {
            Some("bearer") => self.librechat.auth = LibreChatAuth::Bearer,
            Some("x-api-key") => self.librechat.auth = LibreChatAuth::ApiKey,
            _ => {}
        }
    }
}

fn default_path() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config"))).map(|d| d.join("kled/config.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_the_wrong_type_is_not_echoed() {
        for yaml in [
            "codeapi:\n  api_keys: SECRET-KEY-1\n",
            "codeapi:\n  api_keys: [SECRET-KEY-1, {SECRET-KEY-2: 1}]\n",
            "coder:\n  token: [SECRET-KEY-1]\n",
            "librechat:\n  api_key: {SECRET-KEY-1: 1}\n",
        ] {
            let e = Config::from_yaml(yaml, "cfg.yaml").unwrap_err();
            assert!(!e.message().contains("SECRET-KEY"), "{e}");
            assert!(e.message().contains("not shown"), "{e}");
        }
        let json = Config::from_value(serde_json::json!({"coder": {"token": 123456789}})).unwrap_err();
        assert!(!json.message().contains("123456789"), "{json}");
        let ok = Config::from_yaml("codeapi:\n  api_keys: [k1, k2]\ncoder:\n  token: t\n", "t").unwrap();
        assert_eq!(ok.codeapi.api_keys.len(), 2);
    }

    #[test]
    fn parses_sections_with_defaults() {
        let c =
            Config::from_yaml("coder:\n  url: https://c.example\n  token: s3cret\nkata:\n  timeout: 5\n", "t").unwrap();
        assert_eq!(c.coder.url.as_deref(), Some("https://c.example"));
        assert_eq!(c.coder.token.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(c.coder.timeout, 30);
        assert_eq!(c.kata.timeout, 5);
        assert_eq!(c.librechat.base_url, DEFAULT_LIBRECHAT_BASE_URL);
        assert_eq!(Config::from_yaml("", "t").unwrap(), Config::default());
        let c = Config::from_yaml("isolation:\n  gvisor:\n    engine: unix:///run/kled/gvisor.sock\n", "t").unwrap();
        assert_eq!(c.isolation.gvisor.engine.as_deref(), Some("unix:///run/kled/gvisor.sock"));
        assert!(Config::from_yaml("isolation:\n  firecracker: {}\n", "t").is_err());
    }

    #[test]
    fn from_value_checks_keys_too() {
        let c = Config::from_value(serde_json::json!({"kata": {"timeout": 9}})).unwrap();
        assert_eq!(c.kata.timeout, 9);
        let e = Config::from_value(serde_json::json!({"kata": {"timeot": 9}})).unwrap_err();
        assert!(e.message().contains("timeot"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_yaml("coder:\n  tokn: x\n", "cfg.yaml").unwrap_err();
        assert!(e.message().contains("tokn"), "{e}");
        assert!(e.message().starts_with("cfg.yaml"), "{e}");
        let e = Config::from_yaml("bogus: 1\n", "cfg.yaml").unwrap_err();
        assert!(e.message().contains("bogus"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_yaml("librechat:\n  api_key: sk-live-123\ncoder:\n  token: tok-456\n", "t").unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-live-123") && !dbg.contains("tok-456"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn codeapi_auth_is_none_by_name_or_jwt_keys() {
        let c = Config::from_yaml("codeapi:\n  auth: none\n", "t").unwrap();
        assert_eq!(c.codeapi.auth, CodeApiAuth::None);
        let y =
            "codeapi:\n  auth:\n    jwt:\n      keys: [{kid: k1, public_key: /etc/lc.pub}]\n      audience: other\n";
        let CodeApiAuth::Verify(a) = Config::from_yaml(y, "t").unwrap().codeapi.auth else { panic!("not verify") };
        assert_eq!(
            (a.jwt.keys[0].kid.as_str(), a.jwt.audience.as_str(), a.jwt.issuer.as_str()),
            ("k1", "other", "librechat")
        );
        assert!(Config::from_yaml("codeapi:\n  auth: off\n", "t").is_err());
        let s = Config::from_yaml("codeapi:\n  sandbox: {pids: 64}\n", "t").unwrap().codeapi.sandbox;
        assert_eq!((s.pids, s.memory, s.kind.as_str()), (64, 1024, "gvisor"));
    }
}
