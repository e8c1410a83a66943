//! `kled serve codeapi`, `kled code` and `kled terminal code --remote` as a
//! user runs them: separate processes on loopback, real gVisor sandboxes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const GVISOR: &str = "/run/kled/gvisor.sock";
const KEY: &str = "cli-test-key-42";

struct Served {
    child: Child,
    base: String,
    home: tempfile::TempDir,
}

impl Served {
    fn start() -> Option<Served> {
        if !Path::new(GVISOR).exists() {
            assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR} is required");
            eprintln!("SKIPPED: {GVISOR} is not served (scripts/engine.sh starts it)");
            return None;
        }
        let home = tempfile::Builder::new().prefix("kled-cli-codeapi-").tempdir_in("/tmp").unwrap();
        let config = home.path().join("config.yaml");
        std::fs::write(&config, "codeapi:\n  sessions: { warm: 1, max_sandboxes: 3 }\n  rate_limit: { requests: 0 }\n")
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kled"))
            .args(["serve", "codeapi", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env("KLED_HOME", home.path().join("server"))
            .env("KLED_CODEAPI_KEYS", KEY)
            .env_remove("KLED_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_string();
        std::thread::spawn(move || lines.for_each(|l| eprintln!("server: {}", l.unwrap_or_default())));
        Some(Served { child, base, home })
    }

    fn kled(&self, key: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kled"));
        c.env("KLED_HOME", self.home.path().join("client"))
            .env("LIBRECHAT_CODE_BASEURL", &self.base)
            .env("LIBRECHAT_CODE_API_KEY", key)
            .env_remove("KLED_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.kled(KEY).args(args).output().unwrap()
    }

    /// SIGTERM: the server removes its sandboxes and exits 0.
    fn stop(mut self) {
        Command::new("kill").arg(self.child.id().to_string()).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "server exited {status}");
        let left = Command::new("podman")
            .args(["--remote", "--url", &format!("unix://{GVISOR}"), "ps", "-aq", "--filter"])
            .arg(format!("label=io.kled.home={}", self.home.path().join("server").display()))
            .output()
            .unwrap();
        assert!(left.stdout.is_empty(), "sandboxes left: {}", String::from_utf8_lossy(&left.stdout));
    }
}

impl Drop for Served {
    /// A failed test still stops the server the way that removes its
    /// sandboxes (SIGTERM), and only then kills it.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn kled_code_and_remote_terminal_runs_against_kled_serve_codeapi() {
    let Some(s) = Served::start() else { return };

    let o = s.run(&["code", "--lang", "python", "print(6*7)"]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "42\n".into()), "{}", text(&o.stderr));

    // The exit code passes through; stderr too.
    let o = s.run(&["code", "--lang", "py", "import sys; print('no', file=sys.stderr); sys.exit(4)"]);
    assert_eq!((o.status.code(), text(&o.stderr)), (Some(4), "no\n".into()));

    // Upload a file, save what the run made.
    let input = s.home.path().join("in.csv");
    std::fs::write(&input, "1\n2\n3\n").unwrap();
    let out = s.home.path().join("out");
    let o = s.run(&[
        "code",
        "--lang",
        "py",
        "--file",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "n = sum(map(int, open('in.csv'))); open('total.txt', 'w').write(str(n)); print(n)",
    ]);
    assert_eq!(text(&o.stdout), "6\n", "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(out.join("total.txt")).unwrap(), "6");

    // --json gives the server's answer.
    let o = s.run(&["code", "--json", "--lang", "bash", "echo hi > hi.txt"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"][0]["name"], "hi.txt");
    assert_eq!(v["session_id"].as_str().unwrap().len(), 21);

    // A terminal's remote runs share a session: files carry over.
    assert!(s.run(&["terminal", "create", "r", "--no-start"]).status.success());
    let o = s.run(&["terminal", "code", "r", "--remote", "--lang", "py", "open('state.txt','w').write('from run 1')"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = s.run(&["terminal", "code", "r", "--remote", "--lang", "py", "print(open('state.txt').read())"]);
    assert_eq!(text(&o.stdout), "from run 1\n", "{}", text(&o.stderr));

    // Clear errors: unknown language, wrong key.
    let o = s.run(&["code", "--lang", "cobol", "x"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("unsupported language \"cobol\""), "{}", text(&o.stderr));
    let o = s.kled("wrong-key").args(["code", "--lang", "py", "1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
    let err = text(&o.stderr);
    assert!(err.contains("401") && err.contains("LIBRECHAT_CODE_API_KEY"), "{err}");
    assert!(!err.contains("wrong-key"), "the key leaked: {err}");

    std::thread::sleep(Duration::from_millis(100));
    s.stop();
}
