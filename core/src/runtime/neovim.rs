//! Neovim terminals: a headless Neovim server on this host, listening on a
//! unix socket in the state directory (owner-only), detached from the
//! process that started it (its own session, via `setsid -f`) so that any
//! process can use it later. Neovim is the terminal's agent: commands run
//! as its jobs and the editor operations act on its buffers (see
//! `crate::nvim`).

use super::local::LocalRuntime;
use super::{parse_options, Caps, Ctx, ExecProfile, Runtime};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use crate::nvim::NvimClient;
use crate::state::{Record, State, StateDir};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// How long a freshly started Neovim may take to create its socket.
const START_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeovimOptions {
    /// The shell that runs command strings (default /bin/sh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Working directory; default: a directory of the terminal's own in the state dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Environment for every command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The Neovim program (default: `nvim` on PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvim: Option<String>,
}

/// Runtime facts kept in the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NeovimData {
    socket: String,
    pid: u32,
    workdir: String,
}

pub struct NeovimRuntime;

impl NeovimRuntime {
    fn options(rec: &Record) -> Result<NeovimOptions> {
        parse_options(Kind::Neovim, &rec.options)
    }

    fn workdir(state: &StateDir, rec: &Record, opts: &NeovimOptions) -> PathBuf {
        super::host_workdir::path(state, &rec.name, opts.workdir.as_deref())
    }

    fn data(rec: &Record) -> Option<NeovimData> {
        serde_json::from_value(rec.runtime.clone()).ok()
    }

    fn label(name: &str) -> String {
        format!("terminal {name:?}")
    }

    async fn dial(socket: &Path, name: &str, workdir: &str) -> Result<NvimClient> {
        NvimClient::dial(socket, &Self::label(name), workdir, CONNECT_DEADLINE).await
    }

    /// Starts `nvim --headless --listen SOCKET` in its own session.
    async fn launch(nvim: &str, socket: &Path, workdir: &Path, log: &Path, name: &str) -> Result<()> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io(format!("cannot open {}", log.display()), e))?;
        let log_err = log_file.try_clone().map_err(|e| Error::io("cannot open the Neovim log", e))?;
        // `setsid -f` forks: Neovim is not our child (no zombie when it
        // dies) and leads its own session (no terminal, no signals from ours).
        let out = tokio::process::Command::new("setsid")
            .arg("-f")
            .arg(nvim)
            .args(["--headless", "-n", "-i", "NONE", "-u", "NONE", "--listen"])
            .arg(socket)
            .current_dir(workdir)
            .stdin(std::process::Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .status()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::RuntimeUnavailable,
                    format!("terminal {name:?}: cannot run setsid to start Neovim (util-linux): {e}"),
                )
            })?;
        if !out.success() {
            return Err(Error::new(
                ErrorKind::RuntimeUnavailable,
                format!("terminal {name:?}: starting {nvim} failed ({out}); see {}", log.display()),
            ));
        }
        Ok(())
    }
}

/// The Neovim program to run, if it is on PATH (or given as a path).
fn find_nvim(opts: &NeovimOptions) -> Option<String> {
    let want = opts.nvim.clone().unwrap_or_else(|| "nvim".into());
    if want.contains('/') {
        return Path::new(&want).is_file().then_some(want);
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(&want))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// True when `pid` is alive (not a zombie) and is a Neovim serving `socket`.
fn is_our_nvim(pid: u32, socket: &str) -> bool {
    if pid == 0 {
        return false;
    }
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(true))
        .unwrap_or(false);
    alive
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("nvim") && c.contains(socket)
            })
            .unwrap_or(false)
}

#[async_trait]
impl Runtime for NeovimRuntime {
    fn availability(&self, config: &crate::Config) -> Result<()> {
        self.availability_for(config, &serde_json::Value::Null)
    }

    /// A terminal whose options name an `nvim` program needs that one.
    fn availability_for(&self, _config: &crate::Config, options: &serde_json::Value) -> Result<()> {
        let opts: NeovimOptions = parse_options(Kind::Neovim, options)?;
        match (find_nvim(&opts), opts.nvim) {
            (Some(_), _) => Ok(()),
            (None, Some(named)) => Err(Error::new(
                ErrorKind::RuntimeUnavailable,
                format!("{named} is not installed here; install Neovim 0.7 or later (apt-get install neovim)"),
            )),
            (None, None) => Err(Error::new(
                ErrorKind::RuntimeUnavailable,
                "nvim (Neovim 0.7 or later) is not on PATH; install it with apt-get install neovim \
                 (or name the program with the neovim terminal's `nvim` option)",
            )),
        }
    }

    fn caps(&self) -> Caps {
        Caps::NEOVIM
    }

