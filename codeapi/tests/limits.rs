//! Issue 14 finding 2: a run that times out leaves nothing running, and a
//! sandbox's processes and memory are bounded (on gVisor, by the rlimits the
//! server sets on the sandbox's agent; see codeapi/src/pool.rs).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// The host's task count: the 4th field of /proc/loadavg is
/// running/total, and total counts every thread (gVisor's too).
fn host_tasks() -> u64 {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap();
    s.split_whitespace().nth(3).and_then(|f| f.split('/').nth(1)).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_times_out_and_leaves_nothing_and_memory_is_bounded() {
    let Some(srv) = TestServer::start("fork bomb", |c| {
        c.limits.run_timeout = 5;
        c.sessions.warm = 1;
        // Fewer than the default 256, so that reaching it is quick.
        c.sandbox.pids = 64;
    })
    .await
    else {
        return;
    };
    let a = srv.client(KEY_A);
    // A file in the session: it must survive the sandbox being recycled.
    let keep = a.exec(&py("open('keep.txt','w').write('kept')")).await.unwrap();
    let before = host_tasks();
    let t0 = Instant::now();
    let mut bomb = bash("bomb() { bomb | bomb & }; bomb; sleep 60");
    bomb.session_id = Some(keep.session_id.clone());
    let out = a.exec(&bomb).await.unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(20), "the bomb's run took {took:?}");
    assert_eq!(out.run.as_ref().unwrap().status.as_deref(), Some("TO"), "{}", out.stderr());
    assert!(out.stderr().contains("timed out after 5s"), "{}", out.stderr());
    // Within a few seconds of the answer, the host's task count is back.
    let mut after = host_tasks();
    for _ in 0..20 {
        if after <= before + 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = host_tasks();
    }
    eprintln!("host tasks: {before} before the bomb, {after} after it (run took {took:?})");
    assert!(after <= before + 100, "host tasks {before} before, {after} after: the bomb outlived its run");

    // The session goes on in a fresh sandbox, with its files.
    let mut next = py("print(open('keep.txt').read())");
    next.session_id = Some(keep.session_id.clone());
    let out = a.exec(&next).await.unwrap();
    assert_eq!(out.stdout(), "kept\n", "{}", out.stderr());

    // Processes: at most `pids` at once.
    let mut many = py(concat!(
        "import subprocess\nps = []\ntry:\n    for i in range(100):\n",
        "        ps.append(subprocess.Popen(['sleep', '30']))\n    print('all 100')\n",
        "except OSError as e:\n    print('stopped', len(ps) < 64, e.errno)\n",
        "for p in ps:\n    p.kill()\n"
    ));
    many.session_id = Some(keep.session_id.clone());
    let out = a.exec(&many).await.unwrap();
    assert_eq!(out.stdout(), "stopped True 11\n", "{}", out.stderr());

    // Memory: a 6 GB allocation fails (memory 1024 MiB by default).
    let mut big =
        py("try:\n    b = bytearray(6 << 30)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')");
    big.session_id = Some(keep.session_id.clone());
    let out = a.exec(&big).await.unwrap();
    assert_eq!(out.stdout(), "MemoryError\n", "{}", out.stderr());
    srv.stop().await;
}
