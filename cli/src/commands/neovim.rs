//! `kled neovim ...`: Neovim terminals and their editor (edit, read,
//! buffers, attach).

use super::{exec, terminal};
use crate::args::{NameArg, NeovimBuffersArgs, NeovimCmd, NeovimEditArgs, NeovimReadArgs};
use crate::input;
use kled::{Kind, Manager};
use std::io::{Read, Write};

type Result<T> = kled::Result<T>;

/// The terminals `kled neovim` lists: those with an editor.
fn is_neovim(k: Kind) -> bool {
    kled::Caps::of(k).editor
}

pub async fn run(m: &Manager, cmd: NeovimCmd) -> Result<u8> {
    let kind = |kata: bool| if kata { "neovim-kata" } else { "neovim" };
    match cmd {
        NeovimCmd::List(a) => terminal::list(m, a.json, is_neovim).await,
        NeovimCmd::Start(a) => match m.get_terminal(&a.name).await {
            Ok(t) => {
                t.start().await?;
                println!("started {}", a.name);
                Ok(0)
            }
            Err(e) if e.kind() == kled::ErrorKind::NotFound => {
                terminal::create(m, kind(a.kata), &a.name, &a.options, true).await
            }
            Err(e) => Err(e),
        },
        NeovimCmd::Exec(a) => exec::exec(m, a).await,
        NeovimCmd::Stop(a) => {
            m.get_terminal(&a.name).await?.stop().await?;
            println!("stopped {}", a.name);
            Ok(0)
        }
        NeovimCmd::Bulk(a) => {
            let options = input::build_options(&a.options)?;
            terminal::bulk(m, kind(a.kata), a.count, a.prefix, options, true, kled::DEFAULT_BULK_CONCURRENCY, a.json)
                .await
        }
        NeovimCmd::Code(a) => exec::code(m, a).await,
        NeovimCmd::Providers(a) => terminal::providers(m, a.json, is_neovim),
        NeovimCmd::Edit(a) => neovim_edit(m, a).await,
        NeovimCmd::Read(a) => neovim_read(m, a).await,
        NeovimCmd::Buffers(a) => neovim_buffers(m, a).await,
        NeovimCmd::Attach(a) => neovim_attach(m, a).await,
    }
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
    let (start, end) = input::line_range(a.lines.as_deref())?;
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
    let (start, end) = input::line_range(a.lines.as_deref())?;
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
