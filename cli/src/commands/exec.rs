//! `kled terminal exec` and `kled terminal code` (and their neovim twins):
//! a command or a snippet in a terminal, its output passed through.

use crate::args::{CodeArgs, ExecArgs};
use crate::input;
use kled::{CodeRequest, ExecEvent, ExecRequest, Manager};
use std::io::{Read, Write};

type Result<T> = kled::Result<T>;

pub async fn exec(m: &Manager, a: ExecArgs) -> Result<u8> {
    let t = m.get_terminal(&a.name).await?;
    let mut req = ExecRequest::new(a.command.join(" "));
    req.timeout = input::secs(a.timeout)?;
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

pub async fn code(m: &Manager, a: CodeArgs) -> Result<u8> {
    let t = m.get_terminal(&a.name).await?;
    let mut req = CodeRequest::new(a.lang, input::code_text(a.code)?);
    req.timeout = input::secs(a.timeout)?;
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
