//! The shared exec suite against local terminals.

#[macro_use]
mod common;

async fn local(home: &common::Home, name: &str) -> Option<kled::Terminal> {
    Some(home.local(name).await)
}

exec_suite!(local);
