//! Container terminals (kinds container, gvisor, kata): one container per
//! terminal on a Docker-compatible engine, reached through bollard.
//!
//! The container's PID 1 is the kled-agent in `--init` mode (it reaps
//! orphans and exits on SIGTERM), copied in with the archive API before the
//! first start, so any image works, even one without a shell. Each process
//! that uses the terminal opens one attached exec of `kled-agent --stdio`;
//! every command after that goes over that one stream, never through a new
//! engine exec.

use super::isolation;
use super::profile::ContainerProfile;
use super::{parse_options, Caps, Ctx, ExecProfile, Runtime};
use crate::agent::{agent_bytes, AgentClient};
use crate::backend::Backend;
use crate::engine::{self, engine_error, status_of};
use crate::error::{Error, ErrorKind, Result};
use crate::kind::Kind;
use crate::state::{Record, State};
use async_trait::async_trait;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Where the agent lives inside every container.
pub const AGENT_DIR: &str = "/.kled";
pub const AGENT_PATH: &str = "/.kled/kled-agent";
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// Seconds `stop` gives the container before the engine kills it (the
/// agent init exits on SIGTERM at once).
const STOP_GRACE: i32 = 5;
/// The largest memory limit taken, in MiB (16 TiB): more is a typo, and
/// past ~8.8e12 MiB the engine's byte count overflows.
const MAX_MEMORY_MIB: u64 = 16 << 20;
/// The pids limit of a container whose options name none.
pub const DEFAULT_PIDS_LIMIT: u32 = 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerOptions {
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Most processes (and threads) the container may hold at once; default
    /// [`DEFAULT_PIDS_LIMIT`]. Every container gets a limit: a fork bomb in a
    /// sandbox without one filled the host's pid table (ENGINE-NOTES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `HOST:CONTAINER[:ro]` binds or `VOLUME:CONTAINER` named volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Network mode; default: the engine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Shell for command strings; default /bin/sh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Kata only: configuration file for this sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kata_config_path: Option<String>,
    /// Isolated kinds: verbose runtime logs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub debug: bool,
}

/// Where the agent's socket directory is mounted inside the container.
const RUN_DIR_IN_CONTAINER: &str = "/.kled/run";
const SOCKET_IN_CONTAINER: &str = "/.kled/run/agent.sock";

/// Runtime facts kept in the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContainerData {
    id: String,
    container: String,
    engine: String,
    /// Host path of the agent's unix socket, when the container has one
    /// (plain containers on a local engine). The engine's attach stream
    /// carries ~65-100 MB/s on Podman 4.3; a direct socket carries what the
    /// host can, and needs no engine exec per process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    socket: Option<String>,
}

pub struct ContainerRuntime {
    profile: ContainerProfile,
}

/// Whether the engine refused a create because the name is taken.
fn name_in_use(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 409, .. } => true,
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.contains("already in use"),
        _ => false,
    }
}

/// The engine name of a terminal's container: `PREFIX-HOME-NAME`, where
/// PREFIX is the profile's (`kled`; neovim-kata: `neovim`, named for what it
/// holds) and HOME is 8 hex digits of a hash of the state dir. Two state dirs
/// on one engine (two users, two applications) may both have a terminal
/// `c1`; their containers must not collide.
fn container_name(prefix: &str, home_hash: u64, name: &str) -> String {
    format!("{prefix}-{:08x}-{name}", (home_hash >> 32) as u32)
}

impl ContainerRuntime {
    pub const fn new(profile: ContainerProfile) -> ContainerRuntime {
        ContainerRuntime { profile }
    }

    fn kind(&self) -> Kind {
        self.profile.kind
    }

