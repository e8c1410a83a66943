//! The Rust side of bench/python_exec.py: exec round trips through the core
//! API on an existing terminal, in batches the Python side asks for, so that
//! Rust and Python batches interleave and share the machine's conditions.
//!
//! Usage: exec_bench STATE_DIR TERMINAL
//! Then, on stdin, lines `shell K` (K × exec("true")) or `argv K`
//! (K × exec(["true"])); each is answered on stdout with one line of JSON:
//! `{"times": [K round-trip times in µs], "cpu_us": CPU time (user + system,
//! all threads) this process spent on the batch}`.

use kled::{Config, ExecRequest, Manager};
use std::io::{BufRead, Write};
use std::time::Instant;

/// User + system CPU time of this process (all threads), in µs.
fn cpu_us() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: exec_bench STATE_DIR TERMINAL  (then `shell K` / `argv K` lines on stdin)");
        std::process::exit(2);
    }
    // As the binding builds its runtime on this 2-core machine.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let manager = Manager::new(Some(args[1].clone().into()), Config::default()).unwrap();
    let t = rt.block_on(manager.get_terminal(&args[2])).unwrap();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let (form, k) = line.split_once(' ').expect("`shell K` or `argv K`");
        let k: usize = k.trim().parse().expect("K must be a number");
        let make = || match form {
            "shell" => ExecRequest::new("true"),
            "argv" => ExecRequest::new(["true"]),
            other => panic!("unknown form {other:?}"),
        };
        let cpu_before = cpu_us();
        let times: Vec<f64> = (0..k)
            .map(|_| {
                let started = Instant::now();
                let r = rt.block_on(t.exec(make())).unwrap();
                let took = started.elapsed().as_secs_f64() * 1e6;
                assert_eq!(r.exit_code, Some(0));
                took
            })
            .collect();
        let cpu = cpu_us() - cpu_before;
        writeln!(out, "{}", serde_json::json!({ "times": times, "cpu_us": cpu })).unwrap();
        out.flush().unwrap();
    }
}
