//! Local terminals: a kled-agent daemon on this host, listening on a unix
//! socket in the state directory. The daemon outlives the process that
//! started it, so any process (CLI, Python, C) can exec in the terminal, and
//! `stop` ends everything that ran in it.

use super::{orphans, parse_options, Caps, Ctx, ExecProfile, Runtime};
use crate::agent::{install_agent, AgentClient};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use crate::state::{Record, StateDir};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// Longest unix socket path (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    #[default]
    Linux,
    #[serde(alias = "macos", alias = "darwin")]
    Mac,
    Windows,
}

impl Os {
    fn default_shell(self) -> &'static str {
        match self {
            Os::Linux => "/bin/sh",
            Os::Mac => "/bin/zsh",
            Os::Windows => "powershell.exe",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalOptions {
    /// Picks the default shell: linux /bin/sh, mac /bin/zsh, windows powershell.exe.
    #[serde(default)]
    pub os: Os,
    /// A shell to use instead of the os default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Working directory; default: a directory of the terminal's own in the state dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Environment for every command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// Runtime facts kept in the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LocalData {
    socket: String,
    pid: u32,
    workdir: String,
    /// Random, new at each start, in every command's environment as
    /// `KLED_TERMINAL_ID`: how commands of a dead agent are found, even
    /// those that left its session (PTY commands, `setsid`). Records from
    /// before it have none; their commands are found by session only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

/// The environment variable that carries [`LocalData::id`].
const ID_VAR: &str = "KLED_TERMINAL_ID";

/// Ends the commands a dead (or just killed) agent left running; how many.
fn end_orphans(d: &LocalData, name: &str) -> usize {
    let by_session = orphans::kill_session(d.pid, &format!("KLED_TERMINAL={name}"));
    let by_id = d.id.as_ref().map_or(0, |id| orphans::kill_marked(&format!("{ID_VAR}={id}")));
    by_session + by_id
}

pub struct LocalRuntime;

impl LocalRuntime {
    fn options(rec: &Record) -> Result<LocalOptions> {
        parse_options(Kind::Local, &rec.options)
    }

    pub(super) fn socket_path(state: &StateDir, name: &str) -> Result<PathBuf> {
        let p = state.subdir("run")?.join(format!("{name}.sock"));
        if p.as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(p);
        }
        // A deep state dir: a short private directory of our own instead,
        // under $XDG_RUNTIME_DIR (made by the system for this user alone)
        // when there is one, else under /tmp. Either is verified on every use
        // (crate::private_dir): /tmp is writable by everyone, and a directory
        // someone else made there would let them intercept the socket.
        let uid = unsafe { libc::geteuid() };
        let leaf = format!("kled-{uid}-{:016x}", state.root_hash());
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| d.is_absolute());
        let base = runtime_dir
            .filter(|d| d.join(&leaf).join(format!("{name}.sock")).as_os_str().len() <= MAX_SOCKET_PATH)
            .filter(|d| crate::private_dir::verify(d).is_ok())
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(leaf);
        crate::private_dir::ensure(&dir)?;
        Ok(dir.join(format!("{name}.sock")))
    }

    async fn dial(socket: &Path, name: &str) -> Result<AgentClient> {
        // The socket's directory must still be ours alone (checked on every
        // use), and the process behind the socket must run as us.
        if let Some(dir) = socket.parent() {
            crate::private_dir::verify(dir)?;
        }
        let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
            Error::agent(format!("terminal {name:?}: cannot reach its agent at {}: {e}", socket.display()))
        })?;
        let me = unsafe { libc::geteuid() };
        match stream.peer_cred() {
            Ok(c) if c.uid() == me => {}
            Ok(c) => {
                return Err(Error::agent(format!(
                    "terminal {name:?}: the process behind {} runs as uid {}, not as you (uid {me}); refusing to talk to it",
                    socket.display(),
                    c.uid()
                )))
            }
            Err(e) => return Err(Error::io(format!("cannot check who serves {}", socket.display()), e)),
        }
        let (r, w) = stream.into_split();
        AgentClient::connect(r, w, &format!("terminal {name:?}"), CONNECT_DEADLINE).await
    }

    fn data(rec: &Record) -> Option<LocalData> {
        serde_json::from_value(rec.runtime.clone()).ok()
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    fn caps(&self) -> Caps {
        Caps::AGENT
    }

    fn check_options(&self, options: &serde_json::Value) -> Result<serde_json::Value> {
        let opts: LocalOptions = parse_options(Kind::Local, options)?;
        super::check_workdir_and_env(opts.workdir.as_deref(), &opts.env)?;
        Ok(serde_json::to_value(opts).expect("options serialize"))
    }

    async fn create(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        let opts = Self::options(rec)?;
        super::host_workdir::create(ctx.state, &rec.name, opts.workdir.as_deref()).map(|_| ())
    }

    async fn start(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<Backend> {
        let opts = Self::options(rec)?;
        let name = rec.name.clone();
        let socket = Self::socket_path(ctx.state, &name)?;
        // An agent that answers here although the terminal is not running
        // (Terminal::start adopts a live agent of a running terminal before
        // it gets here) belongs to an earlier life of this name: a start
        // killed midway, or a terminal removed while its agent ran on. Its
        // working directory may be gone, so it is shut down, not adopted.
        if let Ok(client) = Self::dial(&socket, &name).await {
            tracing::warn!(terminal = %name, "shutting down a leftover agent on {}", socket.display());
            shutdown(&client).await;
        }
        // An agent that is alive but unusable (hung, or from an incompatible
        // kled version) would keep the socket: replace it.
        if let Some(d) = Self::data(rec) {
            if is_our_agent(d.pid) {
                tracing::warn!(terminal = %name, pid = d.pid, "replacing an unresponsive agent");
                // SAFETY: signalling a process verified to be a kled-agent.
                unsafe {
                    libc::kill(d.pid as i32, libc::SIGKILL);
                }
            }
            end_orphans(&d, &name);
        }
        // A user's workdir may have been deleted since create.
        let workdir = super::host_workdir::create(ctx.state, &rec.name, opts.workdir.as_deref())?;
        let agent = install_agent(&ctx.state.subdir("bin")?)?;
        let log = ctx.state.subdir("logs")?.join(format!("{name}.log"));
        let mut attempts = 0;
        let out = loop {
            let run = tokio::process::Command::new(&agent)
                .arg("--listen")
                .arg(&socket)
                .arg("--daemon")
                .arg("--log")
                .arg(&log)
                .current_dir(&workdir)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .await;
            match run {
                // ETXTBSY: a just-installed agent is still open for writing
                // in a child that another thread forked before it could exec
                // (the fd is CLOEXEC, but only at exec). It passes at once.
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => {
                    break other.map_err(|e| Error::io(format!("cannot start the agent {}", agent.display()), e))?
                }
            }
        };
        if !out.status.success() {
            return Err(Error::agent(format!(
                "terminal {name:?}: the agent failed to start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let client = Self::dial(&socket, &name).await?;
        let shell = opts.shell.clone().unwrap_or_else(|| opts.os.default_shell().to_string());
        let found = client.which(std::slice::from_ref(&shell)).await?.into_iter().next().flatten();
        if found.is_none() {
            let _ = client.shutdown().await;
            let why = if opts.shell.is_some() {
                "the shell option".to_string()
            } else {
                format!("os={:?}", opts.os).to_lowercase()
            };
            return Err(Error::new(
                ErrorKind::RuntimeUnavailable,
                format!("terminal {name:?}: shell {shell} ({why}) is not installed on this host; install it, or pick another"),
            )
            .with_hint(crate::Hint::SetOption { option: "shell".into(), value: "PATH".into() }));
        }
        rec.runtime = serde_json::to_value(LocalData {
            socket: socket.display().to_string(),
            pid: client.agent().pid.unwrap_or(0),
            workdir: workdir.display().to_string(),
            id: Some(format!("{:016x}", fastrand::u64(..))),
        })
        .expect("serializes");
        Ok(client.into())
    }

    async fn connect(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<Backend> {
        let socket = match Self::data(rec) {
            Some(d) => PathBuf::from(d.socket),
            None => Self::socket_path(ctx.state, &rec.name)?,
        };
        Self::dial(&socket, &rec.name).await.map(Backend::from)
    }

    async fn stop(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        let data = Self::data(rec);
        match self.connect(ctx, rec).await {
            // The agent replies, then kills what runs and exits.
            Ok(Backend::Agent(client)) => shutdown(&client).await,
            _ => {
                // Unreachable agent: make sure it is not left running.
                if let Some(d) = &data {
                    if is_our_agent(d.pid) {
                        unsafe {
                            libc::kill(d.pid as i32, libc::SIGKILL);
                        }
                    }
                }
            }
        }
        // Commands of an agent that died (or was just killed) were re-parented
        // to PID 1 and would run on: end them too.
        if let Some(d) = &data {
            let n = end_orphans(d, &rec.name);
            if n > 0 {
                tracing::warn!(terminal = %rec.name, killed = n, "ended commands left by a dead agent");
            }
            let _ = std::fs::remove_file(&d.socket);
        }
        Ok(())
    }

    async fn remove(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<()> {
        let opts = Self::options(rec)?;
        super::host_workdir::remove(ctx.state, &rec.name, opts.workdir.as_deref(), &format!("{}.log", rec.name))
    }

    fn profile(&self, rec: &Record) -> Result<ExecProfile> {
        let opts = Self::options(rec)?;
        let shell = opts.shell.clone().unwrap_or_else(|| opts.os.default_shell().to_string());
        let prefix = match opts.os {
            Os::Windows => vec![shell, "-NoProfile".into(), "-NonInteractive".into(), "-Command".into()],
            _ => vec![shell, "-c".into()],
        };
        let mut env = opts.env.clone();
        env.insert("KLED_TERMINAL".into(), rec.name.clone());
        if let Some(id) = Self::data(rec).and_then(|d| d.id) {
            env.insert(ID_VAR.into(), id);
        }
        Ok(ExecProfile { shell: prefix, env })
    }
}

/// Asks an agent to end everything it runs and exit, and waits (up to 5 s)
/// until it has closed the connection.
async fn shutdown(client: &AgentClient) {
    let _ = client.shutdown().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !client.is_closed() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// True when `pid` is alive and is a kled-agent (not a recycled pid).
fn is_our_agent(pid: u32) -> bool {
    pid > 0
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("kled-agent"))
            .unwrap_or(false)
}
