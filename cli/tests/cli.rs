//! The real `kled` binary, driven as separate processes sharing a state dir.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Home {
        Home(tempfile::Builder::new().prefix("kled-cli-").tempdir_in("/tmp").unwrap())
    }

    fn kled(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kled"));
        c.env("KLED_HOME", self.0.path()).env_remove("KLED_CONFIG").env_remove("KLED_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.kled().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "kled {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Stop every terminal so no agent outlives the test.
        let o = self.run(&["terminal", "list", "--json"]);
        if let Ok(list) = serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout) {
            for t in list {
                let _ = self.run(&["terminal", "stop", t["name"].as_str().unwrap_or_default()]);
            }
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn create_in_one_process_exec_in_another() {
    let h = Home::new();
    assert!(h.ok(&["terminal", "create", "dev"]).contains("created and started dev"));
    let o = h.run(&["terminal", "exec", "dev", "echo", "out;", "echo", "err", ">&2;", "exit", "7"]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(o.stdout, b"out\n");
    assert_eq!(o.stderr, b"err\n");
    // State carries across processes: files, and the working directory.
    h.ok(&["terminal", "exec", "dev", "echo kept > f.txt"]);
    assert_eq!(h.ok(&["terminal", "exec", "dev", "cat f.txt"]), "kept\n");
    let o = h.run(&["terminal", "exec", "dev", "-e", "A=1", "-e", "B=two", "--cwd", "/", "echo $A $B; pwd"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1 two\n/\n");
    // Hyphenated arguments pass through to the command.
    assert_eq!(h.ok(&["terminal", "exec", "dev", "ls", "-d", "/"]), "/\n");
    let list: serde_json::Value = serde_json::from_str(&h.ok(&["terminal", "list", "--json"])).unwrap();
    assert_eq!(list[0]["name"], "dev");
    assert_eq!(list[0]["kind"], "local");
    assert_eq!(list[0]["state"], "running");
    assert!(h.ok(&["terminal", "list"]).contains("dev"));
    h.ok(&["terminal", "stop", "dev"]);
    let o = h.run(&["terminal", "exec", "dev", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("kled terminal start dev"), "{}", stderr(&o));
    h.ok(&["terminal", "start", "dev"]);
    assert_eq!(h.ok(&["terminal", "exec", "dev", "cat f.txt"]), "kept\n");
    h.ok(&["terminal", "rm", "dev"]);
    assert!(h.ok(&["terminal", "list", "--json"]).trim() == "[]");
}

#[test]
fn exec_forwards_stdin_and_prints_json() {
    let h = Home::new();
    h.ok(&["terminal", "create", "j"]);
    let mut child = h
        .kled()
        .args(["terminal", "exec", "j", "-i", "tr a-z A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped in").unwrap();
    assert_eq!(child.wait_with_output().unwrap().stdout, b"PIPED IN");
    let v: serde_json::Value =
        serde_json::from_str(&h.ok(&["terminal", "exec", "j", "--json", "echo out; echo err >&2; exit 3"])).unwrap();
    assert_eq!(v["stdout"], "out\n");
    assert_eq!(v["stderr"], "err\n");
    assert_eq!(v["exit_code"], 3);
    assert_eq!(v["timed_out"], false);
    assert!(v["duration_secs"].as_f64().unwrap() > 0.0);
}

#[test]
fn exec_timeout_signal_and_missing() {
    let h = Home::new();
    h.ok(&["terminal", "create", "t"]);
    let o = h.run(&["terminal", "exec", "t", "--timeout", "0.3", "echo", "begun;", "sleep", "30"]);
    assert_eq!(o.status.code(), Some(124));
    assert_eq!(o.stdout, b"begun\n");
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    let o = h.run(&["terminal", "exec", "t", "kill -KILL $$"]);
    assert_eq!(o.status.code(), Some(137));
    let o = h.run(&["terminal", "exec", "t", "no-such-program-kled"]);
    assert_eq!(o.status.code(), Some(127));
    let o = h.run(&["terminal", "exec", "ghost", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no terminal named \"ghost\""), "{}", stderr(&o));
}

#[test]
fn code_runs_snippets_and_reads_stdin() {
    let h = Home::new();
    h.ok(&["terminal", "create", "c"]);
    assert_eq!(h.ok(&["terminal", "code", "c", "--lang", "py", "print(6 * 7)"]), "42\n");
    let mut child = h
        .kled()
        .args(["terminal", "code", "c", "--lang", "bash", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"echo from-stdin; exit 4\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.stdout, b"from-stdin\n");
    assert_eq!(o.status.code(), Some(4));
    let o = h.run(&["terminal", "code", "c", "--lang", "cobol", "x"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("unsupported language"), "{}", stderr(&o));
}

#[test]
fn racing_creators_have_exactly_one_winner() {
    let h = Home::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            h.kled()
                .args(["terminal", "create", "contested", "--no-start"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let winners = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1);
    for o in outputs.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("already exists"), "{}", stderr(o));
    }
}

#[test]
fn corrupt_records_are_named_and_skipped() {
    let h = Home::new();
    h.ok(&["terminal", "create", "good", "--no-start"]);
    std::fs::write(h.path().join("terminals/bad.json"), b"\x00garbage").unwrap();
    let o = h.run(&["terminal", "list", "--json"]);
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(stderr(&o).contains("skipping terminal bad"), "{}", stderr(&o));
}

#[test]
fn bad_input_gets_clear_errors() {
    let h = Home::new();
    let o = h.run(&["terminal", "create", "bad/name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid terminal name"), "{}", stderr(&o));
    let o = h.run(&["terminal", "create", "x", "--runtime", "vmware"]);
    assert!(stderr(&o).contains("known runtimes: local, container"), "{}", stderr(&o));
    let o = h.run(&["terminal", "create", "x", "--image", "debian"]);
    assert!(stderr(&o).contains("unknown field `image`"), "{}", stderr(&o));
    let o = h.run(&["terminal", "create", "x", "--opt", "novalue"]);
    assert!(stderr(&o).contains("expected KEY=VALUE"), "{}", stderr(&o));
    let o = h.run(&["terminal", "create", "x", "--runtime", "container"]);
    assert!(
        stderr(&o).contains("needs an image, e.g. localhost/kled-debian; pass one with `--image IMAGE`"),
        "{}",
        stderr(&o)
    );
    let o = h.run(&["terminal", "start", "nosuch"]);
    assert!(
        stderr(&o).ends_with("no terminal named \"nosuch\"; `kled terminal list` shows the terminals that exist\n"),
        "{}",
        stderr(&o)
    );
    // The core's bulk rule: concurrency 0 is refused, not raised to 1.
    let o = h.run(&["terminal", "bulk", "2", "--concurrency", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("concurrency must be at least 1"), "{}", stderr(&o));
    assert_eq!(h.ok(&["terminal", "list", "--json"]).trim(), "[]");
    let cfg = h.path().join("bad.yaml");
    std::fs::write(&cfg, "librechat:\n  apikey: x\n").unwrap();
    let o = h.run(&["--config", cfg.to_str().unwrap(), "terminal", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("apikey"), "{}", stderr(&o));
    let o = h.kled().env("KLED_CONFIG", "/nonexistent.yaml").args(["terminal", "list"]).output().unwrap();
    assert!(stderr(&o).contains("/nonexistent.yaml"), "{}", stderr(&o));
}

#[test]
fn options_and_env_flavours() {
    let h = Home::new();
    h.ok(&["terminal", "create", "o", "--opt", "env.GREETING=hi there", "--opt", "shell=/bin/bash"]);
    assert_eq!(h.ok(&["terminal", "exec", "o", "echo $GREETING ${BASH_VERSION:+bash}"]), "hi there bash\n");
    if !Path::new("/bin/zsh").exists() {
        let o = h.run(&["terminal", "create", "m", "--env", "mac"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("/bin/zsh"), "{}", stderr(&o));
        // A create that cannot start is undone.
        assert!(stderr(&o).contains("not kept"), "{}", stderr(&o));
        assert!(!h.ok(&["terminal", "list", "--json"]).contains("\"m\""));
    }
}

#[test]
fn bulk_and_providers() {
    let h = Home::new();
    let out = h.ok(&["terminal", "bulk", "5", "--prefix", "b", "--json"]);
    let names: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(names, ["b-1", "b-2", "b-3", "b-4", "b-5"]);
    assert_eq!(h.ok(&["terminal", "exec", "b-3", "echo $KLED_TERMINAL"]), "b-3\n");
    let ps: serde_json::Value = serde_json::from_str(&h.ok(&["terminal", "providers", "--json"])).unwrap();
    let local = ps.as_array().unwrap().iter().find(|p| p["kind"] == "local").unwrap();
    assert_eq!(local["available"], true);
    assert!(h.ok(&["terminal", "providers"]).contains("local"));
}

#[test]
fn neovim_aliases_answer_clearly() {
    let h = Home::new();
    // A Neovim that is not installed is named in the error (cli_neovim.rs
    // covers the working runtime).
    let o = h.run(&["neovim", "start", "nv", "--opt", "nvim=/nonexistent/nvim"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/nvim is not installed"), "{}", stderr(&o));
    // ...and nothing is kept of a start that failed.
    assert_eq!(h.ok(&["neovim", "list", "--json"]).trim(), "[]");
    // A create refuses what cannot start, as `providers` would (no record).
    let o =
        h.run(&["terminal", "create", "nv", "--runtime", "neovim", "--no-start", "--opt", "nvim=/nonexistent/nvim"]);
    assert!(stderr(&o).contains("/nonexistent/nvim is not installed"), "{}", stderr(&o));
    assert_eq!(h.ok(&["neovim", "list", "--json"]).trim(), "[]");
    h.ok(&["terminal", "create", "nv", "--runtime", "neovim", "--no-start"]);
    let list: serde_json::Value = serde_json::from_str(&h.ok(&["neovim", "list", "--json"])).unwrap();
    assert_eq!((list[0]["name"].as_str(), list[0]["state"].as_str()), (Some("nv"), Some("created")));
    assert_eq!(h.ok(&["terminal", "list", "--json"]).matches("\"nv\"").count(), 1);
    let ps: serde_json::Value = serde_json::from_str(&h.ok(&["neovim", "providers", "--json"])).unwrap();
    assert_eq!(ps.as_array().unwrap().len(), 2);
}

#[test]
fn exec_on_a_pseudo_terminal() {
    let h = Home::new();
    h.ok(&["terminal", "create", "pty"]);
    // Not a terminal here, so 24x80; stderr comes merged, with \r\n.
    let o = h.run(&["terminal", "exec", "-t", "pty", "test -t 0 && test -t 1 && stty size; echo e >&2; exit 3"]);
    assert_eq!(
        (o.status.code(), o.stdout.as_slice(), o.stderr.as_slice()),
        (Some(3), &b"24 80\r\ne\r\n"[..], &b""[..])
    );
    // -it: input goes through as it comes, and its end is the terminal's ^D.
    let mut child = h
        .kled()
        .args(["terminal", "exec", "-it", "pty", "read a; echo got:$a; cat; echo end"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("got:one\r\n") && out.contains("two\r\n") && out.ends_with("end\r\n"), "{out:?}");
    // Without -t: no terminal.
    assert_eq!(h.ok(&["terminal", "exec", "pty", "test -t 1 || echo none"]), "none\n");
}

/// Issue 14: hostile or careless input to the CLI.
#[test]
fn bad_input_is_a_clear_error_with_status_125_never_a_panic() {
    let h = Home::new();
    h.ok(&["terminal", "create", "bad"]);
    for timeout in ["1e30", "18446744073709551616", "-1", "nan", "inf"] {
        let o = h.run(&["terminal", "exec", "bad", "--timeout", timeout, "true"]);
        assert_eq!(o.status.code(), Some(125), "--timeout {timeout}: {}", stderr(&o));
        assert!(stderr(&o).contains("timeout"), "{}", stderr(&o));
    }
    // ~40,000 dotted levels used to overflow the stack (rc 134).
    let deep = format!("{}=1", vec!["a"; 40_000].join("."));
    let o = h.run(&["terminal", "create", "deep", "--opt", &deep]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--opt KEY must be 1 to 8"), "{}", stderr(&o));
    // A usage error is 125, not clap's 2 (which a command could return).
    let o = h.run(&["terminal", "exec", "--timeout"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let o = h.run(&["terminal", "bogus-subcommand"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(h.run(&["--help"]).status.success());
}

#[test]
fn streamed_output_arrives_whole_and_json_keeps_binary_bytes() {
    let h = Home::new();
    h.ok(&["terminal", "create", "big"]);
    // 20 MB through a pipe: all of it (the 16 MiB cap is for results held
    // in memory), exit 0.
    let o = h.run(&["terminal", "exec", "big", "head -c 20000000 /dev/zero"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), 20_000_000);
    // --json holds the result: past the cap it says so and fails...
    let o = h.run(&["terminal", "exec", "big", "--json", "head -c 17000000 /dev/zero"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-output"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["truncated"], true);
    // ...unless the cut was asked for.
    let o = h.run(&["terminal", "exec", "big", "--json", "--max-output", "10", "head -c 100 /dev/zero"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Bytes that are not UTF-8 come back exactly, in base64.
    let out = h.ok(&["terminal", "exec", "big", "--json", "printf '\\377\\376ok'"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stdout_b64"], "//5vaw==");
    assert!(v.get("stderr_b64").is_none());
}

/// A create that fails (here: a full disk) leaves nothing behind.
#[test]
fn a_failed_create_leaves_nothing() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED a_failed_create_leaves_nothing: mounting a tmpfs needs root");
        return;
    }
    let mnt = tempfile::Builder::new().prefix("kled-full-").tempdir_in("/tmp").unwrap();
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(mnt.path()).status().unwrap();
    assert!(mounted.success());
    let home = mnt.path().join("h");
    let o = Command::new(env!("CARGO_BIN_EXE_kled"))
        .env("KLED_HOME", &home)
        .args(["terminal", "create", "full"])
        .output()
        .unwrap();
    let list = Command::new(env!("CARGO_BIN_EXE_kled"))
        .env("KLED_HOME", &home)
        .args(["terminal", "list", "--json"])
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(mnt.path()).status();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left") && stderr(&o).contains("not kept"), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]", "{}", stderr(&list));
}

/// Another user (scripts/test.sh's `kled-other`, else nobody) on a machine whose engine socket is root's: the
/// container kinds are unavailable, and `providers` and `create` say why in
/// the same words.
#[test]
fn providers_and_create_agree_for_a_user_without_engine_access() {
    let sock = Path::new("/run/podman/podman.sock");
    if unsafe { libc::geteuid() } != 0 || !sock.exists() {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "needs root and the Podman socket");
        eprintln!("SKIPPED providers_and_create_agree_for_a_user_without_engine_access: needs root and Podman");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(sock).unwrap().permissions().mode() & 0o006 != 0 {
        eprintln!("SKIPPED: {} is open to every user here", sock.display());
        return;
    }
    let home = tempfile::Builder::new().prefix("kled-nobody-").tempdir_in("/tmp").unwrap();
    let other = std::env::var("KLED_TEST_OTHER_UID").ok().and_then(|u| u.parse::<u32>().ok()).unwrap_or(65534);
    let uid = other.to_string();
    std::os::unix::fs::chown(home.path(), Some(other), Some(other)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid", &uid, "--regid", &uid, "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_kled"))
            .args(args)
            .env("KLED_HOME", home.path())
            .env("HOME", home.path())
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap()
    };
    let o = as_nobody(&["terminal", "providers", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ps: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let container = ps.as_array().unwrap().iter().find(|p| p["kind"] == "container").unwrap();
    assert_eq!(container["available"], false, "{container}");
    let reason = container["reason"].as_str().unwrap();
    assert!(reason.contains("permission denied on /run/podman/podman.sock"), "{reason}");
    let o = as_nobody(&["terminal", "create", "c1", "--runtime", "container", "--image", "localhost/kled-busybox"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(reason), "create says {:?}, providers {reason:?}", stderr(&o));
}