    /// Removes `container` if it was made by kled for the state dir `home`
    /// (its `io.kled.home` label says so); anything else is left alone and
    /// reported by the create that follows.
    async fn remove_leftover(&self, docker: &bollard::Docker, container: &str, home: &std::path::Path) -> Result<()> {
        let Ok(found) = docker.inspect_container(container, None).await else { return Ok(()) };
        let labels = found.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get("io.kled.home").map(String::as_str) != Some(&*home.display().to_string()) {
            return Ok(());
        }
        tracing::warn!(container, "removing a leftover container of this state dir that no terminal record owns");
        let rm = RemoveContainerOptionsBuilder::default().force(true).build();
        match docker.remove_container(container, Some(rm)).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine_error(&format!("removing leftover container {container}"), e)),
        }
    }

    fn options(&self, rec: &Record) -> Result<ContainerOptions> {
        parse_options(self.kind(), &rec.options)
    }

    fn data(rec: &Record) -> Result<ContainerData> {
        serde_json::from_value(rec.runtime.clone()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidState,
                format!(
                    "terminal {:?} has no container (its creation did not finish); remove it and create it again",
                    rec.name
                ),
            )
        })
    }

    /// An isolated kind on an engine that does not offer its OCI runtime is
    /// refused up front, with what the engine does offer.
    async fn check_runtime_offered(&self, docker: &Docker, endpoint: &str, runtime: &str) -> Result<()> {
        let info = docker.info().await.map_err(|e| engine_error("asking the engine what it offers", e))?;
        let runtimes = info.runtimes.unwrap_or_default();
        let default = info.default_runtime.unwrap_or_default();
        let mut offered: Vec<String> = runtimes.keys().cloned().collect();
        offered.sort();
        if let Some(r) = runtimes.get(runtime) {
            // Podman lists every runtime its defaults know of, installed or
            // not; on a local engine the binary can be checked.
            let missing = r
                .path
                .as_deref()
                .filter(|p| endpoint.starts_with("unix://") && p.starts_with('/') && !std::path::Path::new(p).exists());
            match missing {
                None => return Ok(()),
                Some(p) => {
                    return Err(Error::new(
                        ErrorKind::RuntimeUnavailable,
                        format!(
                            "{runtime} runtime not available on this engine: {endpoint} registers it as {p}, which is not installed. Install it, or point `isolation.{}.engine` in the kled config at an engine that has it",
                            self.profile.isolation.key()
                        ),
                    ))
                }
            }
        }
        if default == runtime {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::RuntimeUnavailable,
            format!(
                "{runtime} runtime not available on this engine ({endpoint} offers: {}); install it and register it \
                 with the engine as {runtime:?}, or point `isolation.{}.engine` in the kled config at an engine that has it",
                if offered.is_empty() { "nothing it will name".to_string() } else { offered.join(", ") },
                self.profile.isolation.key()
            ),
        ))
    }

    async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
        match docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(engine_error(&format!("inspecting image {image}"), e)),
        }
        let opts = CreateImageOptionsBuilder::default().from_image(image).build();
        let mut pull = docker.create_image(Some(opts), None, None);
        while let Some(step) = pull.next().await {
            if let Err(e) = step {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "image {image} is not on the engine and pulling it failed: {}",
                        engine_error("pull", e).message()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A tar holding the agent at AGENT_PATH.
    fn agent_tar() -> Result<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        dir.set_cksum();
        let io = |e: std::io::Error| Error::io("packing the agent", e);
        b.append_data(&mut dir, AGENT_DIR.trim_start_matches('/'), std::io::empty()).map_err(io)?;
        let bytes = agent_bytes();
        let mut file = tar::Header::new_gnu();
        file.set_mode(0o755);
        file.set_size(bytes.len() as u64);
        file.set_cksum();
        b.append_data(&mut file, AGENT_PATH.trim_start_matches('/'), bytes).map_err(io)?;
        b.into_inner().map_err(io)
    }

    /// Copies the agent in with the archive API: the way that works on any
    /// engine, remote ones included, and exposes no host path to a sandbox.
    async fn upload_agent(&self, docker: &Docker, id: &str, container: &str) -> Result<()> {
        let tar = Self::agent_tar()?;
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        if let Err(e) = docker.upload_to_container(id, Some(opts), bollard::body_full(tar.into())).await {
            let _ =
                docker.remove_container(id, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
            return Err(engine_error(&format!("copying the agent into container {container}"), e));
        }
        Ok(())
    }

    /// A connection to the agent: its socket when it has one, else an
    /// attached exec. `wait` gives a just-started container's listener time
    /// to come up.
    async fn reach(docker: &Docker, data: &ContainerData, name: &str, wait: Duration) -> Result<AgentClient> {
        if let Some(sock) = &data.socket {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match tokio::net::UnixStream::connect(sock).await {
                    Ok(stream) => {
                        let (r, w) = stream.into_split();
                        match AgentClient::connect(r, w, &format!("terminal {name:?}"), Duration::from_secs(5)).await {
                            Ok(c) => return Ok(c),
                            Err(e) => {
                                tracing::debug!(
                                    terminal = name,
                                    "agent socket handshake failed ({e}); attaching instead"
                                );
                                break;
                            }
                        }
                    }
                    Err(_) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => {
                        tracing::debug!(terminal = name, "agent socket {sock}: {e}; attaching instead");
                        break;
                    }
                }
            }
        }
        Self::attach(docker, data, name).await
    }

    /// One attached exec of the agent: the stream every request then uses.
    async fn attach(docker: &Docker, data: &ContainerData, name: &str) -> Result<AgentClient> {
        let exec = docker
            .create_exec(
                &data.id,
                CreateExecOptions {
                    cmd: Some(vec![AGENT_PATH, "--stdio"]),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                engine_error(&format!("terminal {name:?}: starting the agent in container {}", data.container), e)
            })?;
        let started = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| engine_error(&format!("terminal {name:?}: attaching to the agent"), e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(Error::agent(format!("terminal {name:?}: the engine did not attach to the agent")));
        };
        let label = name.to_string();
        // The agent speaks on stdout; its stderr carries only diagnostics.
        let stdout = output.filter_map(move |item| {
            let label = label.clone();
            async move {
                match item {
                    Ok(bollard::container::LogOutput::StdOut { message }) => Some(Ok(message)),
                    Ok(bollard::container::LogOutput::StdErr { message }) => {
                        tracing::debug!(terminal = %label, "agent: {}", String::from_utf8_lossy(&message).trim_end());
                        None
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(std::io::Error::other(e))),
                }
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(stdout));
        AgentClient::connect(reader, input, &format!("terminal {name:?}"), CONNECT_DEADLINE).await
    }
}

#[async_trait]
impl Runtime for ContainerRuntime {
    fn availability(&self, config: &crate::Config) -> Result<()> {
        self.profile.placement(config).map(|_| ())
    }

    fn caps(&self) -> Caps {
        Caps { isolated: self.profile.isolation.is_isolated(), ..Caps::AGENT }
    }

    fn check_options(&self, options: &serde_json::Value) -> Result<serde_json::Value> {
        let opts: ContainerOptions = parse_options(self.kind(), options)?;
        let Some(image) = opts.image.as_deref().filter(|i| !i.trim().is_empty()) else {
            return Err(Error::invalid(format!(
                "a {} terminal needs an image, e.g. localhost/kled-debian",
                self.kind()
            ))
            .with_hint(crate::Hint::SetOption { option: "image".into(), value: "IMAGE".into() }));
        };
        if image.chars().any(char::is_whitespace) {
            return Err(Error::invalid(format!("invalid image name {image:?}")));
        }
        if opts.cpus.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(Error::invalid("cpus must be a positive number"));
        }
        if opts.memory.is_some_and(|m| m == 0 || m > MAX_MEMORY_MIB) {
            return Err(Error::invalid(format!("memory must be a positive number of MiB up to {MAX_MEMORY_MIB}")));
        }
        if opts.pids == Some(0) {
            return Err(Error::invalid("pids must be a positive number of processes"));
        }
        if !self.profile.isolation.is_isolated() && (opts.kata_config_path.is_some() || opts.debug) {
            return Err(Error::invalid("kata_config_path and debug apply to isolated kinds (gvisor, kata) only"));
        }
        super::check_workdir_and_env(None, &opts.env)?;
        if let Some(v) = opts.volumes.iter().find(|v| v.split(':').count() < 2) {
            return Err(Error::invalid(format!("volume {v:?} must be SOURCE:TARGET[:OPTIONS]")));
        }
        Ok(serde_json::to_value(opts).expect("options serialize"))
    }

    async fn create(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        let t0 = std::time::Instant::now();
        let opts = self.options(rec)?;
        let image = opts.image.clone().unwrap_or_default();
        let isolation = self.profile.isolation;
        let super::profile::Placement { endpoint, dedicated } = self.profile.placement(ctx.config)?;
        let docker = engine::connect(&endpoint).await?;
        let oci_runtime = isolation.oci_runtime(ctx.config);
        if let Some(r) = &oci_runtime {
            // A dedicated engine may run it as its default without naming it.
            if !dedicated {
                self.check_runtime_offered(&docker, &endpoint, r).await?;
            }
        }
        Self::ensure_image(&docker, &image).await?;
        tracing::debug!(terminal = %rec.name, ms = t0.elapsed().as_millis() as u64, "engine ready, image present");

        let mut labels: HashMap<String, String> = opts.labels.clone().into_iter().collect();
        labels.insert("io.kled.terminal".into(), rec.name.clone());
        labels.insert("io.kled.kind".into(), self.kind().to_string());
        labels.insert("io.kled.created-by".into(), format!("kled/{}", crate::VERSION));
        labels.insert("io.kled.home".into(), ctx.state.root().display().to_string());
        let annotations = isolation.annotations(opts.cpus, opts.memory, opts.kata_config_path.as_deref(), opts.debug);
        // The direct-socket fast path: only for unisolated containers (an
        // isolated sandbox gets no host directory) on an engine on this host.
        let run_dir = if !isolation.is_isolated() && endpoint.starts_with("unix://") {
            let dir = ctx.state.subdir("run")?.join("c").join(&rec.name);
            let sock = dir.join("agent.sock");
            (sock.as_os_str().len() <= 107).then_some((dir, sock))
        } else {
            None
        };
        let mut binds = opts.volumes.clone();
        let mut entrypoint = vec![AGENT_PATH.to_string(), "--init".to_string()];
        if let Some((dir, _)) = &run_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            // The container's user may not be the host's: the directory
            // itself is protected by the state dir's 0700.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
            binds.push(format!("{}:{RUN_DIR_IN_CONTAINER}", dir.display()));
            // The agent itself, read-only from the host: no archive upload,
            // which costs ~100 ms of engine time per container in a bulk.
            let agent = crate::agent::install_agent(&ctx.state.subdir("bin")?)?;
            binds.push(format!("{}:{AGENT_PATH}:ro", agent.display()));
            entrypoint.extend(["--listen".to_string(), SOCKET_IN_CONTAINER.to_string()]);
            // Only we (and root) may use that socket, whichever user the
            // container runs as.
            entrypoint.extend(["--allow-uid".to_string(), unsafe { libc::geteuid() }.to_string()]);
        }
        let host = HostConfig {
            nano_cpus: opts.cpus.map(|c| (c * 1e9) as i64),
            memory: opts.memory.map(|m| (m * 1024 * 1024) as i64),
            pids_limit: Some(i64::from(opts.pids.unwrap_or(DEFAULT_PIDS_LIMIT))),
            binds: (!binds.is_empty()).then_some(binds),
            network_mode: opts.network.clone(),
            runtime: oci_runtime.clone(),
            annotations,
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            entrypoint: Some(entrypoint),
            cmd: Some(vec![]),
            env: Some(opts.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            working_dir: opts.workdir.clone(),
            user: opts.user.clone(),
            host_config: Some(host),
            ..Default::default()
        };
        let container = container_name(self.profile.name_prefix, ctx.state.root_hash(), &rec.name);
        let create = || {
            docker
                .create_container(Some(CreateContainerOptionsBuilder::default().name(&container).build()), body.clone())
        };
        let created = match create().await {
            // Docker says 409; Podman 4.3 says 500 "... is already in use".
            Err(e) if name_in_use(&e) => {
                // A container of this name and state dir that no record owns
                // (this create holds the name's record, so nothing else can):
                // a leftover of a run that died. Remove it and try once more.
                self.remove_leftover(&docker, &container, ctx.state.root()).await?;
                create().await
            }
            other => other,
        }
        .map_err(|e| {
            let in_use = name_in_use(&e);
            let err = engine_error(&format!("creating container {container}"), e);
            if in_use {
                Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{}; a container of that name exists already and was not made by kled for this state dir: remove it with `podman rm -f {container}` or pick another name", err.message()),
                )
            } else {
                err
            }
        })?;
        tracing::debug!(terminal = %rec.name, ms = t0.elapsed().as_millis() as u64, "container created");
        let data = ContainerData {
            id: created.id.clone(),
            container: container.clone(),
            engine: endpoint,
            socket: run_dir.map(|(_, sock)| sock.display().to_string()),
        };
        if data.socket.is_none() {
            self.upload_agent(&docker, &created.id, &container).await?;
        }
        tracing::debug!(terminal = %rec.name, ms = t0.elapsed().as_millis() as u64, "agent in place");
        rec.runtime = serde_json::to_value(data).expect("serializes");
        Ok(())
    }

    async fn start(&self, ctx: &Ctx<'_>, rec: &mut Record) -> Result<Backend> {
        let t0 = std::time::Instant::now();
        let data = Self::data(rec)?;
        let docker = engine::connect(&data.engine).await?;
        let running = match docker.inspect_container(&data.id, None).await {
            Ok(c) => c.state.and_then(|s| s.running).unwrap_or(false),
            Err(e) if status_of(&e) == Some(404) => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "container {} of terminal {:?} no longer exists (removed outside kled)",
                        data.container, rec.name
                    ),
                )
                .with_hint(crate::Hint::RemoveTerminal { name: rec.name.clone() }))
            }
            Err(e) => return Err(engine_error(&format!("inspecting container {}", data.container), e)),
        };
        if !running {
            if let Err(e) = docker.start_container(&data.id, None).await {
                if status_of(&e) != Some(304) {
                    return Err(engine_error(&format!("starting container {}", data.container), e));
                }
            }
        }
        tracing::debug!(terminal = %rec.name, ms = t0.elapsed().as_millis() as u64, "container running");
        let client = Self::reach(&docker, &data, &rec.name, Duration::from_secs(3)).await?;
        tracing::debug!(terminal = %rec.name, ms = t0.elapsed().as_millis() as u64, "agent attached");
        if self.profile.isolation.is_isolated() {
            let info = client.info().await?;
            if let Err(e) = isolation::verify(self.profile.isolation, &rec.name, &data.engine, &info) {
                // An unisolated "isolated" terminal must not be left to use.
                let _ = docker
                    .remove_container(&data.id, Some(RemoveContainerOptionsBuilder::default().force(true).build()))
                    .await;
                rec.runtime = serde_json::Value::Null;
                let _ = ctx;
                return Err(e);
            }
        }
        Ok(client.into())
    }

    async fn connect(&self, _ctx: &Ctx<'_>, rec: &Record) -> Result<Backend> {
        let data = Self::data(rec)?;
        let docker = engine::connect(&data.engine).await?;
        Self::reach(&docker, &data, &rec.name, Duration::ZERO).await.map(Backend::from)
    }

    async fn stop(&self, _ctx: &Ctx<'_>, rec: &mut Record) -> Result<()> {
        let Ok(data) = Self::data(rec) else { return Ok(()) };
        let docker = engine::connect(&data.engine).await?;
        match docker.stop_container(&data.id, Some(StopContainerOptionsBuilder::default().t(STOP_GRACE).build())).await
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_of(&e), Some(304) | Some(404)) => Ok(()),
            Err(e) => Err(engine_error(&format!("stopping container {}", data.container), e)),
        }
    }

    async fn remove(&self, _ctx: &Ctx<'_>, rec: &Record) -> Result<()> {
        let Ok(data) = Self::data(rec) else { return Ok(()) };
        let docker = engine::connect(&data.engine).await?;
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match docker.remove_container(&data.id, Some(opts)).await {
            Ok(()) => {}
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(engine_error(&format!("removing container {}", data.container), e)),
        }
        if let Some(dir) = data.socket.as_deref().and_then(|s| std::path::Path::new(s).parent()) {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }

    fn profile(&self, rec: &Record) -> Result<ExecProfile> {
        let opts = self.options(rec)?;
        let shell = opts.shell.unwrap_or_else(|| "/bin/sh".to_string());
        let mut env = BTreeMap::new();
        env.insert("KLED_TERMINAL".to_string(), rec.name.clone());
        Ok(ExecProfile { shell: vec![shell, "-c".into()], env })
    }

    async fn observe(&self, _ctx: &Ctx<'_>, rec: &Record) -> Option<(State, Option<String>)> {
        let data = Self::data(rec).ok()?;
        let docker = match engine::connect(&data.engine).await {
            Ok(d) => d,
            Err(e) => return Some((rec.state, Some(e.message().to_string()))),
        };
        match docker.inspect_container(&data.id, None).await {
            Ok(c) => {
                let s = c.state?;
                let running = s.running.unwrap_or(false);
                match (rec.state, running) {
                    (State::Running, false) => Some((
                        State::Failed,
                        Some(format!(
                            "container {} is not running (exit code {})",
                            data.container,
                            s.exit_code.unwrap_or(-1)
                        )),
                    )),
                    (_, true) => Some((State::Running, None)),
                    _ => None,
                }
            }
            Err(e) if status_of(&e) == Some(404) => Some((
                State::Failed,
                Some(format!(
                    "container {} is missing (removed outside kled); removing the terminal cleans up",
                    data.container
                )),
            )),
            Err(e) => Some((rec.state, Some(engine_error("inspecting the container", e).message().to_string()))),
        }
    }
}
