//! End-to-end flow control (issue 13): a stream nobody reads holds this
//! process's memory while its command writes without pause, against a real
//! local terminal and a real container at the same time; reading it again
//! resumes, and every byte arrives. Timeouts and kills still work on a
//! stream that nobody reads.

#[macro_use]
mod common;

use kled::{ExecEvent, ExecRequest, ExecStream};
use std::time::{Duration, Instant};

/// Bytes each command writes: far more than the memory bound, so an
/// unbounded route would show.
const TOTAL: u64 = 200_000_000;
const BOUND: u64 = 32 << 20;
const STALL: Duration = Duration::from_secs(10);

/// Threads of the local terminal's agent (one per connection, one per
/// running spawn): back to where they were once nothing runs.
fn agent_threads(home: &common::Home, name: &str) -> usize {
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.path().join(format!("terminals/{name}.json"))).unwrap()).unwrap();
    let pid = rec["runtime"]["pid"].as_u64().expect("the local agent's pid");
    std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Reads the rest of a stream: (stdout bytes, the exit).
async fn drain(s: &mut ExecStream) -> (u64, kled::ExitStatus) {
    let mut n = 0;
    loop {
        match s.next().await.expect("an exit").unwrap() {
            ExecEvent::Stdout(b) => n += b.len() as u64,
            ExecEvent::Stderr(b) => panic!("stderr: {}", String::from_utf8_lossy(&b)),
            ExecEvent::Exit(st) => return (n, st),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_stream_holds_memory_and_resumes_intact() {
    let home = common::Home::new();
    let local = home.local("h13flow-local").await;
    let mut terminals = vec![("local", local.clone())];
    if common::engine_or_skip("flow_control container").is_some() {
        let name = format!("h13flow-{}", std::process::id());
        let opts = serde_json::json!({"image": "localhost/kled-busybox"});
        let c = home.manager.create_terminal("container", &name, opts).await.unwrap();
        c.start().await.unwrap();
        terminals.push(("container", c));
    }
    let flood = ExecRequest::new(format!("head -c {TOTAL} /dev/zero")).max_output(1 << 30);
    // Warm the connections (and the allocator) before the baseline.
    for (_, t) in &terminals {
        t.exec(ExecRequest::new("head -c 5000000 /dev/zero")).await.unwrap().check().unwrap();
    }
    let threads = agent_threads(&home, "h13flow-local");
    let base = rss();
    let mut floods = Vec::new();
    for (kind, t) in &terminals {
        floods.push((*kind, t.exec_stream(flood.clone()).await.unwrap()));
    }
    // Unread too: one the deadline must kill, one the caller kills.
    let mut timed = local.exec_stream(ExecRequest::new("yes").timeout(Duration::from_secs(2))).await.unwrap();
    let mut killed = local.exec_stream(ExecRequest::new("yes")).await.unwrap();
    // And one given up on while stalled: the agent must not wait for its credit.
    let abandoned = local.exec_stream(flood.clone()).await.unwrap();

    let until = Instant::now() + STALL;
    let mut peak = 0;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(rss().saturating_sub(base));
    }
    eprintln!("unread for {STALL:?}: peak growth {:.1} MiB (bound {} MiB)", peak as f64 / 1048576.0, BOUND >> 20);
    assert!(peak < BOUND, "memory grew by {peak} bytes while nobody read");

    drop(abandoned);
    // The deadline fired while nobody read: the command is dead and says so.
    let (_, st) = tokio::time::timeout(Duration::from_secs(10), drain(&mut timed)).await.unwrap();
    assert!(st.timed_out, "{st:?}");
    killed.signal(libc::SIGKILL).unwrap();
    let (_, st) = tokio::time::timeout(Duration::from_secs(10), drain(&mut killed)).await.unwrap();
    assert_eq!(st.signal, Some(libc::SIGKILL), "{st:?}");

    for (kind, mut s) in floods {
        let t = Instant::now();
        let (n, st) = tokio::time::timeout(Duration::from_secs(120), drain(&mut s)).await.unwrap();
        eprintln!("{kind}: read {n} bytes in {:?} after the stall", t.elapsed());
        assert_eq!((n, st.exit_code, st.truncated), (TOTAL, Some(0), false), "{kind}: {st:?}");
    }
    assert!(rss().saturating_sub(base) < BOUND + BOUND, "memory after the drain");
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent_threads(&home, "h13flow-local") > threads {
        assert!(Instant::now() < deadline, "the agent still runs threads of finished or abandoned execs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
