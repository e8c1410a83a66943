//! The Rust-API baseline every binding benchmark compares against: exec of
//! `true` on an existing terminal through `kled::Terminal::exec`, from a
//! multi-thread runtime driven by `block_on` on the calling thread (the
//! shape libkled and the Python and Node bindings use).
//!
//! `exec_baseline STATE_DIR TERMINAL N`: 50 warm-up rounds, then N rounds
//! of one `exec("true")` (shell) and one `exec(["true"])` (argv),
//! interleaved. Prints one line of JSON: `{"n", "shell_us": [...],
//! "argv_us": [...], "p50_us", "p99_us"}` (the percentiles are argv's).
//! Used by bench/c_abi.sh, bench/mcp_exec.py and bench/node_exec.js.
//!
//! `exec_baseline STATE_DIR TERMINAL`: batches asked for on stdin, so a
//! caller can interleave its own batches with ours: lines `shell K` or
//! `argv K`, each answered with `{"times": [K times in µs], "cpu_us": CPU
//! time this process spent on the batch}`. Used by bench/python_exec.py.

use kled::{Config, ExecRequest, Manager, Terminal};
use std::io::{BufRead, Write};
use std::time::Instant;
use tokio::runtime::Runtime;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (home, name, n) = match args.as_slice() {
        [_, home, name] => (home, name, None),
        [_, home, name, n] => (home, name, Some(n.parse::<usize>().expect("N is a number"))),
        _ => {
            eprintln!("usage: exec_baseline STATE_DIR TERMINAL [N]   (without N: `shell K` / `argv K` lines on stdin)");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let manager = Manager::new(Some(home.into()), Config::default()).unwrap();
    let t = rt.block_on(manager.get_terminal(name)).expect("the terminal to measure");
    match n {
        Some(n) => rounds(&rt, &t, n),
        None => batches(&rt, &t),
    }
}

fn request(form: &str) -> ExecRequest {
    match form {
        "shell" => ExecRequest::new("true"),
        "argv" => ExecRequest::new(["true"]),
        other => panic!("unknown form {other:?}: shell or argv"),
    }
}

/// One exec, in µs.
fn once(rt: &Runtime, t: &Terminal, form: &str) -> f64 {
    let started = Instant::now();
    let r = rt.block_on(t.exec(request(form))).unwrap();
    let took = started.elapsed().as_secs_f64() * 1e6;
    assert_eq!(r.exit_code, Some(0));
    took
}

fn rounds(rt: &Runtime, t: &Terminal, n: usize) {
    for _ in 0..50 {
        once(rt, t, "shell");
        once(rt, t, "argv");
    }
    let (mut shell, mut argv) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        shell.push(once(rt, t, "shell"));
        argv.push(once(rt, t, "argv"));
    }
    let mut sorted = argv.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| sorted[((n as f64 * p) as usize).min(n - 1)];
    let line = serde_json::json!({
        "n": n, "shell_us": shell, "argv_us": argv, "p50_us": pct(0.5), "p99_us": pct(0.99),
    });
    println!("{line}");
}

fn batches(rt: &Runtime, t: &Terminal) {
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let (form, k) = line.split_once(' ').expect("`shell K` or `argv K`");
        let k: usize = k.trim().parse().expect("K must be a number");
        let cpu_before = cpu_us();
        let times: Vec<f64> = (0..k).map(|_| once(rt, t, form)).collect();
        let cpu = cpu_us() - cpu_before;
        writeln!(out, "{}", serde_json::json!({ "times": times, "cpu_us": cpu })).unwrap();
        out.flush().unwrap();
    }
}

/// User + system CPU time of this process (all threads), in µs.
fn cpu_us() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}
