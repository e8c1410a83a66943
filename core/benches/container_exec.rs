//! Container terminals vs the docker Python SDK and `podman exec`, same
//! engine and image, in one run. Prints figures and ratios; asserts nothing.
//! Run: bench/run.sh (it prepares the engine and the SDK), or
//! `cargo bench -p kled-core --bench container_exec` with an engine up and
//! KLED_BENCH_PYTHON pointing at a python that has `docker` installed.

use kled::{BulkRequest, Config, ExecRequest, Manager};
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/kled-busybox";
/// For the throughput test: busybox's `head` writes 4 KiB at a time and
/// tops out near 150 MB/s into any pipe, which would measure busybox.
const BIG_IMAGE: &str = "localhost/kled-debian";
const BIG: u64 = 50_000_000;
const BULK: usize = 20;

fn pct(xs: &mut [Duration], p: f64) -> f64 {
    xs.sort();
    xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)].as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let endpoint = match kled::engine::discover(None) {
        Ok(e) => e,
        Err(e) => {
            println!("container bench skipped: {e}");
            return;
        }
    };
    let n: usize = std::env::var("KLED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let home = tempfile::Builder::new().prefix("kled-cbench-").tempdir_in("/tmp").unwrap();
    let m = Manager::new(Some(home.path().to_path_buf()), Config::default()).unwrap();
    let opts = serde_json::json!({ "image": IMAGE });
    let pid = std::process::id();

    // create+start of one terminal, median of 5
    let mut singles: Vec<Duration> = (0..5)
        .map(|i| {
            let name = format!("cb{pid}-one{i}");
            let t0 = Instant::now();
            let t = rt.block_on(async {
                let t = m.create_terminal("container", &name, opts.clone()).await.unwrap();
                t.start().await.unwrap();
                t
            });
            let d = t0.elapsed();
            rt.block_on(t.remove()).unwrap();
            d
        })
        .collect();
    let k_create = pct(&mut singles, 0.5);

    let t = rt.block_on(async {
        let t = m.create_terminal("container", &format!("cb{pid}-exec"), opts.clone()).await.unwrap();
        t.start().await.unwrap();
        t
    });
    for _ in 0..20 {
        rt.block_on(t.exec(ExecRequest::new(["true"]))).unwrap();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            let r = rt.block_on(t.exec(ExecRequest::new(["true"]))).unwrap();
            assert_eq!(r.exit_code, Some(0));
            t0.elapsed()
        })
        .collect();
    let (k_p50, k_p99) = (pct(&mut times, 0.5), pct(&mut times, 0.99));
    rt.block_on(t.remove()).unwrap();
    let t = rt.block_on(async {
        let t = m
            .create_terminal("container", &format!("cb{pid}-big"), serde_json::json!({ "image": BIG_IMAGE }))
            .await
            .unwrap();
        t.start().await.unwrap();
        t
    });
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            let req = ExecRequest::new(["head", "-c", &BIG.to_string(), "/dev/zero"]).max_output(64 << 20);
            let r = rt.block_on(t.exec(req)).unwrap();
            assert_eq!(r.stdout.len() as u64, BIG);
            BIG as f64 / t0.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k_rate = rates[1];
    rt.block_on(t.remove()).unwrap();

    let mut req = BulkRequest::new("container", BULK);
    req.prefix = Some(format!("cb{pid}-bulk"));
    req.options = opts.clone();
    req.start = true;
    let t0 = Instant::now();
    let ts = rt.block_on(m.create_bulk(req)).unwrap();
    let k_bulk = t0.elapsed().as_secs_f64();
    rt.block_on(futures::future::join_all(ts.iter().map(|t| t.remove())));

    let python = std::env::var("KLED_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/container_baseline.py");
    let out = Command::new(&python)
        .args([script, &endpoint, IMAGE, "100", "20", &BIG.to_string(), &BULK.to_string(), BIG_IMAGE])
        .output();
    let py: Option<serde_json::Value> = match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            println!(
                "(docker SDK baseline failed: {})",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            );
            None
        }
        Err(e) => {
            println!("(cannot run {python}: {e})");
            None
        }
    };
    let f = |k: &str| py.as_ref().and_then(|p| p[k].as_f64());

    println!("container terminals on {endpoint}, image {IMAGE}");
    println!("exec round trip of `true` (ms)                 p50       p99");
    println!("  kled exec ({n} runs)                     {k_p50:>9.2} {k_p99:>9.2}");
    if let (Some(a), Some(b)) = (f("exec_run_p50_ms"), f("exec_run_p99_ms")) {
        println!("  docker SDK exec_run (100 runs)          {a:>9.2} {b:>9.2}");
        println!("  ratio exec_run / kled (p50):  {:.0}x faster  (aim >= 50x)", a / k_p50);
    }
    if let Some(p) = f("podman_exec_p50_ms") {
        println!("  podman exec (20 runs)                   {p:>9.2}");
        println!("  ratio podman exec / kled (p50): {:.0}x faster", p / k_p50);
    }
    println!("50 MB of stdout (`head -c` in {BIG_IMAGE}, same for both)");
    println!("  kled exec                               {k_rate:>9.0} MB/s");
    if let Some(r) = f("exec_run_mb_s") {
        println!("  docker SDK exec_run                     {r:>9.0} MB/s");
        println!("  ratio kled / exec_run: {:.1}x  (aim >= 5x)", k_rate / r);
    }
    println!("create + start");
    println!("  kled, one terminal (median of 5)        {k_create:>9.0} ms");
    if let Some(c) = f("create_start_ms") {
        println!("  docker SDK containers.run (median of 5) {c:>9.0} ms   ratio {:.2}x", c / k_create);
    }
    println!("  kled bulk {BULK} (concurrency 8)           {k_bulk:>9.2} s   (aim < 1.6 s)");
    if let (Some(s), Some(p)) = (f("bulk_sequential_s"), f("bulk_threads_s")) {
        println!("  docker SDK {BULK} sequential                 {s:>9.2} s   ratio {:.2}x", s / k_bulk);
        println!("  docker SDK {BULK} with 8 threads             {p:>9.2} s   ratio {:.2}x", p / k_bulk);
    }
}
