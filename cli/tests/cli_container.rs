//! `kled terminal ... --runtime container` end to end, across processes, on
//! the real engine that scripts/engine.sh sets up.

use std::process::{Command, Output};

fn kled(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kled")).env("KLED_HOME", home).args(args).output().unwrap()
}

fn engine_present() -> bool {
    let found = kled::engine::discover(None).is_ok();
    if !found {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "a container engine is required");
        eprintln!("SKIPPED: no container engine (run scripts/engine.sh)");
    }
    found
}

#[test]
fn container_terminal_from_the_cli() {
    if !engine_present() {
        return;
    }
    let home = tempfile::Builder::new().prefix("kled-clic-").tempdir_in("/tmp").unwrap();
    let h = home.path();
    let name = format!("cli{}", std::process::id());
    let o = kled(
        h,
        &[
            "terminal",
            "create",
            &name,
            "--runtime",
            "container",
            "--image",
            "localhost/kled-busybox",
            "--memory",
            "128",
            "--opt",
            "env.STAGE=test",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kled(h, &["terminal", "exec", &name, "echo $STAGE; hostname; exit 9"]);
    assert_eq!(o.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("test\n"));
    let list: serde_json::Value = serde_json::from_slice(&kled(h, &["terminal", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["kind"], "container");
    assert_eq!(list[0]["state"], "running");
    assert_eq!(list[0]["options"]["memory"], 128);
    assert!(kled(h, &["terminal", "stop", &name]).status.success());
    let list: serde_json::Value = serde_json::from_slice(&kled(h, &["terminal", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["state"], "stopped");
    assert!(kled(h, &["terminal", "start", &name]).status.success());
    let o = kled(h, &["terminal", "code", &name, "--lang", "sh", "echo code-ran"]);
    assert_eq!(o.stdout, b"code-ran\n");
    assert!(kled(h, &["terminal", "rm", &name]).status.success());
    assert_eq!(String::from_utf8_lossy(&kled(h, &["terminal", "list", "--json"]).stdout).trim(), "[]");
}
