//! The tokio runtime of libkled, one per process, made on first use.
//!
//! fork(): the policy is the core's (`kled_core::fork`), the same as the
//! Python module's. A child forked after libkled started gets a runtime of
//! its own on first use, and its handles get core handles of their own (the
//! parent's are leaked in the child, never used or dropped: their tasks ran
//! on the parent's threads). Only a build whose tokio uses parking_lot
//! refuses to run in such a child, with a clear error. Streams started by the
//! parent stay the parent's (exec.rs).

use crate::guard::{Failure, Result};
use kled_core::fork::ProcessRuntime;
use std::future::Future;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use tokio::runtime::Runtime;

static RUNTIME: ProcessRuntime = ProcessRuntime::new();

/// The runtime of this process.
pub(crate) fn get() -> Result<&'static Runtime> {
    RUNTIME.get(build).map_err(Failure::from)
}

fn build() -> std::io::Result<Runtime> {
    init_logging();
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kled-ffi").build()
}

/// Something a forked child must neither use nor drop (its drop would act on
/// the parent's behalf), kept reachable for as long as the process lives.
/// Push-only and lock-free, for the reason in the module comment.
pub(crate) fn keep_forever(item: Box<dyn std::any::Any>) {
    struct Kept {
        #[allow(dead_code)]
        item: Box<dyn std::any::Any>,
        #[allow(dead_code)]
        next: *mut Kept,
    }
    static KEPT: AtomicPtr<Kept> = AtomicPtr::new(ptr::null_mut());
    let node = Box::into_raw(Box::new(Kept { item, next: ptr::null_mut() }));
    let mut head = KEPT.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until published.
        unsafe { (*node).next = head };
        match KEPT.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// Runs a future to completion on the runtime, blocking the calling thread.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(get()?.block_on(future))
}

/// With `KLED_LOG` set (e.g. `debug`), the core's logs go to stderr, as the
/// CLI's do. Without it a library prints nothing of its own accord.
fn init_logging() {
    kled_core::logging::init(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runtime_per_process_shared_by_threads() {
        let a = get().unwrap() as *const Runtime as usize;
        let others: Vec<usize> = (0..8)
            .map(|_| std::thread::spawn(|| get().unwrap() as *const Runtime as usize))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(others.iter().all(|&b| b == a));
        assert!(!RUNTIME.inherited());
        assert_eq!(block_on(async { 6 * 7 }).unwrap(), 42);
    }
}
