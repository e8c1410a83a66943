//! Finding and talking to a Docker-compatible container engine (Docker, or
//! Podman's compatible service) through bollard.

use crate::error::{Error, ErrorKind, Result};
use bollard::Docker;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

const START_VERSION: bollard::ClientVersion = bollard::ClientVersion { major_version: 1, minor_version: 41 };

/// Seconds bollard waits for an answer to one API call.
const API_TIMEOUT: u64 = 120;

/// The environment variables consulted, in order, before the usual sockets.
pub const HOST_VARIABLES: [&str; 3] = ["KLED_CONTAINER_HOST", "CONTAINER_HOST", "DOCKER_HOST"];

/// The usual engine sockets, in the order they are tried.
pub fn default_sockets() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("/run/podman/podman.sock"), PathBuf::from("/var/run/docker.sock")];
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(dir).join("podman/podman.sock"));
    }
    v
}

/// The engine endpoint to use: `explicit` (from config), else the first of
/// the environment variables, else the first usual socket that exists.
pub fn discover(explicit: Option<&str>) -> Result<String> {
    if let Some(e) = explicit.filter(|e| !e.is_empty()) {
        return Ok(e.to_string());
    }
    for var in HOST_VARIABLES {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return Ok(v);
        }
    }
    let sockets = default_sockets();
    if let Some(s) = sockets.iter().find(|s| s.exists()) {
        return Ok(format!("unix://{}", s.display()));
    }
    let tried: Vec<String> = sockets.iter().map(|s| s.display().to_string()).collect();
    Err(Error::new(
        ErrorKind::RuntimeUnavailable,
        format!(
            "no container engine found: {} are unset and none of {} exists. Start one with \
             `podman system service --time=0 unix:///run/podman/podman.sock &` (or `scripts/engine.sh` in the kled \
             source tree), or point KLED_CONTAINER_HOST at a Docker-compatible socket",
            HOST_VARIABLES.join(", "),
            tried.join(", ")
        ),
    ))
}

/// Fails when `endpoint` is a unix socket that is missing or this user may
/// not use: an engine
/// socket is often root's alone, and connecting would only say "is the
/// service running?".
pub fn check_access(endpoint: &str) -> Result<()> {
    let Some(path) = endpoint.strip_prefix("unix://").or_else(|| endpoint.starts_with('/').then_some(endpoint)) else {
        return Ok(());
    };
    let c = std::ffi::CString::new(path)
        .map_err(|_| Error::new(ErrorKind::Config, format!("engine socket path {path:?} contains a NUL byte")))?;
    // SAFETY: access(2) on a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Err(Error::new(
            ErrorKind::RuntimeUnavailable,
            format!(
                "permission denied on {path}: this user may not use that container engine. Ask its administrator \
                 for access (the socket's group), or run a rootless engine of your own and point \
                 KLED_CONTAINER_HOST at it"
            ),
        )),
        // A configured engine that is not there: say so now, where
        // `providers` and create can both tell, not at the first connect.
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Err(Error::new(
            ErrorKind::RuntimeUnavailable,
            format!(
                "no container engine at {path} (the socket does not exist): start it (`podman system service \
                 --time=0 unix://{path} &`, or `scripts/engine.sh` in the kled source tree), or point the kled \
                 config at an engine that runs"
            ),
        )),
        _ => Ok(()),
    }
}

static CLIENTS: Mutex<Option<HashMap<(u32, String), Docker>>> = Mutex::new(None);

/// A client for `endpoint`, with the API version negotiated once per
/// process (Podman 4.3 speaks 1.41; bollard defaults to newer).
pub async fn connect(endpoint: &str) -> Result<Docker> {
    let key = (std::process::id(), endpoint.to_string());
    if let Some(d) = CLIENTS.lock().unwrap().get_or_insert_with(HashMap::new).get(&key) {
        return Ok(d.clone());
    }
    let unreachable = |e: String| {
        Error::new(
            ErrorKind::RuntimeUnavailable,
            format!("container engine at {endpoint} does not answer: {e}. Is the service running?"),
        )
    };
    let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
        Docker::connect_with_unix(path, API_TIMEOUT, &START_VERSION)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, API_TIMEOUT, &START_VERSION)
    } else if endpoint.starts_with('/') {
        Docker::connect_with_unix(endpoint, API_TIMEOUT, &START_VERSION)
    } else {
        return Err(Error::new(
            ErrorKind::Config,
            format!("unsupported container engine address {endpoint:?}: use unix:///path or tcp://host:port"),
        ));
    }
    .map_err(|e| unreachable(e.to_string()))?;
    // Negotiating costs a /version call, which Podman answers in ~400 ms.
    // Instead start at 1.41 (Podman 4.3's compat level; Docker 20.10+), and
    // negotiate only when a cheap probe says the engine wants newer.
    let docker = match docker.inspect_container("kled-api-version-probe", None).await {
        Ok(_) => docker,
        Err(e) if status_of(&e) == Some(404) => docker,
        Err(e) if status_of(&e).is_some() => {
            tracing::debug!(%endpoint, "API 1.41 refused ({e}); negotiating");
            docker.negotiate_version().await.map_err(|e| unreachable(e.to_string()))?
        }
        Err(e) => return Err(unreachable(e.to_string())),
    };
    CLIENTS.lock().unwrap().get_or_insert_with(HashMap::new).insert(key, docker.clone());
    Ok(docker)
}

/// The engine's own words for a failed call, with what was being done.
pub fn engine_error(doing: &str, e: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError { status_code, message } => {
            let kind = match status_code {
                404 => ErrorKind::NotFound,
                409 => ErrorKind::AlreadyExists,
                400 => ErrorKind::InvalidArgument,
                _ => ErrorKind::Agent,
            };
            Error::new(kind, format!("{doing}: the engine said ({status_code}): {}", message.trim()))
        }
        // Anything but an answer: the engine is down or unreachable.
        other => Error::new(
            ErrorKind::RuntimeUnavailable,
            format!("{doing}: the container engine does not answer ({other}); is its service running?"),
        ),
    }
}

/// The status code of an engine error, if it is one.
pub fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}
