//! The one fork policy of every front end that lives in someone else's
//! process (libkled, the Python module): what a child made by `fork()` gets.
//!
//! The answer: **a forked child uses kled as any process does.** It gets its
//! own tokio runtime and its own core handles, made on first use; what the
//! parent made (its runtime, its managers' connections, its streams) is
//! leaked in the child, never used or dropped, because its tasks ran on
//! parent threads the child does not have, and dropping a connection would
//! act on the parent's scheduler. A stream started by the parent cannot be
//! read in the child (the front ends refuse with a clear error).
//!
//! The exception: a build whose tokio has its `parking_lot` feature (build.rs
//! decides, from Cargo.lock). Then tokio's threads park in parking_lot's
//! process-wide table, which a child inherits with entries of threads that do
//! not exist there, so a runtime started in the child can hang or abort. Such
//! a build refuses, with [`forked_child_error`], in a child of a process that
//! had started a runtime. A child forked before the first kled call, or one
//! that execs, is never affected.
//!
//! "Which process" is a generation number that a `pthread_atfork` handler
//! bumps in every child: no system call per check (`getpid` is one), and no
//! lock, since a lock held by a parent thread at the moment of fork() would
//! stay locked forever in the child. Values are published through atomic
//! pointers for the same reason.

use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Once;
use tokio::runtime::Runtime;

