//! Core handles that survive `os.fork()`.
//!
//! A core `Manager` made in the parent holds connections whose tasks ran on
//! the parent's runtime threads, which a forked child does not have. The
//! child must neither use nor drop them (dropping a connection aborts its
//! task, which touches the parent's scheduler). So a handle remembers the
//! pid that made it: another process gets a fresh handle, and the parent's
//! is leaked, never dropped.
//!
//! The lock here is only taken by threads that hold the GIL, and `os.fork()`
//! holds the GIL, so no thread can hold it at the moment of a fork.
//!
//! "Which process" is a generation number that a `pthread_atfork` handler
//! bumps in every child, so the check costs no system call (`getpid` is one).

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn forked_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler; called when the module is imported, before
/// any handle exists.
pub fn install() {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

/// Identifies this process among its fork()ed relatives: every child sees a
/// new value. Cheaper than getpid(), which is a system call.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

pub struct PerProcess<T> {
    cell: Mutex<(u64, ManuallyDrop<T>)>,
}

impl<T: Clone> PerProcess<T> {
    pub fn new(value: T) -> PerProcess<T> {
        PerProcess { cell: Mutex::new((generation(), ManuallyDrop::new(value))) }
    }

    /// The value for this process; in a forked child, `fresh()` makes it.
    /// Call only while attached to the interpreter (see the module docs).
    pub fn get<E>(&self, fresh: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut cell = self.cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = generation();
        if cell.0 != now {
            // Overwriting a ManuallyDrop leaks the parent's value, as intended.
            cell.1 = ManuallyDrop::new(fresh()?);
            cell.0 = now;
        }
        Ok(T::clone(&cell.1))
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let cell = self.cell.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cell.0 == generation() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut cell.1) }
        }
    }
}
