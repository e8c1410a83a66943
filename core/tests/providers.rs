//! `providers` and create agree for every kind: "available" means a
//! terminal of that kind can be created, started and used here; "not
//! available" means create fails with the reason providers gave, and leaves
//! nothing behind. Run under two configurations: the default one (no Kata
//! here, so kata and neovim-kata are unavailable) and one that serves the
//! Kata kinds from the gVisor engine, as tests/neovim_kata.rs does.

mod common;

use kled::{Config, ErrorKind, ExecRequest, Kind, Manager};
use serde_json::json;

const GVISOR_SOCKET: &str = "/run/kled/gvisor.sock";

fn options(kind: Kind) -> serde_json::Value {
    match kind {
        Kind::Container | Kind::Gvisor | Kind::Kata => json!({"image": "localhost/kled-busybox"}),
        Kind::NeovimKata => json!({"image": "localhost/kled-debian"}),
        Kind::Local | Kind::Neovim => json!({}),
    }
}

/// Checks every kind against `m`; returns the kinds found available.
async fn agree(m: &Manager, tag: &str) -> Vec<Kind> {
    let providers = m.providers();
    assert_eq!(providers.len(), Kind::ALL.len());
    let checks = providers.into_iter().map(|p| async move {
        let name = format!("pa-{tag}-{}", p.kind);
        let created = m.create_terminal(p.kind.as_str(), &name, options(p.kind)).await;
        if !p.available {
            let reason = p.reason.clone().expect("an unavailable provider says why");
            let e = created.err().unwrap_or_else(|| panic!("{}: providers says {reason:?}, create worked", p.kind));
            assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable, "{}: {e}", p.kind);
            assert_eq!(e.message(), reason, "{}: create and providers give the same reason", p.kind);
            assert!(m.get_terminal(&name).await.is_err(), "{}: a refused create leaves no record", p.kind);
            return None;
        }
        let t = created.unwrap_or_else(|e| panic!("{}: providers says available, create failed: {e}", p.kind));
        t.start().await.unwrap_or_else(|e| panic!("{}: providers says available, start failed: {e}", p.kind));
        let r = t.exec(ExecRequest::new("echo agreed")).await.unwrap();
        assert_eq!(r.stdout_str(), "agreed\n", "{}", p.kind);
        assert_eq!(t.caps(), p.caps);
        assert_eq!(t.editor().is_ok(), p.caps.editor, "{}", p.kind);
        t.remove().await.unwrap();
        Some(p.kind)
    });
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

fn required() -> bool {
    std::env::var("KLED_REQUIRE_ENGINE").as_deref() == Ok("1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_and_create_agree_on_every_kind() {
    let home = common::Home::new();
    let available = agree(&home.manager, "d").await;
    assert!(available.contains(&Kind::Local));
    if required() {
        for k in [Kind::Container, Kind::Gvisor, Kind::Neovim] {
            assert!(available.contains(&k), "{k} must be available under KLED_REQUIRE_ENGINE=1: {available:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kata_kinds_on_a_configured_engine_agree_too() {
    if !std::path::Path::new(GVISOR_SOCKET).exists() {
        assert!(!required(), "{GVISOR_SOCKET} is required");
        eprintln!("SKIPPED kata_kinds_on_a_configured_engine_agree_too: {GVISOR_SOCKET} is not served");
        return;
    }
    let dir = tempfile::Builder::new().prefix("kled-test-").tempdir_in("/tmp").unwrap();
    let mut config = Config::default();
    config.isolation.kata.engine = Some(format!("unix://{GVISOR_SOCKET}"));
    config.isolation.kata.runtime = Some("runsc".into());
    let m = Manager::new(Some(dir.path().to_path_buf()), config).unwrap();
    let available = agree(&m, "k").await;
    assert!(available.contains(&Kind::Kata) && available.contains(&Kind::NeovimKata), "{available:?}");
    common::remove_containers(dir.path());
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_unavailable_for_the_same_reason() {
    let dir = tempfile::Builder::new().prefix("kled-test-").tempdir_in("/tmp").unwrap();
    let mut config = Config::default();
    config.isolation.gvisor.engine = Some(format!("unix://{}/no-engine.sock", dir.path().display()));
    let m = Manager::new(Some(dir.path().to_path_buf()), config).unwrap();
    let p = m.providers().into_iter().find(|p| p.kind == Kind::Gvisor).unwrap();
    assert!(!p.available);
    let e = m.create_terminal("gvisor", "g", options(Kind::Gvisor)).await.unwrap_err();
    assert_eq!(Some(e.message().to_string()), p.reason);
}
