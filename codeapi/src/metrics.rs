//! Prometheus text at `GET /metrics`: requests by route and status, exec
//! latency, sandboxes (busy, idle in a session, warm) and waits for a
//! sandbox place. Plain atomics and a small map: no metrics crate needed for
//! a handful of series.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Exec latency bucket bounds, seconds.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    exec_buckets: [AtomicU64; 10],
    exec_count: AtomicU64,
    exec_micros: AtomicU64,
    pool_waits: AtomicU64,
}

/// Sandboxes now: running a request, held idle by a session, warm in the pool.
pub struct Sandboxes {
    pub busy: usize,
    pub idle: usize,
    pub warm: usize,
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        *self.requests.lock().unwrap().entry((route.to_string(), status)).or_default() += 1;
    }

    pub fn exec_took(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.exec_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.exec_count.fetch_add(1, Ordering::Relaxed);
        self.exec_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn pool_wait(&self) {
        self.pool_waits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, s: Sandboxes) -> String {
        let mut o = String::new();
        o.push_str("# HELP kled_codeapi_requests_total HTTP requests by route and status.\n");
        o.push_str("# TYPE kled_codeapi_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().unwrap().iter() {
            o.push_str(&format!("kled_codeapi_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"));
        }
        o.push_str("# HELP kled_codeapi_exec_seconds POST /exec latency, answered runs.\n");
        o.push_str("# TYPE kled_codeapi_exec_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let n = self.exec_buckets[i].load(Ordering::Relaxed);
            o.push_str(&format!("kled_codeapi_exec_seconds_bucket{{le=\"{b}\"}} {n}\n"));
        }
        let count = self.exec_count.load(Ordering::Relaxed);
        o.push_str(&format!("kled_codeapi_exec_seconds_bucket{{le=\"+Inf\"}} {count}\n"));
        let sum = self.exec_micros.load(Ordering::Relaxed) as f64 / 1e6;
        o.push_str(&format!("kled_codeapi_exec_seconds_sum {sum}\nkled_codeapi_exec_seconds_count {count}\n"));
        o.push_str("# HELP kled_codeapi_sandboxes Sandboxes by state.\n# TYPE kled_codeapi_sandboxes gauge\n");
        for (state, n) in [("busy", s.busy), ("idle", s.idle), ("warm", s.warm)] {
            o.push_str(&format!("kled_codeapi_sandboxes{{state=\"{state}\"}} {n}\n"));
        }
        o.push_str("# HELP kled_codeapi_pool_waits_total Runs that found no warm sandbox and waited for one.\n");
        o.push_str("# TYPE kled_codeapi_pool_waits_total counter\n");
        o.push_str(&format!("kled_codeapi_pool_waits_total {}\n", self.pool_waits.load(Ordering::Relaxed)));
        o
    }
}
