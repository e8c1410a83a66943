//! What each command does, on the core's Manager.

use crate::args::*;
use crate::output;
use kled::{BulkRequest, CodeRequest, Config, ExecEvent, ExecRequest, Kind, Manager};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

type Result<T> = std::result::Result<T, kled::Error>;

/// Runs the command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<u8> {
    let config = Config::load(cli.config.as_deref())?;
    let manager = Manager::new(cli.state_dir.clone(), config)?;
    match cli.command {
        Top::Terminal(cmd) => terminal(&manager, cmd).await,
        Top::Neovim(cmd) => neovim(&manager, cmd).await,
        Top::Mcp(a) => crate::mcp_cmd::run(manager, a).await,
        Top::Code(a) => crate::codeapi_cmd::remote_code(&manager, a).await,
        Top::Serve(cmd) => crate::codeapi_cmd::serve(manager, cmd).await,
        // main.rs runs these before opening the state dir; here for completeness.
        Top::Completions(a) => crate::completions::completions(&a),
        Top::Man(a) => crate::completions::man(&a),
    }
}

async fn terminal(m: &Manager, cmd: TerminalCmd) -> Result<u8> {
    match cmd {
        TerminalCmd::Create(a) => create(m, &a.runtime, &a.name, &a.options, !a.no_start).await,
        TerminalCmd::List(a) => list(m, a.json, |_| true).await,
        TerminalCmd::Exec(a) => exec(m, a).await,
        TerminalCmd::Code(a) => code(m, a).await,
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
            let options = build_options(&a.options)?;
            bulk(m, &a.runtime, a.count, a.prefix, options, !a.no_start, a.concurrency, a.json).await
        }
        TerminalCmd::Providers(a) => providers(m, a.json, |_| true),
    }
}

/// The terminals `kled neovim` lists: those with an editor.
fn is_neovim(k: Kind) -> bool {
    kled::Caps::of(k).editor
}

async fn neovim(m: &Manager, cmd: NeovimCmd) -> Result<u8> {
    let kind = |kata: bool| if kata { "neovim-kata" } else { "neovim" };
    match cmd {
        NeovimCmd::List(a) => list(m, a.json, is_neovim).await,
        NeovimCmd::Start(a) => match m.get_terminal(&a.name).await {
            Ok(t) => {
                t.start().await?;
                println!("started {}", a.name);
                Ok(0)
            }
            Err(e) if e.kind() == kled::ErrorKind::NotFound => create(m, kind(a.kata), &a.name, &a.options, true).await,
            Err(e) => Err(e),
        },
        NeovimCmd::Exec(a) => exec(m, a).await,
        NeovimCmd::Stop(a) => {
            m.get_terminal(&a.name).await?.stop().await?;
            println!("stopped {}", a.name);
            Ok(0)
        }
        NeovimCmd::Bulk(a) => {
            let options = build_options(&a.options)?;
            bulk(m, kind(a.kata), a.count, a.prefix, options, true, kled::DEFAULT_BULK_CONCURRENCY, a.json).await
        }
        NeovimCmd::Code(a) => code(m, a).await,
        NeovimCmd::Providers(a) => providers(m, a.json, is_neovim),
        NeovimCmd::Edit(a) => neovim_edit(m, a).await,
        NeovimCmd::Read(a) => neovim_read(m, a).await,
        NeovimCmd::Buffers(a) => neovim_buffers(m, a).await,
        NeovimCmd::Attach(a) => neovim_attach(m, a).await,
    }
}

/// `A:B` (1-based, inclusive) as a zero-based, end-exclusive range; None is
/// the whole file.
pub fn line_range(spec: Option<&str>) -> Result<(i64, i64)> {
    let bad = || {
        kled::Error::new(
            kled::ErrorKind::InvalidArgument,
            format!("--lines {:?}: expected A:B, A, A: or :B with 1-based line numbers", spec.unwrap_or_default()),
        )
    };
    let Some(spec) = spec else { return Ok((0, -1)) };
    let num = |s: &str| -> Result<Option<i64>> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(bad)
    };
    let (a, b) = match spec.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let a = num(spec)?.ok_or_else(bad)?;
            (Some(a), Some(a))
        }
    };
    let start = match a {
        Some(0) => return Err(bad()),
        Some(a) => a - 1,
        None => 0,
    };
    let end = b.unwrap_or(-1);
    if b.is_some() && end < start {
        return Err(bad());
    }
    Ok((start, end))
}

async fn neovim_edit(m: &Manager, a: NeovimEditArgs) -> Result<u8> {
    let editor = m.get_terminal(&a.name).await?.editor()?;
    let text = if a.text == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| kled::Error::new(kled::ErrorKind::Io, format!("reading stdin: {e}")))?;
        s
    } else {
        a.text.clone()
    };
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let lines: Vec<String> = if text.is_empty() { Vec::new() } else { body.split('\n').map(str::to_string).collect() };
    let (start, end) = line_range(a.lines.as_deref())?;
    let mut info = editor.set_lines(&a.file, start, end, &lines).await?;
    if !a.no_write {
        info = editor.write(&a.file).await?;
    }
    println!(
        "{} {}: {} lines{}",
        if a.no_write { "changed" } else { "wrote" },
        info.name,
        info.lines,
        if info.modified { " (modified, not written)" } else { "" }
    );
    Ok(0)
}

