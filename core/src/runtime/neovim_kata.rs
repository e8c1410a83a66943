//! neovim-kata terminals: the same headless Neovim as `neovim`, inside an
//! isolated container (Kata where installed; any isolated OCI runtime the
//! `isolation.kata` engine offers, e.g. gVisor). The container is a
//! neovim-kata container terminal (named `neovim-NAME`, its kled-agent as
//! PID 1); Neovim listens on a unix socket inside it, and kled reaches that
//! socket through the agent's `connect` proxy over the agent's one stream:
//! no published port, no bind-mounted socket.

use super::container::ContainerRuntime;
use super::{Caps, Ctx, ExecProfile, Runtime};
use crate::agent::AgentClient;
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::ExecEvent;
use crate::nvim::NvimClient;
use crate::state::{Record, State};
use async_trait::async_trait;
use kled_protocol::Spawn;
use std::time::Duration;

/// Neovim's socket inside the container (next to the agent).
const NVIM_SOCKET: &str = "/.kled/nvim.sock";
const NVIM_LOG: &str = "/.kled/nvim.log";
const CONNECT_DEADLINE: Duration = Duration::from_secs(20);
const START_DEADLINE: Duration = Duration::from_secs(20);

pub struct NeovimKataRuntime {
    container: ContainerRuntime,
}

impl NeovimKataRuntime {
    fn agent(backend: Backend) -> Result<AgentClient> {
        match backend {
            Backend::Agent(a) => Ok(a),
            Backend::Neovim(_) => Err(Error::agent("expected the container's agent")),
        }
    }

    /// Reaches the Neovim inside through the agent's socket proxy.
    async fn dial(agent: &AgentClient, name: &str) -> Result<NvimClient> {
        let stream = agent.connect_socket(NVIM_SOCKET).await?;
        let workdir = agent.info().await?.cwd;
        let (r, w) = tokio::io::split(stream);
        NvimClient::connect(r, w, &format!("terminal {name:?}"), &workdir, CONNECT_DEADLINE).await
    }

    /// Starts Neovim inside the container in its own session (`setsid -f`),
    /// so that it outlives the spawn that started it.
    async fn launch(agent: &AgentClient, name: &str) -> Result<()> {
        let script = format!(
            "command -v nvim >/dev/null || {{ echo 'nvim is not installed in this image' >&2; exit 127; }}; \
             rm -f {NVIM_SOCKET}; setsid -f nvim --headless -n -i NONE -u NONE --listen {NVIM_SOCKET} \
             </dev/null >>{NVIM_LOG} 2>&1"
        );
        let spawn = Spawn {
            argv: vec!["/bin/sh".into(), "-c".into(), script],
            env: Default::default(),
            cwd: None,
            stdin: false,
            timeout_ms: Some(10_000),
            max_output: 64 * 1024,
            tty: None,
        };
        let mut handle = agent.spawn(spawn, None)?;
        let mut stderr = Vec::new();
        while let Some(ev) = handle.next().await {
            match ev? {
                ExecEvent::Stderr(b) | ExecEvent::Stdout(b) => stderr.extend_from_slice(&b),
                ExecEvent::Exit(st) if st.exit_code == Some(0) => return Ok(()),
                ExecEvent::Exit(st) => {
                    return Err(Error::new(
                        ErrorKind::RuntimeUnavailable,
                        format!(
                            "terminal {name:?}: cannot start Neovim in the container (exit {:?}): {}",
                            st.exit_code,
                            String::from_utf8_lossy(&stderr).trim()
                        ),
                    ))
                }
            }
        }
        Err(Error::agent(format!("terminal {name:?}: starting Neovim ended without an exit status")))
    }
}

#[async_trait]
impl Runtime for NeovimKataRuntime {
    fn availability(&self, config: &crate::Config) -> Result<()> {
        self.container.availability(config)
    }

    fn caps(&self) -> Caps {
        Caps { isolated: true, ..Caps::NEOVIM }
    }

    fn check_options(&self, options: &serde_json::Value) -> Result<serde_json::Value> {
        self.container.check_options(options)
    }

    async fn create(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        self.container.create(ctx, rec).await
    }

