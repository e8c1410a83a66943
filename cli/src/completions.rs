//! Shell completions (clap_complete) and man pages (clap_mangen), generated
//! from the command-line syntax in args.rs so that they cannot disagree with
//! it. scripts/install-libkled.sh installs both.
//!
//! Neither needs a state dir, a configuration or a runtime: main.rs runs them
//! before opening any.

use crate::args::{Cli, CompletionsArgs, ManArgs};
use clap::CommandFactory;
use kled::{Error, ErrorKind};
use std::io::Write;

/// Prints the completion script for one shell on stdout.
pub fn completions(a: &CompletionsArgs) -> kled::Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "kled", &mut out);
    write_stdout(&out)?;
    Ok(0)
}

/// Prints kled.1, or writes every page into --out-dir.
pub fn man(a: &ManArgs) -> kled::Result<u8> {
    let cmd = Cli::command();
    match &a.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| io_error(format!("creating {}", dir.display()), e))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| io_error(format!("writing man pages in {}", dir.display()), e))?;
            println!("man pages written to {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| io_error("rendering kled.1", e))?;
            write_stdout(&out)?;
        }
    }
    Ok(0)
}

fn write_stdout(bytes: &[u8]) -> kled::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // `kled completions bash | head` is not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(io_error("writing to stdout", e)),
        _ => Ok(()),
    }
}

fn io_error(context: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{context}: {e}"))
}
