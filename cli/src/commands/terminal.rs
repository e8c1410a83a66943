//! `kled terminal ...`: create, list, start, stop, remove, bulk, providers.

use super::exec;
use crate::args::{OptionArgs, TerminalCmd};
use crate::{input, output};
use kled::{BulkRequest, Kind, Manager};
use std::sync::Arc;

type Result<T> = kled::Result<T>;

pub async fn run(m: &Manager, cmd: TerminalCmd) -> Result<u8> {
    match cmd {
        TerminalCmd::Create(a) => create(m, &a.runtime, &a.name, &a.options, !a.no_start).await,
        TerminalCmd::List(a) => list(m, a.json, |_| true).await,
        TerminalCmd::Exec(a) => exec::exec(m, a).await,
        TerminalCmd::Code(a) => exec::code(m, a).await,
        TerminalCmd::Start(a) => {
            m.get_terminal(&a.name).await?.start().await?;
            println!("started {}", a.name);
            Ok(0)
        }
        TerminalCmd::Stop(a) => {
            m.get_terminal(&a.name).await?.stop().await?;
            println!("stopped {}", a.name);
            Ok(0)
        }
        TerminalCmd::Rm(a) => {
            m.remove_terminal(&a.name).await?;
            println!("removed {}", a.name);
            Ok(0)
        }
        TerminalCmd::Bulk(a) => {
            let options = input::build_options(&a.options)?;
            bulk(m, &a.runtime, a.count, a.prefix, options, !a.no_start, a.concurrency, a.json).await
        }
        TerminalCmd::Providers(a) => providers(m, a.json, |_| true),
    }
}

pub async fn create(m: &Manager, kind: &str, name: &str, options: &OptionArgs, start: bool) -> Result<u8> {
    let options = input::build_options(options)?;
    let t = m.create_terminal(kind, name, options).await?;
    if start {
        if let Err(e) = t.start().await {
            // A failed create leaves nothing behind (a record in "failed",
            // a container, a working directory): undo it.
            return Err(match t.remove().await {
                Ok(()) => e.context(format!("could not start {name}, so it was not kept")),
                Err(rm) => e.context(format!(
                    "could not start {name}, and removing it again failed too ({rm}); `kled terminal rm {name}` retries"
                )),
            });
        }
        println!("created and started {name} ({kind})");
    } else {
        println!("created {name} ({kind})");
    }
    Ok(0)
}

pub async fn list(m: &Manager, json: bool, keep: impl Fn(Kind) -> bool) -> Result<u8> {
    let listing = m.list_terminals().await?;
    for p in &listing.problems {
        eprintln!("kled: warning: skipping terminal {}: {}", p.name, p.error);
    }
    let terminals: Vec<_> = listing.terminals.into_iter().filter(|t| keep(t.kind)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&terminals).expect("serializes"));
    } else {
        output::terminal_table(&terminals);
    }
    Ok(0)
}

pub fn providers(m: &Manager, json: bool, keep: impl Fn(Kind) -> bool) -> Result<u8> {
    let ps: Vec<_> = m.providers().into_iter().filter(|p| keep(p.kind)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&ps).expect("serializes"));
    } else {
        output::provider_table(&ps);
    }
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
pub async fn bulk(
    m: &Manager,
    kind: &str,
    count: usize,
    prefix: Option<String>,
    options: serde_json::Value,
    start: bool,
    concurrency: usize,
    json: bool,
) -> Result<u8> {
    let bar = output::progress_bar(count as u64, if start { "creating and starting" } else { "creating" });
    let progress_bar = bar.clone();
    let mut req = BulkRequest::new(kind, count);
    req.prefix = prefix;
    req.options = options;
    req.start = start;
    req.concurrency = concurrency;
    req.progress = Some(Arc::new(move |done, _total| progress_bar.set_position(done as u64)));
    let result = m.create_bulk(req).await;
    bar.finish_and_clear();
    let terminals = result?;
    let names: Vec<&str> = terminals.iter().map(|t| t.name()).collect();
    if json {
        println!("{}", serde_json::to_string(&names).expect("serializes"));
    } else {
        println!("created {} {kind} terminals: {}", names.len(), names.join(" "));
    }
    Ok(0)
}