    fn check_options(&self, options: &serde_json::Value) -> Result<serde_json::Value> {
        let opts: NeovimOptions = parse_options(Kind::Neovim, options)?;
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
        let workdir = Self::workdir(ctx.state, rec, &opts);
        let workdir_s = workdir.display().to_string();
        let socket = LocalRuntime::socket_path(ctx.state, &format!("nvim-{name}"))?;
        let socket_s = socket.display().to_string();
        // A server still running (start is idempotent).
        if let Ok(client) = Self::dial(&socket, &name, &workdir_s).await {
            let pid = client.info().await?.pid;
            rec.runtime =
                serde_json::to_value(NeovimData { socket: socket_s, pid, workdir: workdir_s }).expect("serializes");
            return Ok(client.into());
        }
        // Alive but not answering: replace it.
        if let Some(d) = Self::data(rec) {
            if is_our_nvim(d.pid, &d.socket) {
                tracing::warn!(terminal = %name, pid = d.pid, "replacing an unresponsive Neovim");
                // SAFETY: signalling a process verified to be our Neovim.
                unsafe {
                    libc::kill(d.pid as i32, libc::SIGKILL);
                }
            }
        }
        let nvim = find_nvim(&opts).ok_or_else(|| {
            Error::new(
                ErrorKind::RuntimeUnavailable,
                format!(
                    "terminal {name:?}: {} is not installed here; install Neovim 0.7 or later (apt-get install neovim)",
                    opts.nvim.as_deref().unwrap_or("nvim")
                ),
            )
        })?;
        super::host_workdir::create(ctx.state, &name, opts.workdir.as_deref())?;
        let _ = std::fs::remove_file(&socket);
        let log = ctx.state.subdir("logs")?.join(format!("nvim-{name}.log"));
        Self::launch(&nvim, &socket, &workdir, &log, &name).await?;
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        let client = loop {
            if socket.exists() {
                match Self::dial(&socket, &name, &workdir_s).await {
                    Ok(c) => break c,
                    Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
                    Err(_) => {}
                }
            } else if tokio::time::Instant::now() > deadline {
                let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "terminal {name:?}: Neovim did not open its socket {} within {START_DEADLINE:?}: {}",
                        socket.display(),
                        log_text.trim()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Owner-only, whatever the umask (the run directory is 0700 too).
        let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600));
        let shell = opts.shell.clone().unwrap_or_else(|| "/bin/sh".into());
        let pid = client.info().await?.pid;
        if client.which(std::slice::from_ref(&shell)).await?.first().cloned().flatten().is_none() {
            client.shutdown().await;
            return Err(Error::new(
                ErrorKind::RuntimeUnavailable,
                format!("terminal {name:?}: shell {shell} is not installed on this host; pick another"),
            )
            .with_hint(crate::Hint::SetOption { option: "shell".into(), value: "PATH".into() }));
        }
        rec.runtime =
            serde_json::to_value(NeovimData { socket: socket_s, pid, workdir: workdir_s }).expect("serializes");
        Ok(client.into())
    }

    async fn connect(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<Backend> {
        let opts = Self::options(rec)?;
        let (socket, workdir, pid) = match Self::data(rec) {
            Some(d) => (PathBuf::from(d.socket), d.workdir, d.pid),
            None => (
                LocalRuntime::socket_path(ctx.state, &format!("nvim-{}", rec.name))?,
                Self::workdir(ctx.state, rec, &opts).display().to_string(),
                0,
            ),
        };
        match Self::dial(&socket, &rec.name, &workdir).await {
            Ok(c) => Ok(c.into()),
            Err(e) => {
                let socket_s = socket.display().to_string();
                if pid != 0 && !is_our_nvim(pid, &socket_s) {
                    // Its buffers and jobs died with it: say so, do not hide it.
                    Err(Error::new(
                        ErrorKind::InvalidState,
                        format!(
                            "terminal {:?}: its Neovim (pid {pid}) is gone (killed or crashed; unsaved buffers are lost)",
                            rec.name
                        ),
                    )
                    .with_hint(crate::Hint::RestartNeovim { name: rec.name.clone() }))
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn stop(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        let data = Self::data(rec);
        if let Ok(Backend::Neovim(client)) = self.connect(ctx, rec).await {
            client.shutdown().await;
        }
        if let Some(d) = &data {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while is_our_nvim(d.pid, &d.socket) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if is_our_nvim(d.pid, &d.socket) {
                // SAFETY: signalling a process verified to be our Neovim.
                unsafe {
                    libc::kill(d.pid as i32, libc::SIGKILL);
                }
            }
            let _ = std::fs::remove_file(&d.socket);
        }
        Ok(())
    }

    async fn remove(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<()> {
        let opts = Self::options(rec)?;
        super::host_workdir::remove(ctx.state, &rec.name, opts.workdir.as_deref(), &format!("nvim-{}.log", rec.name))
    }

    fn profile(&self, rec: &Record) -> Result<ExecProfile> {
        let opts = Self::options(rec)?;
        let shell = opts.shell.clone().unwrap_or_else(|| "/bin/sh".into());
        let mut env = opts.env.clone();
        env.insert("KLED_TERMINAL".into(), rec.name.clone());
        Ok(ExecProfile { shell: vec![shell, "-c".into()], env })
    }

    fn restarts_silently(&self) -> bool {
        false
    }

    async fn observe(&self, _ctx: &Ctx<'_>, rec: &Record) -> Option<(State, Option<String>)> {
        let d = Self::data(rec)?;
        if rec.state == State::Running && !is_our_nvim(d.pid, &d.socket) {
            return Some((State::Failed, Some(format!("its Neovim (pid {}) is gone; start it again", d.pid))));
        }
        None
    }
}