async fn neovim_read(m: &Manager, a: NeovimReadArgs) -> Result<u8> {
    let editor = m.get_terminal(&a.name).await?.editor()?;
    let (start, end) = line_range(a.lines.as_deref())?;
    let lines = editor.read_lines(&a.file, start, end).await?;
    let mut out = std::io::stdout().lock();
    for (i, l) in lines.iter().enumerate() {
        let _ = if a.numbers { writeln!(out, "{:>6}  {l}", start + 1 + i as i64) } else { writeln!(out, "{l}") };
    }
    Ok(0)
}

async fn neovim_buffers(m: &Manager, a: NeovimBuffersArgs) -> Result<u8> {
    let buffers = m.get_terminal(&a.name).await?.editor()?.buffers().await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&buffers).expect("serializes"));
        return Ok(0);
    }
    println!("{:>4}  {:>6}  {:<8}  NAME", "BUF", "LINES", "STATE");
    for b in buffers {
        let state = if b.modified {
            "modified"
        } else if b.loaded {
            "saved"
        } else {
            "unloaded"
        };
        println!("{:>4}  {:>6}  {:<8}  {}", b.number, b.lines, state, b.name);
    }
    Ok(0)
}

/// The installed Neovim's (major, minor) version.
fn nvim_version() -> Option<(u32, u32)> {
    let out = std::process::Command::new("nvim").arg("--version").output().ok()?;
    let first = String::from_utf8_lossy(&out.stdout).lines().next()?.to_string();
    let v = first.trim().strip_prefix("NVIM v")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

async fn neovim_attach(m: &Manager, a: NameArg) -> Result<u8> {
    let t = m.get_terminal(&a.name).await?;
    let editor = t.editor()?;
    let version = nvim_version();
    let socket = editor.socket()?;
    if let (Some((major, minor)), Some(socket), kled::Kind::Neovim) = (version, &socket, t.kind()) {
        if (major, minor) >= (0, 9) {
            // Make sure it runs (this reports a dead Neovim clearly).
            editor.buffers().await?;
            let status = std::process::Command::new("nvim")
                .args(["--remote-ui", "--server"])
                .arg(socket)
                .status()
                .map_err(|e| kled::Error::new(kled::ErrorKind::Io, format!("cannot run nvim --remote-ui: {e}")))?;
            return Ok(status.code().unwrap_or(1) as u8);
        }
    }
    let why = match version {
        Some((major, minor)) => {
            format!("the installed Neovim is {major}.{minor}; attaching needs 0.9+ (nvim --remote-ui)")
        }
        None => "nvim is not installed on this host".to_string(),
    };
    eprintln!("kled: cannot attach to {}: {why}. The commands that ran in it (buffer kled://log):", a.name);
    let mut out = std::io::stdout().lock();
    for line in editor.log().await? {
        let _ = writeln!(out, "{line}");
    }
    Ok(0)
}

/// Turns the option flags into the runtime's JSON options.
/// The most dotted parts a `--opt KEY` may have.
const MAX_OPT_DEPTH: usize = 8;

pub fn build_options(a: &OptionArgs) -> Result<serde_json::Value> {
    let mut o = serde_json::Map::new();
    if let Some(v) = &a.image {
        o.insert("image".into(), v.clone().into());
    }
    if let Some(v) = a.cpus {
        o.insert("cpus".into(), v.into());
    }
    if let Some(v) = a.memory {
        o.insert("memory".into(), v.into());
    }
    if let Some(v) = &a.os {
        o.insert("os".into(), v.clone().into());
    }
    for kv in &a.opts {
        let (key, value) = kv.split_once('=').ok_or_else(|| {
            kled::Error::new(kled::ErrorKind::InvalidArgument, format!("--opt {kv:?}: expected KEY=VALUE"))
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        let mut path: Vec<&str> = key.split('.').collect();
        // Options nest a level or two (env.FOO); a deep path is a mistake,
        // and a JSON value tens of thousands of levels deep overflows the
        // stack when it is dropped.
        if path.len() > MAX_OPT_DEPTH || path.iter().any(|p| p.is_empty()) {
            return Err(kled::Error::new(
                kled::ErrorKind::InvalidArgument,
                format!("--opt KEY must be 1 to {MAX_OPT_DEPTH} non-empty names joined by dots (like env.FOO)"),
            ));
        }
        let last = path.pop().unwrap_or_default();
        let mut node = &mut o;
        for part in path {
            let entry = node.entry(part.to_string()).or_insert_with(|| serde_json::json!({}));
            if !entry.is_object() {
                *entry = serde_json::json!({});
            }
            node = entry.as_object_mut().expect("just made an object");
        }
        node.insert(last.to_string(), value);
    }
    Ok(serde_json::Value::Object(o))
}

async fn create(m: &Manager, kind: &str, name: &str, options: &OptionArgs, start: bool) -> Result<u8> {
    let options = build_options(options)?;
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

async fn list(m: &Manager, json: bool, keep: impl Fn(Kind) -> bool) -> Result<u8> {
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

fn providers(m: &Manager, json: bool, keep: impl Fn(Kind) -> bool) -> Result<u8> {
    let ps: Vec<_> = m.providers().into_iter().filter(|p| keep(p.kind)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&ps).expect("serializes"));
    } else {
        output::provider_table(&ps);
    }
    Ok(0)
}

pub fn secs(s: Option<f64>) -> Result<Option<Duration>> {
    s.map(|s| kled::timeout_from_secs(s).map_err(|e| e.context("--timeout"))).transpose()
}

async fn exec(m: &Manager, a: ExecArgs) -> Result<u8> {
    let t = m.get_terminal(&a.name).await?;
    let mut req = ExecRequest::new(a.command.join(" "));
    req.timeout = secs(a.timeout)?;
    req.cwd = a.cwd;
    for kv in &a.env {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            kled::Error::new(kled::ErrorKind::InvalidArgument, format!("-e {kv:?}: expected KEY=VAL"))
        })?;
        req = req.env(k, v);
    }
    if a.tty {
        let (rows, cols) = crate::tty::local_size();
        req = req.tty(rows, cols);
        req.stdin_open = a.stdin;
    }
    if a.stdin && !a.tty {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| kled::Error::new(kled::ErrorKind::InvalidArgument, format!("cannot read stdin: {e}")))?;
        req.stdin = Some(data);
    }
    if a.json {
        req.max_output = a.max_output;
        let r = t.exec(req).await?;
        println!("{}", serde_json::to_string_pretty(&r).expect("serializes"));
        if r.truncated && a.max_output.is_none() {
            // Held in memory, so capped; but a cut nobody asked for is a failure.
            eprintln!(
                "kled: the output passed {} bytes on a stream and was cut; raise the cap with --max-output BYTES, or run without --json to stream it whole",
                kled::DEFAULT_MAX_OUTPUT
            );
            return Ok(125);
        }
        return Ok(0);
    }
    // Passed through as it comes, so nothing is held: no cap unless asked
    // for, as with ssh and docker exec.
    req.max_output = Some(a.max_output.unwrap_or(u64::MAX));
    let mut stream = t.exec_stream(req).await?;
    // Raw mode only for an interactive session; restored when this returns.
    let _raw = (a.tty && a.stdin).then(crate::tty::RawMode::enter).flatten();
    if a.tty {
        crate::tty::follow_resizes(stream.control());
        if a.stdin {
            crate::tty::pump_stdin(stream.control());
        }
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    while let Some(ev) = stream.next().await {
        match ev? {
            ExecEvent::Stdout(b) => {
                // A closed stdout (`| head`) ends our interest, like a shell pipe.
                if out.write_all(&b).and_then(|_| out.flush()).is_err() {
                    return Ok(141);
                }
            }
            ExecEvent::Stderr(b) => {
                let _ = err.write_all(&b);
                let _ = err.flush();
            }
            ExecEvent::Exit(st) => {
                if st.timed_out {
                    let _ =
                        writeln!(err, "kled: command timed out after {:.1}s and was killed", st.duration.as_secs_f64());
                    return Ok(124);
                }
                if st.truncated {
                    // Only with --max-output, which asked for the cut.
                    let _ = writeln!(
                        err,
                        "kled: output was cut at {} bytes per stream (--max-output)",
                        a.max_output.unwrap_or(u64::MAX)
                    );
                }
                let code = match (st.exit_code, st.signal) {
                    (Some(c), _) => c,
                    (None, Some(s)) => 128 + s,
                    _ => 255,
                };
                return Ok(code.clamp(0, 255) as u8);
            }
        }
    }
    Err(kled::Error::new(kled::ErrorKind::Agent, "the command ended without an exit status"))
}

/// CODE as given, or stdin for "-".
pub fn code_text(code: String) -> Result<String> {
    if code != "-" {
        return Ok(code);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| kled::Error::new(kled::ErrorKind::InvalidArgument, format!("cannot read code from stdin: {e}")))?;
    Ok(s)
}

async fn code(m: &Manager, a: CodeArgs) -> Result<u8> {
    let t = m.get_terminal(&a.name).await?;
    let mut req = CodeRequest::new(a.lang, code_text(a.code)?);
    req.timeout = secs(a.timeout)?;
    req.remote = a.remote;
    let r = t.run_code_with(req).await?;
    std::io::stdout().write_all(&r.stdout).ok();
    std::io::stderr().write_all(&r.stderr).ok();
    if r.timed_out {
        eprintln!("kled: code timed out after {:.1}s and was killed", r.duration.as_secs_f64());
        return Ok(124);
    }
    Ok(r.shell_status().clamp(0, 255) as u8)
}

#[allow(clippy::too_many_arguments)]
async fn bulk(
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
