//! The shared exec suite against Neovim terminals: every command runs as a
//! job of a real headless Neovim, driven over msgpack-RPC.

#[macro_use]
mod common;

async fn neovim(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    if !common::nvim_or_skip(name) {
        return None;
    }
    let t = home.manager.create_terminal("neovim", name, serde_json::json!({})).await.unwrap();
    t.start().await.unwrap();
    Some(t)
}

// Neovim reports a death by signal N as exit code 128+N, the same as
// `exit 128+N`: this runtime cannot say "killed by signal" honestly, so it
// reports the exit code and the suite skips that one assertion.
exec_suite!(neovim, signal_deaths = false);
