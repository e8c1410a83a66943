//! The baseline for bench/mcp_exec.py: `exec(["true"])` through the core's
//! Rust API on an existing terminal. Prints {"n", "p50_us", "p99_us"}.
//!
//! Usage: exec_bench STATE_DIR TERMINAL N

use kled::{Config, ExecRequest, Manager};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, state_dir, name, n] = args.as_slice() else {
        eprintln!("usage: exec_bench STATE_DIR TERMINAL N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let manager = Manager::new(Some(state_dir.into()), Config::default()).unwrap();
    let t = rt.block_on(manager.get_terminal(name)).unwrap();
    let once = || {
        let r = rt.block_on(t.exec(ExecRequest::new(["true"]))).unwrap();
        assert_eq!(r.exit_code, Some(0));
    };
    for _ in 0..20 {
        once();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            once();
            started.elapsed()
        })
        .collect();
    times.sort();
    let pct = |p: f64| times[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1e6;
    println!("{}", serde_json::json!({ "n": n, "p50_us": pct(0.5), "p99_us": pct(0.99) }));
}
