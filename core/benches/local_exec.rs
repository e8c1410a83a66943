//! Local exec round trip and throughput, through kled and through what a
//! user would use instead, in one run. Prints figures and ratios; asserts
//! nothing. Run: `cargo bench -p kled-core --bench local_exec`
//! (or bench/run.sh). KLED_BENCH_N sets the number of round trips.

use kled::{Config, ExecRequest, Manager};
use std::process::Command;
use std::time::{Duration, Instant};

const BIG: u64 = 50_000_000;
const REPEATS: usize = 5;

fn pct(xs: &mut [Duration], p: f64) -> f64 {
    xs.sort();
    xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)].as_secs_f64() * 1e6
}

fn time_n(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..20 {
        f();
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a listing
    }
    let n: usize = std::env::var("KLED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let home = tempfile::Builder::new().prefix("kled-bench-").tempdir_in("/tmp").unwrap();
    let manager = Manager::new(Some(home.path().to_path_buf()), Config::default()).unwrap();
    let t = rt.block_on(async {
        let t = manager.create_terminal("local", "bench", serde_json::json!({})).await.unwrap();
        t.start().await.unwrap();
        t
    });

    let argv_true = || ExecRequest::new(["true"]);
    let (k_p50, k_p99) = time_n(n, || {
        let r = rt.block_on(t.exec(argv_true())).unwrap();
        assert_eq!(r.exit_code, Some(0));
    });
    let (ks_p50, ks_p99) = time_n(n, || {
        rt.block_on(t.exec(ExecRequest::new("true"))).unwrap();
    });
    let (b_p50, b_p99) = time_n(n, || {
        Command::new("true").output().unwrap();
    });
    let (s_p50, s_p99) = time_n(n, || {
        Command::new("sh").args(["-c", "true"]).output().unwrap();
    });

    let mut rates: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let started = Instant::now();
            let r = rt
                .block_on(t.exec(ExecRequest::new(["head", "-c", &BIG.to_string(), "/dev/zero"]).max_output(64 << 20)))
                .unwrap();
            assert_eq!(r.stdout.len() as u64, BIG);
            BIG as f64 / started.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k_rate = rates[REPEATS / 2];

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/subprocess_baseline.py");
    let py = Command::new("python3").args([script, &n.to_string(), &BIG.to_string(), &REPEATS.to_string()]).output();
    let py: Option<serde_json::Value> =
        py.ok().filter(|o| o.status.success()).and_then(|o| serde_json::from_slice(&o.stdout).ok());

    rt.block_on(t.remove()).unwrap();

    println!("local exec round trip, {n} runs (microseconds)");
    println!("  {:<44} {:>9} {:>9}", "", "p50", "p99");
    println!("  {:<44} {:>9.0} {:>9.0}", "kled exec [\"true\"] (Rust API)", k_p50, k_p99);
    println!("  {:<44} {:>9.0} {:>9.0}", "kled exec \"true\" (via the terminal's sh)", ks_p50, ks_p99);
    println!("  {:<44} {:>9.0} {:>9.0}", "Rust Command::new(\"true\").output()", b_p50, b_p99);
    println!("  {:<44} {:>9.0} {:>9.0}", "Rust sh -c true", s_p50, s_p99);
    if let Some(py) = &py {
        println!(
            "  {:<44} {:>9.0} {:>9.0}",
            "Python subprocess.run([\"true\"])",
            py["p50_us"].as_f64().unwrap(),
            py["p99_us"].as_f64().unwrap()
        );
    }
    println!("ratios (p50)");
    println!("  kled [\"true\"] / bare spawn of true:  {:.2}x  (aim <= 1.5x)", k_p50 / b_p50);
    println!("  kled \"true\"   / bare sh -c true:     {:.2}x", ks_p50 / s_p50);
    if let Some(py) = &py {
        println!("  kled [\"true\"] / subprocess.run:      {:.2}x", k_p50 / py["p50_us"].as_f64().unwrap());
    }
    println!("50 MB of stdout, median of {REPEATS}");
    println!("  kled exec:                              {k_rate:.0} MB/s");
    if let Some(py) = &py {
        let p = py["mb_s"].as_f64().unwrap();
        println!("  subprocess.run(capture_output=True):    {p:.0} MB/s");
        println!("  ratio kled / subprocess:                {:.2}x", k_rate / p);
    } else {
        println!("  (python3 not found: subprocess baseline skipped)");
    }
}
