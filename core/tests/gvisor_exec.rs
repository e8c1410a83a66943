//! The shared exec suite against gVisor terminals: real isolation, and the
//! engine's attach stream as the agent's transport (isolated sandboxes get
//! no host socket directory).

#[macro_use]
mod common;

const GVISOR_ENGINE: &str = "unix:///run/kled/gvisor.sock";

async fn gvisor(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    common::engine_or_skip(name)?;
    if !std::path::Path::new(GVISOR_ENGINE.trim_start_matches("unix://")).exists() {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR_ENGINE} is required");
        eprintln!("SKIPPED {name}: {GVISOR_ENGINE} is not served (scripts/engine.sh starts it)");
        return None;
    }
    let mut config = kled::Config::default();
    config.isolation.gvisor.engine = Some(GVISOR_ENGINE.into());
    let m = kled::Manager::new(Some(home.path().to_path_buf()), config).unwrap();
    let name = format!("g{}-{name}", std::process::id());
    let t = m.create_terminal("gvisor", &name, serde_json::json!({"image": "localhost/kled-debian"})).await.unwrap();
    t.start().await.unwrap();
    Some(t)
}

exec_suite!(gvisor);