    async fn start(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<Backend> {
        let agent = Self::agent(self.container.start(ctx, rec).await?)?;
        // Already serving (start is idempotent).
        if let Ok(c) = Self::dial(&agent, &rec.name).await {
            return Ok(c.into());
        }
        Self::launch(&agent, &rec.name).await?;
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            match Self::dial(&agent, &rec.name).await {
                Ok(c) => return Ok(c.into()),
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(e.context(format!(
                        "terminal {:?}: Neovim did not open {NVIM_SOCKET} in the container (its log is {NVIM_LOG})",
                        rec.name
                    )))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn connect(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<Backend> {
        let agent = Self::agent(self.container.connect(ctx, rec).await?)?;
        Self::dial(&agent, &rec.name).await.map(Backend::from).map_err(|e| {
            Error::new(
                ErrorKind::InvalidState,
                format!("terminal {:?}: its Neovim inside the container is gone ({})", rec.name, e.message()),
            )
            .with_hint(crate::Hint::RestartNeovim { name: rec.name.clone() })
        })
    }

    async fn stop(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        self.container.stop(ctx, rec).await
    }

    async fn remove(&self, ctx: &Ctx<'_>, rec: &Record) -> Result<()> {
        self.container.remove(ctx, rec).await
    }

    fn profile(&self, rec: &Record) -> Result<ExecProfile> {
        self.container.profile(rec)
    }

    fn restarts_silently(&self) -> bool {
        false
    }

    async fn observe(&self, ctx: &Ctx<'_>, rec: &Record) -> Option<(State, Option<String>)> {
        self.container.observe(ctx, rec).await
    }
}

impl NeovimKataRuntime {
    /// Neovim in `container`, a container runtime of neovim-kata's profile.
    pub const fn new(container: ContainerRuntime) -> NeovimKataRuntime {
        NeovimKataRuntime { container }
    }
}

#[cfg(test)]
mod tests {
    use crate::agent::{install_agent, AgentClient};
    use crate::exec::ExecEvent;
    use crate::nvim::NvimClient;
    use kled_protocol::Spawn;
    use std::time::Duration;

    /// The agent's socket proxy end to end, without a sandbox: a real
    /// kled-agent on pipes, a real Neovim on a unix socket, and Neovim's
    /// msgpack-RPC carried over the agent's stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_neovim_is_reached_through_the_agent_socket_proxy() {
        let on_path = std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .any(|d| std::path::Path::new(d).join("nvim").is_file());
        if !on_path {
            assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "nvim is required");
            eprintln!("SKIPPED: nvim is not installed");
            return;
        }
        let dir = tempfile::Builder::new().prefix("kled-proxy-").tempdir_in("/tmp").unwrap();
        let agent = install_agent(dir.path()).unwrap();
        let mut child = tokio::process::Command::new(&agent)
            .arg("--stdio")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let client = AgentClient::connect(
            child.stdout.take().unwrap(),
            child.stdin.take().unwrap(),
            "proxy test",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        // A refused connect is a clear error.
        let missing = dir.path().join("none.sock").display().to_string();
        let e = client.connect_socket(&missing).await.unwrap_err();
        assert!(e.message().contains("none.sock"), "{e}");

        let socket = dir.path().join("nvim.sock");
        let mut nvim = tokio::process::Command::new("nvim")
            .args(["--headless", "-n", "-i", "NONE", "-u", "NONE", "--listen"])
            .arg(&socket)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // The socket file appears at bind(), a moment before nvim listens
        // (a connect in between is refused): retry until it answers.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match client.connect_socket(&socket.display().to_string()).await {
                Ok(s) => break s,
                Err(e) => assert!(std::time::Instant::now() < deadline, "nvim did not listen: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let (r, w) = tokio::io::split(stream);
        let workdir = dir.path().display().to_string();
        let nv = NvimClient::connect(r, w, "proxied", &workdir, Duration::from_secs(10)).await.unwrap();
        let spawn = Spawn {
            argv: vec!["/bin/sh".into(), "-c".into(), "head -c 3000000 /dev/zero; echo err >&2; exit 4".into()],
            env: Default::default(),
            cwd: None,
            stdin: false,
            timeout_ms: None,
            max_output: 1 << 30,
            tty: None,
        };
        let mut p = nv.spawn(spawn, None, "test").await.unwrap();
        let (mut out, mut err, mut code) = (0usize, Vec::new(), None);
        while let Some(ev) = p.next().await {
            match ev.unwrap() {
                ExecEvent::Stdout(b) => out += b.len(),
                ExecEvent::Stderr(b) => err.extend_from_slice(&b),
                ExecEvent::Exit(st) => code = st.exit_code,
            }
        }
        assert_eq!((out, err.as_slice(), code), (3_000_000, &b"err\n"[..], Some(4)));
        nv.write_file("p.txt", b"through the proxy", None, true).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("p.txt")).unwrap(), b"through the proxy");
        let _ = nvim.kill().await;
    }
}
