//! Container, gVisor and Kata terminals on a real engine: lifecycle,
//! reconciliation, bulk, failures from outside, and isolation checks.

#[macro_use]
mod common;

use kled::{BulkRequest, Config, ErrorKind, ExecRequest, Manager, State};
use serde_json::json;
use std::time::{Duration, Instant};

const BUSYBOX: &str = "localhost/kled-busybox";
/// Served by scripts/engine.sh: an engine whose default OCI runtime is runsc.
const GVISOR_ENGINE: &str = "unix:///run/kled/gvisor.sock";

fn unique(name: &str) -> String {
    format!("k{}-{name}", std::process::id())
}

async fn docker() -> bollard::Docker {
    kled::engine::connect(&kled::engine::discover(None).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_across_managers_and_engine_labels() {
    let Some(_) = common::engine_or_skip("lifecycle") else { return };
    let home = common::Home::new();
    let name = unique("life");
    let t = home
        .manager
        .create_terminal(
            "container",
            &name,
            json!({"image": BUSYBOX, "env": {"FROM_OPTS": "yes"}, "labels": {"team": "kled"}, "workdir": "/tmp"}),
        )
        .await
        .unwrap();
    assert_eq!(t.state().await.unwrap(), State::Created);
    t.start().await.unwrap();
    t.start().await.unwrap();
    let r = t.exec(ExecRequest::new("echo $FROM_OPTS $KLED_TERMINAL; pwd; cat /proc/1/cmdline")).await.unwrap();
    assert!(
        r.stdout_str().starts_with(&format!("yes {name}\n/tmp\n/.kled/kled-agent\0--init\0")),
        "{}",
        r.stdout_str()
    );
    // A plain container on a local engine is reached over its own socket,
    // not through the engine.
    assert!(home.path().join(format!("run/c/{name}/agent.sock")).exists());

    let inspect = docker().await.inspect_container(&home.container(&name), None).await.unwrap();
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["io.kled.terminal"], name);
    assert_eq!(labels["io.kled.kind"], "container");
    assert_eq!(labels["team"], "kled");

    // Another manager (another process) uses the same terminal.
    let other = Manager::new(Some(home.path().to_path_buf()), Config::default()).unwrap();
    let t2 = other.get_terminal(&name).await.unwrap();
    t2.write_file("/tmp/shared.txt", b"across", None).await.unwrap();
    assert_eq!(t.read_file("/tmp/shared.txt").await.unwrap(), b"across");

    let started = Instant::now();
    t.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "stop took {:?}", started.elapsed());
    t.stop().await.unwrap();
    assert_eq!(t2.exec(ExecRequest::new("true")).await.unwrap_err().kind(), ErrorKind::InvalidState);
    t2.start().await.unwrap();
    // The container's file system survives stop/start.
    assert_eq!(t2.read_file("/tmp/shared.txt").await.unwrap(), b"across");
    t.remove().await.unwrap();
    assert!(home.containers_of(&name).await.is_empty(), "rm removes the container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_are_checked_and_engine_errors_keep_their_words() {
    let Some(_) = common::engine_or_skip("options") else { return };
    let home = common::Home::new();
    let m = &home.manager;
    let e = m.create_terminal("container", &unique("noimg"), json!({})).await.unwrap_err();
    assert!(e.message().contains("needs an image"), "{e}");
    let e = m.create_terminal("container", &unique("bad"), json!({"image": BUSYBOX, "cpu": 2})).await.unwrap_err();
    assert!(e.message().contains("unknown field `cpu`"), "{e}");
    let e = m
        .create_terminal("container", &unique("missing"), json!({"image": "localhost/no-such-image-kled"}))
        .await
        .unwrap_err();
    assert!(e.message().contains("no-such-image-kled"), "{e}");
    // An option only the engine can judge: its own message comes back.
    let t =
        m.create_terminal("container", &unique("net"), json!({"image": BUSYBOX, "network": "no-such-net-kled"})).await;
    let e = match t {
        Err(e) => e,
        Ok(t) => t.start().await.unwrap_err(),
    };
    assert!(e.message().contains("no-such-net-kled") && e.message().contains("the engine said"), "{e}");
    // Resource limits reach the container.
    let name = unique("limits");
    let t = m.create_terminal("container", &name, json!({"image": BUSYBOX, "cpus": 0.5, "memory": 64})).await.unwrap();
    t.start().await.unwrap();
    let hc = docker().await.inspect_container(&home.container(&name), None).await.unwrap().host_config.unwrap();
    assert_eq!(hc.memory, Some(64 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    // Every container has a pids limit, named or not.
    assert_eq!(hc.pids_limit, Some(1024));
    t.remove().await.unwrap();
    let e = m.create_terminal("container", &unique("pids0"), json!({"image": BUSYBOX, "pids": 0})).await.unwrap_err();
    assert!(e.message().contains("pids must be a positive"), "{e}");
    // The limit holds: a shell that tries to keep 100 processes is refused
    // forks past 32 (the agent and the shell count too).
    let name = unique("pids");
    let t = m.create_terminal("container", &name, json!({"image": BUSYBOX, "pids": 32})).await.unwrap();
    t.start().await.unwrap();
    let r = t
        .exec(ExecRequest::new("for i in $(seq 100); do sleep 2 & done; wait").timeout(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(r.stderr_str().contains("fork"), "100 processes in a pids=32 container: {r:?}");
    // A fork bomb that times out leaves nothing running: the agent keeps
    // killing its process group until it is empty. (First the sleeps of the
    // last check end: a failed fork ends busybox's script, not its children.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = t
        .exec(ExecRequest::new("bomb() { bomb | bomb & }; bomb; sleep 30").timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(r.timed_out, "{r:?}");
    let mut left = String::new();
    for _ in 0..20 {
        let ps = t.exec(ExecRequest::new("cd /proc && for p in [0-9]*; do cat $p/comm; done")).await.unwrap();
        left = ps.stdout_str();
        if !left.lines().any(|c| c == "sh" || c == "bomb") || left.lines().count() <= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The agent (PID 1 and its listener), and the shell running this check.
    assert!(left.lines().count() <= 4, "left running after the timeout: {left}");
    t.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_state_dirs_may_use_one_name_and_leftovers_do_not_block_it() {
    let Some(_) = common::engine_or_skip("namespaced") else { return };
    let (a, b) = (common::Home::new(), common::Home::new());
    let name = unique("same");
    let ta = a.manager.create_terminal("container", &name, json!({"image": BUSYBOX})).await.unwrap();
    let tb = b.manager.create_terminal("container", &name, json!({"image": BUSYBOX})).await.unwrap();
    ta.start().await.unwrap();
    tb.start().await.unwrap();
    assert_ne!(a.container(&name), b.container(&name));
    assert_eq!(ta.exec(ExecRequest::new("echo a")).await.unwrap().stdout_str(), "a\n");
    assert_eq!(tb.exec(ExecRequest::new("echo b")).await.unwrap().stdout_str(), "b\n");
    // A record lost (a run killed before it saved, a state file deleted)
    // leaves a container no record owns: the next create of the name in the
    // same state dir removes it and goes on.
    let orphan = a.container(&name);
    std::fs::remove_file(a.path().join(format!("terminals/{name}.json"))).unwrap();
    let again = a.manager.create_terminal("container", &name, json!({"image": BUSYBOX})).await.unwrap();
    again.start().await.unwrap();
    assert_eq!(again.exec(ExecRequest::new("echo again")).await.unwrap().stdout_str(), "again\n");
    assert_eq!(a.containers_of(&name).await.len(), 1, "the leftover {orphan} was replaced");
    // The other state dir's terminal was not touched.
    assert_eq!(tb.exec(ExecRequest::new("echo b")).await.unwrap().stdout_str(), "b\n");
    again.remove().await.unwrap();
    tb.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_behind_kleds_back_shows_as_failed() {
    let Some(_) = common::engine_or_skip("reconcile") else { return };
    let home = common::Home::new();
    let name = unique("vanish");
    let t = home.manager.create_terminal("container", &name, json!({"image": BUSYBOX})).await.unwrap();
    t.start().await.unwrap();
    let rm = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    docker().await.remove_container(&home.container(&name), Some(rm)).await.unwrap();
    let listing = home.manager.list_terminals().await.unwrap();
    let info = listing.terminals.iter().find(|i| i.name == name).unwrap();
    assert_eq!(info.state, State::Failed);
    assert!(info.error.as_deref().unwrap_or("").contains("missing"), "{info:?}");
    let e = t.exec(ExecRequest::new("true")).await.unwrap_err();
    assert!(e.message().contains("no longer exists"), "{e}");
    t.remove().await.unwrap();
    assert!(home.manager.list_terminals().await.unwrap().terminals.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_killed_mid_exec_fails_the_exec_and_comes_back() {
    let Some(_) = common::engine_or_skip("killed") else { return };
    let home = common::Home::new();
    let name = unique("killed");
    let t = home.manager.create_terminal("container", &name, json!({"image": BUSYBOX})).await.unwrap();
    t.start().await.unwrap();
    let running = {
        let t = t.clone();
        tokio::spawn(async move { t.exec(ExecRequest::new("echo started; sleep 60")).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed_at = Instant::now();
    let kill = bollard::query_parameters::KillContainerOptionsBuilder::default().signal("KILL").build();
    docker().await.kill_container(&home.container(&name), Some(kill)).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("exec hung after the container died")
        .unwrap();
    assert!(killed_at.elapsed() < Duration::from_secs(20));
    match outcome {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Agent, "{e}"),
        Ok(r) => assert!(r.exit_code != Some(0), "{r:?}"),
    }
    // The next call re-establishes the terminal (restarts the container).
    let r = t.exec(ExecRequest::new("echo back")).await.unwrap();
    assert_eq!(r.stdout, b"back\n");
    t.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_twenty_containers() {
    let Some(_) = common::engine_or_skip("bulk") else { return };
    let home = common::Home::new();
    let mut req = BulkRequest::new("container", 20);
    req.prefix = Some(unique("bulk"));
    req.options = json!({"image": BUSYBOX});
    req.start = true;
    let started = Instant::now();
    let ts = home.manager.create_bulk(req).await.unwrap();
    eprintln!("bulk 20 containers created and started in {:?}", started.elapsed());
    assert_eq!(ts.len(), 20);
    let outs = futures::future::join_all(ts.iter().map(|t| t.exec(ExecRequest::new("echo $KLED_TERMINAL")))).await;
    for (t, r) in ts.iter().zip(outs) {
        assert_eq!(r.unwrap().stdout_str().trim(), t.name());
    }
    futures::future::join_all(ts.iter().map(|t| t.remove())).await.into_iter().for_each(|r| r.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gvisor_terminal_runs_under_gvisor() {
    let Some(_) = common::engine_or_skip("gvisor") else { return };
    if !std::path::Path::new(GVISOR_ENGINE.trim_start_matches("unix://")).exists() {
        assert_ne!(
            std::env::var("KLED_REQUIRE_ENGINE").as_deref(),
            Ok("1"),
            "the gVisor engine {GVISOR_ENGINE} is required"
        );
        eprintln!("SKIPPED gvisor: {GVISOR_ENGINE} is not served (scripts/engine.sh starts it)");
        return;
    }
    let home = common::Home::new();
    let mut config = Config::default();
    config.isolation.gvisor.engine = Some(GVISOR_ENGINE.into());
    let m = Manager::new(Some(home.path().to_path_buf()), config).unwrap();
    let name = unique("gv");
    let t = m.create_terminal("gvisor", &name, json!({"image": BUSYBOX})).await.unwrap();
    t.start().await.unwrap();
    let info = t.agent_info().await.unwrap();
    let (host_release, _) =
        (String::from_utf8(std::process::Command::new("uname").arg("-r").output().unwrap().stdout).unwrap(), ());
    assert_ne!(info.kernel_release, host_release.trim(), "runs on the host kernel");
    let r = t.exec(ExecRequest::new("dmesg")).await.unwrap();
    assert!(r.stdout_str().contains("gVisor"), "dmesg inside: {}", r.stdout_str());
    let r = t.exec(ExecRequest::new("echo isolated; exit 3")).await.unwrap();
    assert_eq!((r.stdout.as_slice(), r.exit_code), (&b"isolated\n"[..], Some(3)));
    t.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_the_engine_ignores_is_caught() {
    let Some(_) = common::engine_or_skip("ignored") else { return };
    let home = common::Home::new();
    let name = unique("fakeiso");
    // The default engine is Podman, which ignores HostConfig.Runtime over
    // HTTP. Named explicitly: left alone, gvisor terminals take the
    // runsc-default service at /run/kled/gvisor.sock, which works.
    let mut config = kled::Config::default();
    config.isolation.gvisor.engine = Some(kled::engine::discover(None).unwrap());
    let manager = kled::Manager::new(Some(home.path().to_path_buf()), config).unwrap();
    let t = manager.create_terminal("gvisor", &name, json!({"image": BUSYBOX})).await;
    let e = match t {
        Ok(t) => {
            let e = t.start().await.unwrap_err();
            assert_eq!(t.state().await.unwrap(), State::Failed);
            e
        }
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable, "{e}");
    assert!(e.message().contains("host's kernel") || e.message().contains("not available"), "{e}");
    // Never left running unisolated.
    assert!(home.containers_of(&name).await.is_empty(), "the unisolated container was not removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kata_is_refused_clearly_where_it_is_not_installed() {
    let Some(_) = common::engine_or_skip("kata") else { return };
    if std::path::Path::new("/usr/bin/kata-runtime").exists() {
        eprintln!("SKIPPED kata refusal: Kata is installed here");
        return;
    }
    let home = common::Home::new();
    let e = home
        .manager
        .create_terminal("kata", &unique("kata"), json!({"image": BUSYBOX, "cpus": 2, "memory": 512}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable, "{e}");
    // The reason `providers` gives, before anything is made.
    assert!(e.message().contains("Kata Containers is not installed here"), "{e}");
    let p = home.manager.providers().into_iter().find(|p| p.kind == kled::Kind::Kata).unwrap();
    assert_eq!(p.reason.as_deref(), Some(e.message()));
    assert!(home.manager.list_terminals().await.unwrap().terminals.is_empty(), "a refused terminal leaves no record");
}
