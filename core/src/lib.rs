//! kled: named, long-lived terminals where programs, people and AI agents
//! run commands and code, on this host or in containers, sandboxes, Neovim
//! or remote hosts.
//!
//! ```no_run
//! # async fn demo() -> kled::Result<()> {
//! let manager = kled::Manager::from_env()?;
//! let t = manager.create_terminal("local", "dev", serde_json::json!({})).await?;
//! t.start().await?;
//! let r = t.exec(kled::ExecRequest::new("echo hello")).await?;
//! assert_eq!(r.stdout, b"hello\n");
//! t.remove().await?;
//! # Ok(()) }
//! ```
//!
//! Every terminal hosts a small static `kled-agent` (embedded in this
//! library) that spawns processes and streams their output over one framed
//! connection; see [`protocol`].

pub mod agent;
mod backend;
mod bulk;
pub mod cap;
pub mod config;
pub mod engine;
mod error;
mod exec;
mod kind;
pub mod languages;
pub mod librechat;
mod manager;
mod name;
mod nvim;
mod private_dir;
pub mod protocol;
mod providers;
mod runtime;
mod state;
mod terminal;

pub use bulk::{BulkRequest, Progress, DEFAULT_BULK_CONCURRENCY, MAX_BULK};
pub use config::{Config, Secret};
pub use error::{Error, ErrorKind, Result};
pub use exec::{
    timeout_from_secs, Command, ExecEvent, ExecRequest, ExecResult, ExitStatus, TtySize, DEFAULT_MAX_OUTPUT,
    MAX_TIMEOUT_SECS,
};
pub use kind::Kind;
pub use manager::{Listing, Manager};
pub use name::{validate_name, MAX_NAME_LEN};
pub use nvim::BufferInfo;
pub use providers::Provider;
pub use state::{BadRecord, State};
pub use terminal::{CodeRequest, Editor, ExecControl, ExecStream, Terminal, TerminalInfo};

/// The version of this library.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
