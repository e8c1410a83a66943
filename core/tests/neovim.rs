//! Neovim terminals beyond the shared exec suite: editor operations on real
//! files, the visible command log, a detached owner-only server, a killed
//! Neovim, and use from a second manager (as another process would).

#[macro_use]
mod common;

use kled::{ErrorKind, ExecRequest, Manager, State};
use std::os::unix::fs::PermissionsExt;

async fn neovim(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    if !common::nvim_or_skip(name) {
        return None;
    }
    let t = home.manager.create_terminal("neovim", name, serde_json::json!({})).await.unwrap();
    t.start().await.unwrap();
    Some(t)
}

fn record(home: &common::Home, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(home.path().join("terminals").join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn pid_of(home: &common::Home, name: &str) -> i32 {
    record(home, name)["runtime"]["pid"].as_u64().unwrap() as i32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_operations_change_the_file_on_disk() {
    let home = common::Home::new();
    let Some(t) = neovim(&home, "editor").await else { return };
    let work = home.path().join("work").join("editor");
    std::fs::write(work.join("main.py"), "import sys\n\ndef f():\n    return 1\n\nprint(f())\n").unwrap();
    let ed = t.editor().unwrap();

    let b = ed.open("main.py").await.unwrap();
    assert_eq!(b.name, work.join("main.py").display().to_string());
    assert_eq!((b.lines, b.modified), (6, false));
    assert_eq!(ed.read_lines("main.py", 2, 4).await.unwrap(), vec!["def f():", "    return 1"]);
    assert_eq!(ed.read_lines("main.py", 0, -1).await.unwrap().len(), 6);

    // Replace one line, insert two, delete one: the buffer changes, the disk not yet.
    ed.set_lines("main.py", 3, 4, &["    return 42".into()]).await.unwrap();
    ed.set_lines("main.py", 1, 1, &["# edited by kled".into(), "import os".into()]).await.unwrap();
    let b = ed.set_lines("main.py", 0, 1, &[]).await.unwrap();
    assert!(b.modified);
    assert_eq!(b.lines, 7);
    assert!(std::fs::read_to_string(work.join("main.py")).unwrap().contains("return 1\n"));

    let b = ed.write("main.py").await.unwrap();
    assert!(!b.modified);
    let on_disk = std::fs::read_to_string(work.join("main.py")).unwrap();
    assert_eq!(on_disk, "# edited by kled\nimport os\n\ndef f():\n    return 42\n\nprint(f())\n");
    // And the edited program runs with the change.
    let r = t.exec(ExecRequest::new("python3 main.py")).await.unwrap();
    assert_eq!(r.stdout, b"42\n");

    // A new file, in a new buffer, by absolute path.
    let new = work.join("notes.txt").display().to_string();
    let b = ed.open(&new).await.unwrap();
    assert_eq!(b.lines, 1);
    ed.set_lines(&new, 0, -1, &["first".into(), "sécond ✓".into()]).await.unwrap();
    ed.write(&new).await.unwrap();
    assert_eq!(std::fs::read_to_string(&new).unwrap(), "first\nsécond ✓\n");

    // A change on disk shows in an unmodified buffer.
    std::fs::write(&new, "changed outside\n").unwrap();
    assert_eq!(ed.read_lines(&new, 0, -1).await.unwrap(), vec!["changed outside"]);

    let names: Vec<String> = ed.buffers().await.unwrap().into_iter().map(|b| b.name).collect();
    assert!(names.contains(&work.join("main.py").display().to_string()), "{names:?}");
    assert!(names.contains(&new), "{names:?}");
    assert!(names.iter().any(|n| n == "kled://log"), "{names:?}");

    // Bad ranges and lines are clear errors, and the editor still works.
    let e = ed.read_lines("main.py", 50, 60).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("out of bounds"), "{e}");
    let e = ed.set_lines("main.py", 0, 1, &["a\nb".into()]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(ed.read_lines("main.py", 0, 1).await.unwrap(), vec!["# edited by kled"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_echoed_into_the_log_buffer() {
    let home = common::Home::new();
    let Some(t) = neovim(&home, "logged").await else { return };
    t.exec(ExecRequest::new("echo first")).await.unwrap();
    t.exec(ExecRequest::new("exit 3")).await.unwrap();
    t.exec(ExecRequest::new(["no-such-command-kled"])).await.unwrap();
    let log = t.editor().unwrap().log().await.unwrap();
    assert_eq!(
        log,
        vec!["$ echo first", "[exit 0]", "$ exit 3", "[exit 3]", "$ no-such-command-kled", "[exit 127]"],
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_operations_need_a_neovim_terminal() {
    let home = common::Home::new();
    let t = home.manager.create_terminal("local", "plain", serde_json::json!({})).await.unwrap();
    let e = t.editor().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("local terminal") && e.message().contains("neovim"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_detached_and_its_socket_private() {
    let home = common::Home::new();
    let Some(_t) = neovim(&home, "detached").await else { return };
    let pid = pid_of(&home, "detached");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let (ppid, sid): (i32, i32) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
    assert_ne!(ppid as u32, std::process::id(), "Neovim must not be this process's child");
    assert_eq!(sid, pid, "Neovim leads its own session");
    let socket = record(&home, "detached")["runtime"]["socket"].as_str().unwrap().to_string();
    assert!(socket.starts_with(&*home.path().to_string_lossy()), "{socket}");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");
    let dir_mode = std::fs::metadata(std::path::Path::new(&socket).parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "socket directory mode {dir_mode:o}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_neovim_is_reported_and_start_brings_it_back() {
    let home = common::Home::new();
    let Some(t) = neovim(&home, "killed").await else { return };
    t.write_file("kept.txt", b"still here", None).await.unwrap();
    let pid = pid_of(&home, "killed");
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while common::pid_alive(pid) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // A fresh manager (another process) and this one (a cached connection)
    // both say what happened.
    let other = Manager::new(Some(home.path().to_path_buf()), kled::Config::default()).unwrap();
    for m in [&other, &home.manager] {
        let e = m.get_terminal("killed").await.unwrap().exec(ExecRequest::new("echo hi")).await.unwrap_err();
        assert!(
            e.message().contains("Neovim") && (e.message().contains("gone") || e.message().contains("lost")),
            "{e}"
        );
    }
    let listed = home.manager.list_terminals().await.unwrap();
    let info = listed.terminals.iter().find(|i| i.name == "killed").unwrap();
    assert_eq!(info.state, State::Failed);
    assert!(info.error.as_deref().unwrap_or_default().contains("gone"), "{info:?}");

    t.start().await.unwrap();
    let new_pid = pid_of(&home, "killed");
    assert_ne!(new_pid, pid);
    assert_eq!(t.exec(ExecRequest::new("cat kept.txt")).await.unwrap().stdout, b"still here");
    assert_eq!(t.state().await.unwrap(), State::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_manager_uses_the_same_server_and_stop_ends_it() {
    let home = common::Home::new();
    let Some(t) = neovim(&home, "shared").await else { return };
    let pid = pid_of(&home, "shared");
    let ed = t.editor().unwrap();
    ed.open("a.txt").await.unwrap();
    ed.set_lines("a.txt", 0, -1, &["unsaved".into()]).await.unwrap();
    // The other manager sees the same buffers (the same Neovim), unsaved edit included.
    let other = Manager::new(Some(home.path().to_path_buf()), kled::Config::default()).unwrap();
    let t2 = other.get_terminal("shared").await.unwrap();
    assert_eq!(t2.editor().unwrap().read_lines("a.txt", 0, -1).await.unwrap(), vec!["unsaved"]);
    let r = t2.exec(ExecRequest::new("echo $KLED_TERMINAL")).await.unwrap();
    assert_eq!(r.stdout, b"shared\n");
    assert_eq!(t2.agent_info().await.unwrap().pid as i32, pid);

    // Stop ends the server and the jobs still running in it.
    let mut s = t.exec_stream(ExecRequest::new("echo $$; exec sleep 300")).await.unwrap();
    let job: i32 = match s.next().await.unwrap().unwrap() {
        kled::ExecEvent::Stdout(b) => String::from_utf8(b).unwrap().trim().parse().unwrap(),
        other => panic!("{other:?}"),
    };
    t2.stop().await.unwrap();
    assert!(!common::pid_alive(pid), "Neovim {pid} survived stop");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while common::pid_alive(job) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!common::pid_alive(job), "job {job} survived stop");
    assert_eq!(t.state().await.unwrap(), State::Stopped);
    let e = t.exec(ExecRequest::new("true")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    drop(s);
    t.start().await.unwrap();
    assert_eq!(t.exec(ExecRequest::new("echo back")).await.unwrap().stdout, b"back\n");
    t.remove().await.unwrap();
    assert!(!home.path().join("work").join("shared").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_five_neovim_terminals() {
    let home = common::Home::new();
    if !common::nvim_or_skip("bulk") {
        return;
    }
    let mut req = kled::BulkRequest::new("neovim", 5);
    req.start = true;
    let made = home.manager.create_bulk(req).await.unwrap();
    assert_eq!(made.len(), 5);
    let mut pids = std::collections::BTreeSet::new();
    for t in &made {
        let r = t.exec(ExecRequest::new("echo $KLED_TERMINAL")).await.unwrap();
        assert_eq!(r.stdout_str().trim(), t.name());
        pids.insert(t.agent_info().await.unwrap().pid);
    }
    assert_eq!(pids.len(), 5, "one Neovim per terminal");
}
