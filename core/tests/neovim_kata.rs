//! neovim-kata terminals beyond the exec suite: Neovim really runs inside
//! the isolated container (named neovim-HASH-NAME), the editor edits files
//! there, and a Neovim killed inside is reported and brought back.

#[macro_use]
mod common;

use kled::{ExecRequest, Manager, State};

const GVISOR_ENGINE: &str = "unix:///run/kled/gvisor.sock";

fn manager(home: &common::Home, test: &str) -> Option<Manager> {
    common::engine_or_skip(test)?;
    if !std::path::Path::new(GVISOR_ENGINE.trim_start_matches("unix://")).exists() {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR_ENGINE} is required");
        eprintln!("SKIPPED {test}: {GVISOR_ENGINE} is not served (scripts/engine.sh starts it)");
        return None;
    }
    let mut config = kled::Config::default();
    config.isolation.kata.engine = Some(GVISOR_ENGINE.into());
    config.isolation.kata.runtime = Some("runsc".into());
    Some(Manager::new(Some(home.path().to_path_buf()), config).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_runs_isolated_and_edits_files_inside() {
    let home = common::Home::new();
    let Some(m) = manager(&home, "nk_edit") else { return };
    let name = format!("nke{}", std::process::id());
    let t =
        m.create_terminal("neovim-kata", &name, serde_json::json!({"image": "localhost/kled-debian"})).await.unwrap();
    t.start().await.unwrap();

    // The container is named for what it holds, and its kernel is not the host's.
    let docker = kled::engine::connect(GVISOR_ENGINE).await.unwrap();
    let container = home.container(&name);
    assert!(container.starts_with("neovim-") && container.ends_with(&name), "{container}");
    let c = docker.inspect_container(&container, None).await.unwrap();
    assert_eq!(c.state.and_then(|s| s.running), Some(true));
    let info = t.agent_info().await.unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(info.kernel_release, host.trim(), "Neovim must run on the sandbox's kernel");
    // That answer came from Neovim itself (its process inside the sandbox).
    let r = t.exec(ExecRequest::new(format!("cat /proc/{}/comm", info.pid))).await.unwrap();
    assert_eq!(r.stdout_str().trim(), "nvim");

    t.exec(ExecRequest::new("printf 'x = 1\\nprint(x)\\n' > /tmp/prog.py")).await.unwrap().check().unwrap();
    let ed = t.editor().unwrap();
    assert_eq!(ed.read_lines("/tmp/prog.py", 0, -1).await.unwrap(), vec!["x = 1", "print(x)"]);
    ed.set_lines("/tmp/prog.py", 0, 1, &["x = 'edited in the sandbox'".into()]).await.unwrap();
    ed.write("/tmp/prog.py").await.unwrap();
    // A separate process inside reads the file from disk.
    let r = t.exec(ExecRequest::new("cat /tmp/prog.py; python3 /tmp/prog.py")).await.unwrap();
    assert_eq!(r.stdout_str(), "x = 'edited in the sandbox'\nprint(x)\nedited in the sandbox\n");
    let log = ed.log().await.unwrap();
    assert!(log.contains(&"$ cat /tmp/prog.py; python3 /tmp/prog.py".to_string()), "{log:?}");

    // Another manager (another process) reaches the same Neovim.
    let other = manager(&home, "nk_edit").unwrap();
    let t2 = other.get_terminal(&name).await.unwrap();
    assert_eq!(t2.agent_info().await.unwrap().pid, info.pid);

    // Neovim killed inside: reported, and start brings a new one.
    let _ = t.exec(ExecRequest::new(format!("kill -9 {}", info.pid))).await;
    let third = manager(&home, "nk_edit").unwrap();
    let e = third.get_terminal(&name).await.unwrap().exec(ExecRequest::new("true")).await.unwrap_err();
    assert!(e.message().contains("Neovim") && e.message().contains("gone"), "{e}");
    t.start().await.unwrap();
    assert_eq!(t.exec(ExecRequest::new("echo back")).await.unwrap().stdout, b"back\n");
    assert_ne!(t.agent_info().await.unwrap().pid, info.pid);

    t.stop().await.unwrap();
    assert_eq!(t.state().await.unwrap(), State::Stopped);
    t.remove().await.unwrap();
    assert!(docker.inspect_container(&container, None).await.is_err());
}
