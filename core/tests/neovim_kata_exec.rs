//! The shared exec suite against neovim-kata terminals: Neovim inside an
//! isolated container (gVisor here, through the `isolation.kata` engine
//! setting), reached through the agent's socket proxy.

#[macro_use]
mod common;

const GVISOR_ENGINE: &str = "unix:///run/kled/gvisor.sock";

async fn neovim_kata(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    common::engine_or_skip(name)?;
    if !std::path::Path::new(GVISOR_ENGINE.trim_start_matches("unix://")).exists() {
        assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR_ENGINE} is required");
        eprintln!("SKIPPED {name}: {GVISOR_ENGINE} is not served (scripts/engine.sh starts it)");
        return None;
    }
    let mut config = kled::Config::default();
    config.isolation.kata.engine = Some(GVISOR_ENGINE.into());
    config.isolation.kata.runtime = Some("runsc".into());
    let m = kled::Manager::new(Some(home.path().to_path_buf()), config).unwrap();
    let name = format!("nk{}-{name}", std::process::id());
    let t =
        m.create_terminal("neovim-kata", &name, serde_json::json!({"image": "localhost/kled-debian"})).await.unwrap();
    t.start().await.unwrap();
    Some(t)
}

// As for host Neovim: a death by signal N is reported as exit 128+N.
exec_suite!(neovim_kata, signal_deaths = false);
