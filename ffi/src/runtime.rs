//! The tokio runtime of libkled, one per process, made on first use.
//!
//! fork(): the child inherits this static but none of the runtime's
//! threads. It cannot use the inherited runtime (nothing would ever poll
//! it), and it cannot safely build a new one either: fork() copies the
//! process while the runtime's threads may be half-way through taking a
//! lock, and with tokio built with `parking_lot` (which the workspace's
//! dependencies turn on) every lock in the process shares one global
//! parking table, so the child can hang or abort on any lock at all (seen
//! in tests: `parking_lot_core` assertions and hangs in the child's
//! runtime). A child of a process that started libkled's runtime therefore
//! gets a clear error from every call that needs it, and never touches the
//! inherited state; a process that forks before its first such call, or a
//! child that execs, uses libkled normally.
//!
//! The runtime is published through an atomic pointer, not a mutex: a mutex
//! held by a parent thread at the moment of fork() would stay locked
//! forever in the child.

use crate::guard::{Failure, Result};
use crate::status::{KLED_ERR_INVALID_STATE, KLED_ERR_IO};
use std::future::Future;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use tokio::runtime::Runtime;

struct Entry {
    /// The process that built the runtime.
    pid: u32,
    runtime: Runtime,
}

static CURRENT: AtomicPtr<Entry> = AtomicPtr::new(ptr::null_mut());

/// The runtime of this process.
pub(crate) fn get() -> Result<&'static Runtime> {
    loop {
        let current = CURRENT.load(Ordering::Acquire);
        // SAFETY: a published entry is never freed.
        if let Some(entry) = unsafe { current.as_ref() } {
            let pid = std::process::id();
            if entry.pid != pid {
                return Err(Failure::new(
                    KLED_ERR_INVALID_STATE,
                    format!(
                        "libkled was started by process {} before it forked this one ({pid}); a forked child cannot \
                         use it, because fork() copies none of its threads: exec a new program, or fork before the \
                         first kled call",
                        entry.pid
                    ),
                ));
            }
            return Ok(&entry.runtime);
        }
        let fresh = Box::into_raw(Box::new(Entry { pid: std::process::id(), runtime: build()? }));
        match CURRENT.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: just published; never freed.
            Ok(_) => return Ok(unsafe { &(*fresh).runtime }),
            // Another thread got there first: use its runtime.
            // SAFETY: `fresh` was never published, so this thread owns it.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

/// True in a child forked after this library started its runtime: there,
/// dropping a handle that may hold agent connections would act on the
/// parent's runtime (which has no threads here), so handles are kept instead.
pub(crate) fn inherited() -> bool {
    // SAFETY: a published entry is never freed.
    unsafe { CURRENT.load(Ordering::Acquire).as_ref() }.is_some_and(|e| e.pid != std::process::id())
}

fn build() -> Result<Runtime> {
    init_logging();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kled-ffi")
        .build()
        .map_err(|e| Failure::new(KLED_ERR_IO, format!("cannot start libkled's async runtime: {e}")))
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
        assert!(!inherited());
        assert_eq!(block_on(async { 6 * 7 }).unwrap(), 42);
    }
}
