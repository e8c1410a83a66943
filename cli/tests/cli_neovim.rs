//! `kled neovim ...` as separate processes sharing a state dir: the
//! seed-compatible commands, the editor commands, attach, bulk 5 and a
//! killed Neovim. Needs nvim on PATH: skips (saying why) without it, and
//! fails instead with KLED_REQUIRE_ENGINE=1.

use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Home {
        Home(tempfile::Builder::new().prefix("kled-cli-nvim-").tempdir_in("/tmp").unwrap())
    }

    fn kled(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kled"));
        c.env("KLED_HOME", self.0.path()).env_remove("KLED_CONFIG").env_remove("KLED_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.kled().args(args).stdin(Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "kled {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn pid(&self, name: &str) -> i32 {
        let text = std::fs::read_to_string(self.path().join("terminals").join(format!("{name}.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["runtime"]["pid"].as_u64().unwrap() as i32
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Stop every terminal so no Neovim outlives the test.
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

fn nvim_or_skip(test: &str) -> bool {
    let found = std::env::var("PATH").unwrap_or_default().split(':').any(|d| Path::new(d).join("nvim").is_file());
    if found {
        return true;
    }
    if std::env::var("KLED_REQUIRE_ENGINE").as_deref() == Ok("1") {
        panic!("{test}: nvim is required (KLED_REQUIRE_ENGINE=1); install it with apt-get install neovim");
    }
    eprintln!("SKIPPED {test}: nvim is not installed (apt-get install neovim)");
    false
}

#[test]
fn seed_commands_work_across_processes() {
    if !nvim_or_skip("seed_commands_work_across_processes") {
        return;
    }
    let h = Home::new();
    assert!(h.ok(&["neovim", "start", "my-terminal"]).contains("my-terminal"));
    // start is idempotent and keeps the same server.
    let pid = h.pid("my-terminal");
    h.ok(&["neovim", "start", "my-terminal"]);
    assert_eq!(h.pid("my-terminal"), pid);
    h.ok(&["neovim", "exec", "my-terminal", "echo kept > f.txt"]);
    let listing = h.ok(&["neovim", "exec", "my-terminal", "ls -la"]);
    assert!(listing.contains("f.txt"), "{listing}");
    let o = h.run(&["neovim", "exec", "my-terminal", "echo out; echo err >&2; exit 7"]);
    assert_eq!((o.status.code(), o.stdout.as_slice(), o.stderr.as_slice()), (Some(7), &b"out\n"[..], &b"err\n"[..]));
    let o = h.run(&["neovim", "exec", "my-terminal", "--timeout", "0.3", "echo begun; sleep 30"]);
    assert_eq!(o.status.code(), Some(124));
    assert_eq!(o.stdout, b"begun\n");
    assert_eq!(
        h.ok(&["neovim", "code", "my-terminal", "--lang", "python", "print('Hello, World!')"]),
        "Hello, World!\n"
    );
    let list: serde_json::Value = serde_json::from_str(&h.ok(&["neovim", "list", "--json"])).unwrap();
    assert_eq!((list[0]["name"].as_str(), list[0]["kind"].as_str()), (Some("my-terminal"), Some("neovim")));
    assert_eq!(list[0]["state"], "running");
    let providers: serde_json::Value = serde_json::from_str(&h.ok(&["neovim", "providers", "--json"])).unwrap();
    let nv = providers.as_array().unwrap().iter().find(|p| p["kind"] == "neovim").unwrap();
    assert_eq!(nv["available"], true);

    h.ok(&["neovim", "stop", "my-terminal"]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(true)
        }
    );
    let o = h.run(&["neovim", "exec", "my-terminal", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
    h.ok(&["neovim", "start", "my-terminal"]);
    assert_eq!(h.ok(&["neovim", "exec", "my-terminal", "cat f.txt"]), "kept\n");
}

#[test]
fn edit_read_buffers_and_attach() {
    if !nvim_or_skip("edit_read_buffers_and_attach") {
        return;
    }
    let h = Home::new();
    h.ok(&["neovim", "start", "ed"]);
    let file = h.path().join("work").join("ed").join("hello.py");
    std::fs::write(&file, "def greet():\n    return 'hi'\n\nprint(greet())\n").unwrap();
    let out = h.ok(&["neovim", "edit", "ed", "hello.py", "--lines", "2:2", "--text", "    return 'hello, world'"]);
    assert!(out.contains("wrote") && out.contains("hello.py"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "def greet():\n    return 'hello, world'\n\nprint(greet())\n");
    assert_eq!(h.ok(&["neovim", "exec", "ed", "python3 hello.py"]), "hello, world\n");
    // Insert before line 1 (an empty range), from stdin.
    let mut child = h
        .kled()
        .args(["neovim", "edit", "ed", "hello.py", "--lines", "1:0", "--text", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"# -*- coding: utf-8 -*-\nimport sys\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("# -*- coding: utf-8 -*-\nimport sys\ndef greet():\n"));
    assert_eq!(
        h.ok(&["neovim", "read", "ed", "hello.py", "--lines", "3:4"]),
        "def greet():\n    return 'hello, world'\n"
    );
    assert_eq!(h.ok(&["neovim", "read", "ed", "hello.py", "-n", "--lines", "6:"]), "     6  print(greet())\n");
    // --no-write leaves the disk alone, and another process sees the buffer's change.
    h.ok(&["neovim", "edit", "ed", "hello.py", "--lines", "6", "--text", "print(greet().upper())", "--no-write"]);
    assert!(std::fs::read_to_string(&file).unwrap().ends_with("print(greet())\n"));
    assert_eq!(h.ok(&["neovim", "read", "ed", "hello.py", "--lines", "6"]), "print(greet().upper())\n");
    let buffers = h.ok(&["neovim", "buffers", "ed"]);
    assert!(
        buffers.contains("hello.py") && buffers.contains("modified") && buffers.contains("kled://log"),
        "{buffers}"
    );
    let o = h.run(&["neovim", "read", "ed", "hello.py", "--lines", "0:3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("1-based"), "{}", stderr(&o));

    // attach: interactive on 0.9+ (not testable here without a tty); on
    // older Neovim it says so and prints the command log.
    let version = Command::new("nvim").arg("--version").output().unwrap().stdout;
    if String::from_utf8_lossy(&version).starts_with("NVIM v0.7")
        || String::from_utf8_lossy(&version).starts_with("NVIM v0.8")
    {
        let o = h.run(&["neovim", "attach", "ed"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("needs 0.9+"), "{}", stderr(&o));
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(log.contains("$ python3 hello.py\n[exit 0]\n"), "{log}");
    }

    // Editor commands on a non-Neovim terminal are a clear error.
    h.ok(&["terminal", "create", "plain"]);
    let o = h.run(&["neovim", "read", "plain", "x.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("need a neovim terminal"), "{}", stderr(&o));
}

#[test]
fn bulk_five_and_a_killed_neovim() {
    if !nvim_or_skip("bulk_five_and_a_killed_neovim") {
        return;
    }
    let h = Home::new();
    let out = h.ok(&["neovim", "bulk", "5"]);
    assert!(out.contains("created 5 neovim terminals"), "{out}");
    for i in 1..=5 {
        let name = format!("neovim-{i}");
        assert_eq!(h.ok(&["neovim", "exec", &name, "echo $KLED_TERMINAL"]), format!("{name}\n"));
    }
    let pid = h.pid("neovim-3");
    kill9(pid);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let o = h.run(&["neovim", "exec", "neovim-3", "echo hi"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("Neovim") && stderr(&o).contains("gone"), "{}", stderr(&o));
    assert!(h.ok(&["neovim", "list"]).contains("failed"));
    h.ok(&["neovim", "start", "neovim-3"]);
    assert_eq!(h.ok(&["neovim", "exec", "neovim-3", "echo back"]), "back\n");
}

/// SIGKILL (this crate's tests have no libc dependency).
fn kill9(pid: i32) {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn kata_flag_runs_neovim_in_a_sandbox() {
    const GVISOR_SOCK: &str = "/run/kled/gvisor.sock";
    if !nvim_or_skip("kata_flag_runs_neovim_in_a_sandbox") {
        return;
    }
    if !Path::new(GVISOR_SOCK).exists() {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR_SOCK} is required");
        eprintln!("SKIPPED kata_flag_runs_neovim_in_a_sandbox: {GVISOR_SOCK} is not served (scripts/engine.sh)");
        return;
    }
    let h = Home::new();
    let config = h.path().join("config.yaml");
    std::fs::write(&config, format!("isolation:\n  kata:\n    engine: unix://{GVISOR_SOCK}\n    runtime: runsc\n"))
        .unwrap();
    let config = config.display().to_string();
    let name = format!("cnk{}", std::process::id());
    let kled = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        h.ok(&all)
    };
    assert!(kled(&["neovim", "start", &name, "--kata", "--image", "localhost/kled-debian"]).contains("neovim-kata"));
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(kled(&["neovim", "exec", &name, "uname -r"]).trim(), host.trim());
    assert_eq!(kled(&["neovim", "code", &name, "--lang", "python", "print('Hello, World!')"]), "Hello, World!\n");
    kled(&["neovim", "edit", &name, "/tmp/k.txt", "--text", "in the sandbox"]);
    assert_eq!(kled(&["neovim", "exec", &name, "cat /tmp/k.txt"]), "in the sandbox\n");
    assert_eq!(kled(&["neovim", "read", &name, "/tmp/k.txt"]), "in the sandbox\n");
    let list: serde_json::Value = serde_json::from_str(&kled(&["neovim", "list", "--json"])).unwrap();
    assert_eq!(list[0]["kind"], "neovim-kata");
    kled(&["neovim", "stop", &name]);
    kled(&["terminal", "rm", &name]);
}