/// Whether a forked child of a process that used kled may use it (see the
/// module docs and build.rs).
pub const CHILD_SUPPORTED: bool = !cfg!(kled_fork_child_unsafe);

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn forked_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler. Idempotent; every value of this module calls
/// it, so a process forked before any exists needs no handler.
pub fn install() {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

/// Identifies this process among its fork()ed relatives: every child sees a
/// new value.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// The error of a build that cannot run in a forked child (see the module docs).
pub fn forked_child_error() -> Error {
    Error::new(
        ErrorKind::InvalidState,
        "kled cannot run in a child made by fork() of a process that had used it: this build's tokio uses \
         parking_lot, whose process-wide state a forked child cannot safely reuse; exec a new program (or use \
         Python multiprocessing's \"spawn\" or \"forkserver\"), or fork before the first kled call",
    )
}

struct Entry<T> {
    generation: u64,
    value: T,
}

/// A value of one process: made again in a forked child, the parent's
/// leaked there. Lock-free, so it is safe to use from C threads that fork.
pub struct PerProcess<T> {
    current: AtomicPtr<Entry<T>>,
}

// SAFETY: the value is shared between threads only by reference (`get`
// clones it), like an `Arc<T>`.
unsafe impl<T: Send + Sync> Send for PerProcess<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for PerProcess<T> {}

impl<T> PerProcess<T> {
    fn entry(&self) -> Option<&Entry<T>> {
        // SAFETY: a published entry is freed only by Drop (which has &mut self).
        unsafe { self.current.load(Ordering::Acquire).as_ref() }
    }

    /// The value for this process: the current one, or, in a child forked
    /// since it was made, a new one from `fresh`. (Core handles are made on
    /// a runtime, so in a build that cannot run in a forked child, `fresh`
    /// fails with the [`ProcessRuntime`]'s refusal.)
    fn get_ref<E>(&self, fresh: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        let now = generation();
        let current = self.current.load(Ordering::Acquire);
        // SAFETY: as in `entry`.
        if let Some(entry) = unsafe { current.as_ref() } {
            if entry.generation == now {
                return Ok(&entry.value);
            }
        }
        let made = Box::into_raw(Box::new(Entry { generation: now, value: fresh()? }));
        match self.current.compare_exchange(current, made, Ordering::AcqRel, Ordering::Acquire) {
            // The previous entry, if any, belongs to the parent: leaked on purpose.
            // SAFETY: `made` was just published and lives as long as `self`.
            Ok(_) => Ok(unsafe { &(*made).value }),
            Err(_) => {
                // Another thread of this process got there first: drop ours
                // (made here, so safe to drop here) and use theirs.
                // SAFETY: `made` was never published.
                drop(unsafe { Box::from_raw(made) });
                match self.entry() {
                    Some(entry) => Ok(&entry.value),
                    None => unreachable!("an entry is never unpublished"),
                }
            }
        }
    }

    /// Whether the value was made by another process (a parent before fork()).
    pub fn inherited(&self) -> bool {
        self.entry().is_some_and(|e| e.generation != generation())
    }
}

impl<T: Clone> PerProcess<T> {
    pub fn new(value: T) -> PerProcess<T> {
        install();
        PerProcess { current: AtomicPtr::new(Box::into_raw(Box::new(Entry { generation: generation(), value }))) }
    }

    /// This process's value (a clone: core handles are cheap to clone).
    pub fn get<E>(&self, fresh: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.get_ref(fresh).cloned()
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: published entries are owned by `self`.
        if unsafe { current.as_ref() }.is_some_and(|e| e.generation == generation()) {
            // SAFETY: made by Box::into_raw, dropped once, here.
            drop(unsafe { Box::from_raw(current) });
        }
        // Else the parent's: its drop would act on threads that are not here.
    }
}

/// The tokio runtime of one front end in this process, built on first use
/// and again in a forked child (the parent's leaked there), as a `static`.
pub struct ProcessRuntime {
    current: AtomicPtr<Entry<Runtime>>,
}

impl ProcessRuntime {
    pub const fn new() -> ProcessRuntime {
        ProcessRuntime { current: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// This process's runtime; `build` makes one when there is none yet (or
    /// the one there is belongs to the parent).
    pub fn get(&'static self, build: impl Fn() -> std::io::Result<Runtime>) -> Result<&'static Runtime> {
        install();
        let now = generation();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: published entries are never freed (a static).
            if let Some(entry) = unsafe { current.as_ref() } {
                if entry.generation == now {
                    return Ok(&entry.value);
                }
                if !CHILD_SUPPORTED {
                    return Err(forked_child_error());
                }
            }
            let rt = build().map_err(|e| Error::io("cannot start kled's async runtime", e))?;
            let made = Box::into_raw(Box::new(Entry { generation: now, value: rt }));
            match self.current.compare_exchange(current, made, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: just published; never freed.
                Ok(_) => return Ok(unsafe { &(*made).value }),
                Err(_) => {
                    // Another thread won the race: discard ours, use theirs.
                    // SAFETY: `made` was never published.
                    let lost = unsafe { Box::from_raw(made) };
                    lost.value.shutdown_background();
                }
            }
        }
    }

    /// True in a child forked after this runtime was built.
    pub fn inherited(&self) -> bool {
        // SAFETY: published entries are never freed.
        unsafe { self.current.load(Ordering::Acquire).as_ref() }.is_some_and(|e| e.generation != generation())
    }
}

impl Default for ProcessRuntime {
    fn default() -> Self {
        ProcessRuntime::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_thread() -> std::io::Result<Runtime> {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }

    #[test]
    fn one_runtime_and_one_value_per_process() {
        static RT: ProcessRuntime = ProcessRuntime::new();
        let a = RT.get(current_thread).unwrap() as *const Runtime;
        assert_eq!(RT.get(|| panic!("built twice")).unwrap() as *const Runtime, a);
        assert!(!RT.inherited());
        let v = PerProcess::new(7u32);
        assert_eq!(v.get::<Error>(|| panic!("made twice")).unwrap(), 7);
        assert!(!v.inherited());
    }

    /// A forked child: the parent's value is replaced by a fresh one (or,
    /// where children are unsupported, refused), and the parent keeps its own.
    #[test]
    fn a_forked_child_gets_its_own() {
        static RT: ProcessRuntime = ProcessRuntime::new();
        let parent_rt = RT.get(current_thread).unwrap() as *const Runtime as usize;
        let v = PerProcess::new(String::from("parent"));
        // SAFETY: the child only touches atomics, allocates, and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = if CHILD_SUPPORTED {
                v.inherited()
                    && v.get::<Error>(|| Ok("child".into())).ok().as_deref() == Some("child")
                    && RT.get(current_thread).map(|r| r as *const Runtime as usize).is_ok_and(|r| r != parent_rt)
                    && RT.get(current_thread).unwrap().block_on(async { 6 * 7 }) == 42
            } else {
                RT.get(current_thread).is_err_and(|e| e.message().contains("fork()"))
            };
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child failed: {status}");
        assert_eq!(v.get::<Error>(|| panic!("the parent's value was replaced")).unwrap(), "parent");
        assert_eq!(RT.get(current_thread).unwrap() as *const Runtime as usize, parent_rt);
    }
}
