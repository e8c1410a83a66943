//! The shared exec suite against container terminals on a real engine.

#[macro_use]
mod common;

/// The Debian test image (bash, python3) built by scripts/engine.sh.
pub const IMAGE: &str = "localhost/kled-debian";

async fn container(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    common::engine_or_skip(name)?;
    // Container names are global on the engine: keep them unique per run.
    let name = format!("x{}-{name}", std::process::id());
    let t = home.manager.create_terminal("container", &name, serde_json::json!({"image": IMAGE})).await.unwrap();
    t.start().await.unwrap();
    Some(t)
}

exec_suite!(container);
