//! The binding's tokio runtime (the core owns none), how blocking calls wait
//! on it, and how asyncio awaits it.
//!
//! Fork: a child made by `os.fork()` inherits the runtime's memory but not
//! its worker threads, so it must never touch the parent's runtime. Each
//! runtime is tagged with the process (fork generation, see fork.rs) that
//! built it; a process that finds another's runtime builds its own and leaks
//! the old one (dropping it would wait for threads that do not exist in the
//! child). The switch is lock-free, so no lock held by a parent thread at
//! fork time can block it.
//!
//! Unless tokio itself is not fork-safe in this build (build.rs: its
//! `parking_lot` feature): then a forked child of a process that started a
//! runtime gets a clear error instead of a runtime that could deadlock.

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime as AsyncRuntime};
use pyo3_async_runtimes::TaskLocals;
use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// How often a blocked call wakes to let Python run signal handlers
/// (Ctrl-C). Bounds the delay of a KeyboardInterrupt.
const SIGNAL_TICK: Duration = Duration::from_millis(50);

struct ProcessRuntime {
    generation: u64,
    rt: Runtime,
}

static RUNTIME: AtomicPtr<ProcessRuntime> = AtomicPtr::new(std::ptr::null_mut());

fn build() -> std::io::Result<Runtime> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4);
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads).thread_name("kled-rt").enable_all().build()
}

/// Whether a forked child may start its own runtime (see build.rs).
pub const FORK_CHILD_SUPPORTED: bool = !cfg!(kled_fork_child_unsafe);

/// Why there is no runtime to run on.
pub enum NoRuntime {
    Io(std::io::Error),
    /// A forked child, and this build's tokio is not fork-safe.
    ForkedChild,
}

impl NoRuntime {
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            NoRuntime::Io(e) => crate::errors::io_error(py, "cannot start the tokio runtime", e),
            NoRuntime::ForkedChild => crate::errors::to_pyerr(
                py,
                kled::Error::new(
                    kled::ErrorKind::InvalidState,
                    "kled cannot run in a child made by fork() of a process that had used it: this build's \
                     tokio uses parking_lot, whose process-wide state a forked child cannot safely reuse. Use \
                     multiprocessing's \"spawn\" or \"forkserver\" start method (kled's handles pickle), or fork \
                     before using kled",
                ),
            ),
        }
    }
}

impl From<std::io::Error> for NoRuntime {
    fn from(e: std::io::Error) -> NoRuntime {
        NoRuntime::Io(e)
    }
}

/// This process's runtime, built on first use (and again in a forked child).
pub fn runtime() -> Result<&'static Runtime, NoRuntime> {
    let generation = crate::fork::generation();
    loop {
        let current = RUNTIME.load(Ordering::Acquire);
        // SAFETY: published entries are never freed (see the module docs).
        if let Some(entry) = unsafe { current.as_ref() } {
            if entry.generation == generation {
                return Ok(&entry.rt);
            }
            if !FORK_CHILD_SUPPORTED {
                return Err(NoRuntime::ForkedChild);
            }
        }
        let fresh = Box::into_raw(Box::new(ProcessRuntime { generation, rt: build()? }));
        match RUNTIME.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // The previous entry, if any, belongs to the parent: leaked on purpose.
            // SAFETY: `fresh` was just published and is never freed.
            Ok(_) => return Ok(unsafe { &(*fresh).rt }),
            Err(_) => {
                // Another thread won the race: use its runtime, discard ours.
                // SAFETY: `fresh` was never published.
                let lost = unsafe { Box::from_raw(fresh) };
                lost.rt.shutdown_background();
            }
        }
    }
}

fn runtime_or_panic() -> &'static Runtime {
    match runtime() {
        Ok(rt) => rt,
        Err(NoRuntime::Io(e)) => panic!("kled cannot start its tokio runtime: {e}"),
        Err(NoRuntime::ForkedChild) => panic!("kled cannot run in this forked child"),
    }
}

/// Runs `fut` to completion on the runtime without holding the GIL, waking
/// every `SIGNAL_TICK` to run Python's signal handlers. If one raises (Ctrl-C
/// raises KeyboardInterrupt) the future is dropped, which for an exec kills
/// the command's process group, and the exception propagates.
pub fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime().map_err(|e| e.into_pyerr(py))?;
    // Declared before `fut`, so `fut` is dropped inside the runtime's context.
    let _context = rt.enter();
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = py.detach(|| rt.block_on(tokio::time::timeout(SIGNAL_TICK, fut.as_mut())));
        match step {
            Ok(output) => return Ok(output),
            Err(_) => py.check_signals()?,
        }
    }
}

/// Runs `f` (quick, synchronous core work) inside the runtime's context.
pub fn enter<T>(f: impl FnOnce() -> T) -> Result<T, NoRuntime> {
    let rt = runtime()?;
    let _context = rt.enter();
    Ok(f())
}

// -- asyncio: pyo3-async-runtimes over this fork-aware runtime --

/// The runtime as pyo3-async-runtimes sees it.
pub struct KledRuntime;

pub struct KledJoinError(tokio::task::JoinError);

impl JoinError for KledJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

pub struct KledJoinHandle(tokio::task::JoinHandle<()>);

impl Future for KledJoinHandle {
    type Output = Result<(), KledJoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(KledJoinError)
    }
}

/// Inside a task: that task's runtime (taking no lock); else this process's.
fn handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| runtime_or_panic().handle().clone())
}

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl AsyncRuntime for KledRuntime {
    type JoinError = KledJoinError;
    type JoinHandle = KledJoinHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        KledJoinHandle(handle().spawn(fut))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        KledJoinHandle(handle().spawn_blocking(f))
    }
}

impl ContextExt for KledRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

/// An asyncio awaitable for `fut`. Cancelling the awaitable drops `fut`
/// (which kills an exec's command). Must be called with a running event loop.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    // Build the runtime here (with the GIL, outside any task) so that the
    // spawn inside never has to.
    runtime().map_err(|e| e.into_pyerr(py))?;
    pyo3_async_runtimes::generic::future_into_py::<KledRuntime, F, T>(py, fut)
}
