//! The shared exec suite against local terminals.

#[macro_use]
mod common;

async fn local(home: &common::Home, name: &str) -> kled::Terminal {
    home.local(name).await
}

exec_suite!(local);
