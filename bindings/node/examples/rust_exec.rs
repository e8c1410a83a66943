//! The Rust API on a terminal that bench/node_exec.js made: the baseline
//! for the Node binding's overhead, on the very same terminal.
//! Usage: rust_exec STATE_DIR TERMINAL N
//! Prints one line of JSON: the round-trip times in microseconds of N
//! `exec("true")` (shell) and N `exec(["true"])` (argv), interleaved.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: rust_exec STATE_DIR TERMINAL N");
        std::process::exit(2);
    }
    let n: usize = args[3].parse().expect("N is a number");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let m = kled::Manager::new(Some(args[1].clone().into()), kled::Config::default()).unwrap();
    let t = rt.block_on(m.get_terminal(&args[2])).unwrap();
    let once = |req: kled::ExecRequest| {
        let s = Instant::now();
        let r = rt.block_on(t.exec(req)).unwrap();
        assert_eq!(r.exit_code, Some(0));
        s.elapsed().as_secs_f64() * 1e6
    };
    for _ in 0..50 {
        once(kled::ExecRequest::new("true"));
        once(kled::ExecRequest::new(["true"]));
    }
    let (mut shell, mut argv) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        shell.push(once(kled::ExecRequest::new("true")));
        argv.push(once(kled::ExecRequest::new(["true"])));
    }
    println!("{}", serde_json::json!({ "shell_us": shell, "argv_us": argv }));
}
