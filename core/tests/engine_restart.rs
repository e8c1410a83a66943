//! The engine's API service stopped and started again under running
//! terminals. Alone in its own test binary: it stops the shared services.

#[macro_use]
mod common;

use kled::{Config, ErrorKind, ExecRequest, Manager};
use std::process::Command;
use std::time::{Duration, Instant};

const GVISOR_ENGINE: &str = "unix:///run/kled/gvisor.sock";

fn engine(cmd: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/engine.sh");
    let o = Command::new("bash").args([script, cmd]).output().unwrap();
    assert!(o.status.success(), "engine.sh {cmd}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Puts the services back however the test ends.
struct Restart;
impl Drop for Restart {
    fn drop(&mut self) {
        engine("start");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_survive_an_engine_restart_and_fail_clearly_meanwhile() {
    let Some(_) = common::engine_or_skip("engine restart") else { return };
    if !std::path::Path::new(GVISOR_ENGINE.trim_start_matches("unix://")).exists() {
        // The project's test command sets KLED_REQUIRE_ENGINE=1: there a
        // missing gVisor service is a failure, not a pass that ran nothing.
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR_ENGINE} is not served");
        eprintln!("SKIPPED: {GVISOR_ENGINE} is not served");
        return;
    }
    let home = common::Home::new();
    let mut config = Config::default();
    config.isolation.gvisor.engine = Some(GVISOR_ENGINE.into());
    let m = Manager::new(Some(home.path().to_path_buf()), config).unwrap();
    let pid = std::process::id();
    let plain = m
        .create_terminal("container", &format!("r{pid}-plain"), serde_json::json!({"image": "localhost/kled-busybox"}))
        .await
        .unwrap();
    plain.start().await.unwrap();
    let isolated = m
        .create_terminal("gvisor", &format!("r{pid}-iso"), serde_json::json!({"image": "localhost/kled-busybox"}))
        .await
        .unwrap();
    isolated.start().await.unwrap();

    let _restart = Restart;
    engine("stop");

    // A plain container's agent is reached over its own socket: it keeps working.
    let r = plain.exec(ExecRequest::new("echo still-here")).await.unwrap();
    assert_eq!(r.stdout, b"still-here\n");
    // The engine itself is needed for lifecycle operations: a clear error, fast.
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(30), plain.stop()).await.expect("stop hung").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable, "{e}");
    assert!(e.message().contains("does not answer"), "{e}");
    // The isolated terminal's stream went through the engine: it fails, never hangs.
    let outcome = tokio::time::timeout(Duration::from_secs(30), isolated.exec(ExecRequest::new("echo x")))
        .await
        .expect("exec hung");
    assert!(outcome.is_err(), "{outcome:?}");
    let listing = m.list_terminals().await.unwrap();
    assert!(
        listing.terminals.iter().all(|t| t.error.as_deref().unwrap_or("").contains("does not answer")),
        "{:?}",
        listing.terminals
    );

    drop(_restart);
    // Back: the next call re-establishes the agent stream.
    let mut ok = None;
    for _ in 0..50 {
        match isolated.exec(ExecRequest::new("echo again")).await {
            Ok(r) => {
                ok = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(ok.expect("the isolated terminal came back").stdout, b"again\n");
    plain.stop().await.unwrap();
    plain.remove().await.unwrap();
    isolated.remove().await.unwrap();
}
