//! Exec round trip through a Neovim terminal (a job of a headless Neovim,
//! over msgpack-RPC) against a local terminal (a kled-agent) on the same
//! commands. Prints figures and the Neovim/local ratio; asserts nothing
//! about speed. Run: `cargo bench -p kled-core --bench neovim_exec` (or
//! bench/neovim.bench.sh). KLED_BENCH_N sets the number of round trips.

use kled::{Config, ExecRequest, Manager, Terminal};
use std::time::{Duration, Instant};

const BIG: u64 = 10_000_000;
const REPEATS: usize = 5;

fn pct(xs: &mut [Duration], p: f64) -> f64 {
    xs.sort();
    xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)].as_secs_f64() * 1e6
}

fn round_trips(rt: &tokio::runtime::Runtime, t: &Terminal, n: usize, req: impl Fn() -> ExecRequest) -> (f64, f64) {
    for _ in 0..20 {
        rt.block_on(t.exec(req())).unwrap();
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            let r = rt.block_on(t.exec(req())).unwrap();
            assert_eq!(r.exit_code, Some(0));
            started.elapsed()
        })
        .collect();
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

fn throughput(rt: &tokio::runtime::Runtime, t: &Terminal) -> f64 {
    let mut rates: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let started = Instant::now();
            let r = rt.block_on(t.exec(ExecRequest::new(["head", "-c", &BIG.to_string(), "/dev/urandom"]))).unwrap();
            assert_eq!(r.stdout.len() as u64, BIG);
            BIG as f64 / started.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rates[REPEATS / 2]
}

/// Wall time of `count` concurrent `echo` execs.
fn concurrent(rt: &tokio::runtime::Runtime, t: &Terminal, count: usize) -> f64 {
    let started = Instant::now();
    rt.block_on(futures::future::join_all((0..count).map(|i| {
        let t = t.clone();
        async move { t.exec(ExecRequest::new(format!("echo {i}"))).await.unwrap() }
    })));
    started.elapsed().as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a listing
    }
    let nvim_found =
        std::env::var("PATH").unwrap_or_default().split(':').any(|d| std::path::Path::new(d).join("nvim").is_file());
    if !nvim_found {
        println!("neovim_exec: nvim is not installed (apt-get install neovim); nothing measured");
        return;
    }
    let n: usize = std::env::var("KLED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let home = tempfile::Builder::new().prefix("kled-bench-").tempdir_in("/tmp").unwrap();
    let manager = Manager::new(Some(home.path().to_path_buf()), Config::default()).unwrap();
    let (local, nvim) = rt.block_on(async {
        let l = manager.create_terminal("local", "bench-local", serde_json::json!({})).await.unwrap();
        l.start().await.unwrap();
        let v = manager.create_terminal("neovim", "bench-nvim", serde_json::json!({})).await.unwrap();
        v.start().await.unwrap();
        (l, v)
    });

    let argv = || ExecRequest::new(["true"]);
    let shell = || ExecRequest::new("echo hello");
    let (l_argv, l_argv99) = round_trips(&rt, &local, n, argv);
    let (v_argv, v_argv99) = round_trips(&rt, &nvim, n, argv);
    let (l_sh, l_sh99) = round_trips(&rt, &local, n, shell);
    let (v_sh, v_sh99) = round_trips(&rt, &nvim, n, shell);
    let l_rate = throughput(&rt, &local);
    let v_rate = throughput(&rt, &nvim);
    let l_conc = concurrent(&rt, &local, 100);
    let v_conc = concurrent(&rt, &nvim, 100);

    rt.block_on(async {
        local.remove().await.unwrap();
        nvim.remove().await.unwrap();
    });

    // Sandboxed: neovim-kata (Neovim in a gVisor container, through the
    // agent's socket proxy) against a gvisor terminal (the agent itself).
    let gvisor = "unix:///run/kled/gvisor.sock";
    let sandboxed = std::path::Path::new(gvisor.trim_start_matches("unix://")).exists().then(|| {
        let mut config = Config::default();
        config.isolation.gvisor.engine = Some(gvisor.into());
        config.isolation.kata.engine = Some(gvisor.into());
        config.isolation.kata.runtime = Some("runsc".into());
        let m = Manager::new(Some(home.path().to_path_buf()), config).unwrap();
        let image = serde_json::json!({"image": "localhost/kled-debian"});
        let (g, k) = rt.block_on(async {
            let name = format!("bench-g{}", std::process::id());
            let g = m.create_terminal("gvisor", &name, image.clone()).await.unwrap();
            g.start().await.unwrap();
            let name = format!("bench-nk{}", std::process::id());
            let k = m.create_terminal("neovim-kata", &name, image).await.unwrap();
            k.start().await.unwrap();
            (g, k)
        });
        let n = n.min(200);
        let g_argv = round_trips(&rt, &g, n, argv);
        let k_argv = round_trips(&rt, &k, n, argv);
        rt.block_on(async {
            g.remove().await.unwrap();
            k.remove().await.unwrap();
        });
        (n, g_argv, k_argv)
    });

    println!("exec round trip, neovim vs local terminal, {n} runs (microseconds)");
    println!("  {:<40} {:>9} {:>9}", "", "p50", "p99");
    println!("  {:<40} {:>9.0} {:>9.0}", "local  exec [\"true\"]", l_argv, l_argv99);
    println!("  {:<40} {:>9.0} {:>9.0}", "neovim exec [\"true\"]", v_argv, v_argv99);
    println!("  {:<40} {:>9.0} {:>9.0}", "local  exec \"echo hello\" (sh -c)", l_sh, l_sh99);
    println!("  {:<40} {:>9.0} {:>9.0}", "neovim exec \"echo hello\" (sh -c)", v_sh, v_sh99);
    println!("ratios neovim / local (p50)");
    println!("  [\"true\"]:        {:.2}x", v_argv / l_argv);
    println!("  \"echo hello\":    {:.2}x", v_sh / l_sh);
    println!("10 MB of stdout (random bytes), median of {REPEATS}");
    println!("  local:  {l_rate:.0} MB/s");
    println!("  neovim: {v_rate:.0} MB/s   ({:.2}x of local)", v_rate / l_rate);
    if let Some((n, (g50, g99), (k50, k99))) = sandboxed {
        println!("sandboxed (gVisor), exec [\"true\"], {n} runs (microseconds)");
        println!("  {:<40} {:>9.0} {:>9.0}", "gvisor terminal (kled-agent)", g50, g99);
        println!("  {:<40} {:>9.0} {:>9.0}", "neovim-kata (Neovim via socket proxy)", k50, k99);
        println!("  ratio neovim-kata / gvisor (p50): {:.2}x", k50 / g50);
    } else {
        println!("sandboxed: unix:///run/kled/gvisor.sock is not served; neovim-kata not measured");
    }
    println!("100 concurrent `echo` execs, wall time");
    println!("  local:  {l_conc:.0} ms");
    println!("  neovim: {v_conc:.0} ms   ({:.2}x)", v_conc / l_conc);
}
