//! The Rust-API half of `bench/c_abi.sh`: exec of `true` (argv, no shell)
//! through `kled::Terminal::exec`, on the terminal the C half uses
//! (`KLED_HOME` + `KLED_BENCH_TERMINAL`), with the same runtime shape
//! libkled uses (multi-thread, one worker per core, block_on from the
//! calling thread). Prints one line: `rust_api n=N p50_us=X p99_us=Y`.
//! Without `KLED_BENCH_TERMINAL` it makes (and removes) a terminal of its own.

use kled_core::{Config, ExecRequest, Manager};
use std::time::{Duration, Instant};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e6
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing
    }
    let n: usize = std::env::var("KLED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let given = std::env::var("KLED_BENCH_TERMINAL").ok();
    let own_home = given.is_none().then(|| std::env::temp_dir().join(format!("kled-rbench-{}", std::process::id())));
    let manager = Manager::new(own_home.clone(), Config::default()).expect("manager (set KLED_HOME)");
    let t = rt.block_on(async {
        match &given {
            Some(name) => manager.get_terminal(name).await.expect("the bench terminal"),
            None => {
                let t = manager.create_terminal("local", "rbench", serde_json::json!({})).await.unwrap();
                t.start().await.unwrap();
                t
            }
        }
    });
    let once = || {
        let r = rt.block_on(t.exec(ExecRequest::new(["true"]))).unwrap();
        assert_eq!(r.exit_code, Some(0));
    };
    for _ in 0..50 {
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
    println!("rust_api n={n} p50_us={:.1} p99_us={:.1}", pct(&times, 0.5), pct(&times, 0.99));
    if let Some(home) = own_home {
        rt.block_on(t.remove()).unwrap();
        let _ = std::fs::remove_dir_all(home);
    }
}
