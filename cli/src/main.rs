//! The `kled` command.

mod addr;
mod args;
mod commands;
mod completions;
mod hint;
mod input;
mod output;
mod tty;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(e) if !e.use_stderr() => e.exit(),
        // A usage error exits 125, kled's own failure status: 2 would look
        // like the status of a command run in a terminal.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(125);
        }
    };
    // Completions and man pages need no state dir, configuration or runtime.
    let offline = match &cli.command {
        args::Top::Completions(a) => Some(completions::completions(a)),
        args::Top::Man(a) => Some(completions::man(a)),
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("kled: {}", hint::error_text(&e));
                ExitCode::from(1)
            }
        };
    }
    init_logging();
    // A server uses both cores; every other command is one request at a time.
    let builder = match cli.command {
        args::Top::Serve(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kled: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let failure = cli.command.failure_code();
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kled: {}", hint::error_text(&e));
            ExitCode::from(failure)
        }
    }
}

/// Logs to stderr at the level in `KLED_LOG`, default warnings only; lines
/// capped by the core.
fn init_logging() {
    kled::logging::init(Some("warn"));
}
