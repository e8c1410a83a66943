//! Logging for every front end: the level comes from `KLED_LOG` (e.g.
//! `debug`, `kled=trace`), output goes to stderr, and each line is capped, so
//! a trace of engine bodies cannot write gigabytes (`KLED_LOG=trace` on
//! `serve codeapi` once wrote 1.27 GB in 9 minutes).

use std::io::Write;

/// The most bytes of one log event written; the rest is cut, with a note.
pub const MAX_LOG_LINE: usize = 4096;

/// Sets up logging once per process. `default`: the filter when `KLED_LOG`
/// is unset (the CLI passes `warn`; a library passes None and stays silent).
/// A program that installed its own subscriber keeps it.
pub fn init(default: Option<&str>) {
    let filter = match std::env::var("KLED_LOG").ok().filter(|v| !v.trim().is_empty()) {
        Some(f) => tracing_subscriber::EnvFilter::new(f),
        None => match default {
            Some(d) => tracing_subscriber::EnvFilter::new(d),
            None => return,
        },
    };
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| CappedStderr).with_target(false).try_init();
}

/// stderr, each write (one log event) cut to [`MAX_LOG_LINE`] bytes with a
/// note of how much was cut.
struct CappedStderr;

impl Write for CappedStderr {
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
