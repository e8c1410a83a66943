//! Terminal lifecycle, names, options, persistence and bulk creation.

#[macro_use]
mod common;

use kled::{BulkRequest, ErrorKind, ExecRequest, Manager, State};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn names_are_validated_and_unique() {
    let home = common::Home::new();
    let m = &home.manager;
    for bad in ["", "-x", "a/b", "../x", "a b", &"n".repeat(64)] {
        let e = m.create_terminal("local", bad, json!({})).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    m.create_terminal("local", "one", json!({})).await.unwrap();
    let e = m.create_terminal("local", "one", json!({})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert!(e.message().contains("already exists"), "{e}");
    assert_eq!(m.get_terminal("nope").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn kinds_and_options_are_checked() {
    let home = common::Home::new();
    let m = &home.manager;
    let e = m.create_terminal("vmware", "x", json!({})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("known runtimes: local, container"), "{e}");
    let e = m.create_terminal("container", "x", json!({})).await.unwrap_err();
    assert!(e.message().contains("needs an image"), "{e}");
    let e = m.create_terminal("local", "x", json!({"image": "debian"})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("unknown field `image`"), "{e}");
    let e = m.create_terminal("local", "x", json!({"os": "beos"})).await.unwrap_err();
    assert!(e.message().contains("beos"), "{e}");
    let e = m.create_terminal("local", "x", json!([1, 2])).await.unwrap_err();
    assert!(e.message().contains("JSON object"), "{e}");
    let e = m.create_terminal("local", "x", json!({"workdir": "relative"})).await.unwrap_err();
    assert!(e.message().contains("absolute"), "{e}");
    // Nothing was left behind by the failures.
    assert!(m.list_terminals().await.unwrap().terminals.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_is_idempotent_and_persistent() {
    let home = common::Home::new();
    let t = home.manager.create_terminal("local", "life", json!({"env": {"FOO": "bar"}})).await.unwrap();
    assert_eq!(t.state().await.unwrap(), State::Created);
    let e = t.exec(ExecRequest::new("true")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert_eq!(e.hint(), Some(&kled::Hint::StartTerminal { name: "life".into() }));
    assert!(!e.message().contains("`kled"), "the core's words name no front end: {e}");
    t.start().await.unwrap();
    t.start().await.unwrap();
    assert_eq!(t.state().await.unwrap(), State::Running);
    assert_eq!(t.exec(ExecRequest::new("echo $FOO")).await.unwrap().stdout, b"bar\n");

    // A second manager (as another process would) sees and uses it.
    let other = Manager::new(Some(home.path().to_path_buf()), kled::Config::default()).unwrap();
    let t2 = other.get_terminal("life").await.unwrap();
    t2.write_file("note.txt", b"kept", None).await.unwrap();
    assert_eq!(other.list_terminals().await.unwrap().terminals[0].state, State::Running);

    // stop ends background processes too, and keeps the data.
    let r = t.exec(ExecRequest::new("sleep 300 > /dev/null 2>&1 & echo $!")).await.unwrap();
    let bg: i32 = r.stdout_str().trim().parse().unwrap();
    assert!(common::pid_alive(bg));
    t.stop().await.unwrap();
    t.stop().await.unwrap();
    assert_eq!(t2.state().await.unwrap(), State::Stopped);
    let deadline = Instant::now() + Duration::from_secs(3);
    while common::pid_alive(bg) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!common::pid_alive(bg), "stop left a background process running");
    assert_eq!(t2.exec(ExecRequest::new("true")).await.unwrap_err().kind(), ErrorKind::InvalidState);
    t2.start().await.unwrap();
    assert_eq!(t.read_file("note.txt").await.unwrap(), b"kept");

    let workdir = home.path().join("work/life");
    assert!(workdir.is_dir());
    t.remove().await.unwrap();
    assert!(!workdir.exists(), "remove deletes the terminal's own working directory");
    assert_eq!(home.manager.get_terminal("life").await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(t2.exec(ExecRequest::new("true")).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_is_brought_back() {
    let home = common::Home::new();
    let t = home.local("phoenix").await;
    let info = t.agent_info().await.unwrap();
    unsafe {
        libc::kill(info.pid as i32, libc::SIGKILL);
    }
    // The next call notices the dead agent and restarts it.
    let mut r = None;
    for _ in 0..50 {
        match t.exec(ExecRequest::new("echo back")).await {
            Ok(x) => {
                r = Some(x);
                break;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Agent, "{e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert_eq!(r.expect("terminal came back").stdout, b"back\n");
    assert_ne!(t.agent_info().await.unwrap().pid, info.pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_workdir_is_used_and_kept() {
    let home = common::Home::new();
    let dir = tempfile::tempdir().unwrap();
    let t =
        home.manager.create_terminal("local", "mine", json!({"workdir": dir.path().to_str().unwrap()})).await.unwrap();
    t.start().await.unwrap();
    let r = t.exec(ExecRequest::new("pwd; touch made-here")).await.unwrap();
    assert_eq!(r.stdout_str().trim(), dir.path().to_str().unwrap());
    t.remove().await.unwrap();
    assert!(dir.path().join("made-here").exists(), "a user's directory is never deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_shells_are_named() {
    let home = common::Home::new();
    let m = &home.manager;
    if !std::path::Path::new("/bin/zsh").exists() {
        let t = m.create_terminal("local", "mac", json!({"os": "mac"})).await.unwrap();
        let e = t.start().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable);
        assert!(e.message().contains("/bin/zsh") && e.message().contains("os=mac"), "{e}");
        assert_eq!(t.state().await.unwrap(), State::Failed);
    }
    if !common::on_path("powershell.exe") {
        let t = m.create_terminal("local", "win", json!({"os": "windows"})).await.unwrap();
        let e = t.start().await.unwrap_err();
        assert!(e.message().contains("powershell.exe"), "{e}");
    }
    let t = m.create_terminal("local", "custom", json!({"shell": "/bin/bash"})).await.unwrap();
    t.start().await.unwrap();
    assert_eq!(t.exec(ExecRequest::new("echo $BASH_VERSION | cut -c1")).await.unwrap().exit_code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_records_are_reported_not_fatal() {
    let home = common::Home::new();
    home.manager.create_terminal("local", "fine", json!({})).await.unwrap();
    std::fs::write(home.path().join("terminals/broken.json"), "{\"name\": ").unwrap();
    let listing = home.manager.list_terminals().await.unwrap();
    assert_eq!(listing.terminals.len(), 1);
    assert_eq!(listing.problems.len(), 1);
    assert_eq!(listing.problems[0].name, "broken");
    let e = home.manager.get_terminal("broken").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("corrupt"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_creates_concurrently_and_names_in_order() {
    let home = common::Home::new();
    let mut req = BulkRequest::new("local", 10);
    req.prefix = Some("w".into());
    req.start = true;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s = seen.clone();
    req.progress = Some(std::sync::Arc::new(move |_, total| {
        assert_eq!(total, 10);
        s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    let ts = home.manager.create_bulk(req).await.unwrap();
    let names: Vec<&str> = ts.iter().map(|t| t.name()).collect();
    assert_eq!(names, (1..=10).map(|i| format!("w-{i}")).collect::<Vec<_>>());
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 10);
    for t in &ts {
        assert_eq!(t.exec(ExecRequest::new("echo $KLED_TERMINAL")).await.unwrap().stdout_str().trim(), t.name());
    }
    // Names taken: refused before anything is made.
    let mut again = BulkRequest::new("local", 12);
    again.prefix = Some("w".into());
    let e = home.manager.create_bulk(again).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(home.manager.list_terminals().await.unwrap().terminals.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_rolls_back_on_failure() {
    let home = common::Home::new();
    let mut req = BulkRequest::new("local", 6);
    req.prefix = Some("doomed".into());
    req.start = true;
    // Valid options that fail at start: every terminal fails to start.
    req.options = json!({"shell": "/nonexistent/shell"});
    let e = home.manager.create_bulk(req).await.unwrap_err();
    assert!(e.message().contains("rolled back"), "{e}");
    assert!(e.message().contains("/nonexistent/shell"), "{e}");
    assert!(home.manager.list_terminals().await.unwrap().terminals.is_empty());
    let e = home.manager.create_bulk(BulkRequest::new("local", 0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn providers_list_every_runtime() {
    let home = common::Home::new();
    let ps = home.manager.providers();
    assert_eq!(ps.len(), kled::Kind::ALL.len());
    let local = ps.iter().find(|p| p.kind == kled::Kind::Local).unwrap();
    assert!(local.available);
    for p in ps.iter().filter(|p| !p.available) {
        assert!(p.reason.is_some(), "{:?}", p.kind);
    }
}
