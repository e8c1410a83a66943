//! kled-agent: spawns processes, moves files and streams output for the kled
//! core over one framed byte stream (see the `kled-protocol` crate).
//!
//! It is built as a static binary so that one file runs in any Linux image,
//! and it depends on nothing but std and libc to stay small.

mod files;
mod flow;
mod groups;
mod init;
mod listen;
mod out;
mod running;
mod session;
mod shutdown;
mod spawn;
mod sys;

use std::process::ExitCode;

const USAGE: &str = "usage: kled-agent --stdio
       kled-agent --listen SOCKET [--daemon] [--log FILE] [--allow-uid UID]...
       kled-agent --init [--listen SOCKET [--allow-uid UID]...]

Speaks the kled agent protocol on stdin/stdout, or on a unix socket.
--init: be a container's PID 1 (reap orphans, exit on SIGTERM).
--allow-uid: a uid besides our own and root's that may connect to SOCKET.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut listen = None;
    let mut daemon = false;
    let mut log = None;
    let mut stdio = false;
    let mut init = false;
    let mut allowed = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stdio" => stdio = true,
            "--init" => init = true,
            "--daemon" => daemon = true,
            "--listen" => listen = it.next().cloned(),
            "--log" => log = it.next().cloned(),
            "--allow-uid" => match it.next().and_then(|u| u.parse::<u32>().ok()) {
                Some(uid) => allowed.push(uid),
                None => {
                    eprintln!("kled-agent: --allow-uid takes a numeric uid\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--version" => {
                println!("kled-agent {} (protocol {})", env!("CARGO_PKG_VERSION"), kled_protocol::PROTOCOL_VERSION);
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("kled-agent: unknown argument {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if init {
        init::run(listen, &allowed);
    }
    let result = match (stdio, listen) {
        (true, None) => {
            session::Session::serve(std::io::stdin().lock(), std::io::stdout());
            Ok(())
        }
        (false, Some(path)) => listen::run(&path, daemon, log.as_deref(), &allowed),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kled-agent: {e}");
            ExitCode::from(1)
        }
    }
}
