//! What each command does, on the core's Manager: one module per command
//! group. This module only dispatches; the groups never import it.

mod codeapi;
mod exec;
mod mcp;
mod neovim;
mod terminal;

use crate::args::{Cli, Top};
use kled::{Config, Manager};

type Result<T> = kled::Result<T>;

/// Runs the command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<u8> {
    let config = Config::load(cli.config.as_deref())?;
    let manager = Manager::new(cli.state_dir.clone(), config)?;
    match cli.command {
        Top::Terminal(cmd) => terminal::run(&manager, cmd).await,
        Top::Neovim(cmd) => neovim::run(&manager, cmd).await,
        Top::Mcp(a) => mcp::run(manager, a).await,
        Top::Code(a) => codeapi::remote_code(&manager, a).await,
        Top::Serve(cmd) => codeapi::serve(manager, cmd).await,
        // main.rs runs these before opening the state dir; here for completeness.
        Top::Completions(a) => crate::completions::completions(&a),
        Top::Man(a) => crate::completions::man(&a),
    }
}
