//! kled: named, long-lived terminals where programs, people and AI agents
//! run commands and code, on this host or in containers, sandboxes, Neovim
//! or remote hosts.
//!
//! A local terminal: create it, start it, run a command, read its result,
//! remove it. (This example runs as a doctest in `cargo test`.)
//!
//! ```
//! use std::time::Duration;
//!
//! # fn main() -> kled::Result<()> {
//! # let home = tempfile::tempdir().unwrap();
//! # let state_dir = Some(home.path().to_path_buf());
//! // State (one record per terminal) in $KLED_HOME by default; here a temp dir.
//! let manager = kled::Manager::new(state_dir, kled::Config::default())?;
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let t = manager.create_terminal("local", "dev", serde_json::json!({})).await?;
//!     t.start().await?;
//!
//!     // A string runs in the terminal's shell; a non-zero exit is a result, not an error.
//!     let r = t.exec(kled::ExecRequest::new("echo hello; echo oops >&2; exit 3")).await?;
//!     assert_eq!((r.stdout.as_slice(), r.stderr.as_slice()), (&b"hello\n"[..], &b"oops\n"[..]));
//!     assert_eq!(r.exit_code, Some(3));
//!
//!     // An argv runs without a shell; a timeout kills the process group.
//!     let argv = kled::ExecRequest::new(vec!["sleep".to_string(), "10".to_string()]);
//!     let r = t.exec(argv.timeout(Duration::from_millis(200))).await?;
//!     assert!(r.timed_out);
//!
//!     t.write_file("notes/a.txt", b"data", None).await?;
//!     assert_eq!(t.read_file("notes/a.txt").await?, b"data");
//!     t.remove().await
//! })
//! # }
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
mod editor;
pub mod engine;
mod error;
mod exec;
pub mod file_mode;
pub mod fork;
mod hint;
mod kind;
pub mod languages;
pub mod librechat;
pub mod logging;
mod manager;
mod mux;
mod name;
mod nvim;
mod private_dir;
pub mod protocol;
mod providers;
mod registry;
mod runtime;
mod secret;
mod state;
mod stream;
mod terminal;

pub use bulk::{BulkRequest, Progress, DEFAULT_BULK_CONCURRENCY, MAX_BULK};
pub use config::{Config, Secret};
pub use editor::Editor;
pub use error::{Error, ErrorKind, Result};
pub use exec::{
    timeout_from_secs, Command, ExecEvent, ExecRequest, ExecResult, ExitStatus, TtySize, DEFAULT_MAX_OUTPUT,
    MAX_TIMEOUT_SECS,
};
pub use hint::{with_hint, Hint};
pub use kind::Kind;
pub use manager::{Listing, Manager};
pub use name::{validate_name, MAX_NAME_LEN};
pub use nvim::BufferInfo;
pub use providers::Provider;
pub use runtime::Caps;
pub use state::{BadRecord, State};
pub use stream::{ExecControl, ExecStream};
pub use terminal::{CodeRequest, Terminal, TerminalInfo};

/// The version of this library.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
