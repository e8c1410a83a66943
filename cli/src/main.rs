//! The `kled` command.

mod addr;
mod args;
mod codeapi_cmd;
mod commands;
mod completions;
mod mcp_cmd;
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
                eprintln!("kled: {e}");
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
            eprintln!("kled: {e}");
            ExitCode::from(failure)
        }
    }
}

/// Logs to stderr; the level comes from `KLED_LOG` (e.g. `debug`,
/// `kled=trace`), default warnings only. Each line is capped at
/// [`MAX_LOG_LINE`] bytes: at `trace` the engine client logs whole request
/// bodies (an agent upload, a file), which wrote 1.27 GB in 9 minutes of
/// `serve codeapi` (issue 14 finding 16).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KLED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| CappedStderr).with_target(false).init();
}

const MAX_LOG_LINE: usize = 4096;

/// stderr, each write (one log event) cut to [`MAX_LOG_LINE`] bytes with a
/// note of how much was cut.
struct CappedStderr;

impl std::io::Write for CappedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if buf.len() <= MAX_LOG_LINE {
            err.write_all(buf)?;
        } else {
            err.write_all(&buf[..MAX_LOG_LINE])?;
            writeln!(err, " [log line cut: {} more bytes]", buf.len() - MAX_LOG_LINE)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
