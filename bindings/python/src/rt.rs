//! The binding's tokio runtime (the core owns none), how blocking calls wait
//! on it, and how asyncio awaits it.
//!
//! Fork: the core's policy (`kled::fork`, the same as libkled's). A child
//! made by `os.fork()` builds a runtime of its own on first use and leaks
//! the parent's (whose threads it does not have); only a build whose tokio
//! uses parking_lot refuses, with a clear error.

use crate::errors::to_pyerr;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime as AsyncRuntime};
use pyo3_async_runtimes::TaskLocals;
use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// How often a blocked call wakes to let Python run signal handlers
/// (Ctrl-C). Bounds the delay of a KeyboardInterrupt.
const SIGNAL_TICK: Duration = Duration::from_millis(50);

static RUNTIME: kled::fork::ProcessRuntime = kled::fork::ProcessRuntime::new();

fn build() -> std::io::Result<Runtime> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4);
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads).thread_name("kled-rt").enable_all().build()
}

/// This process's runtime, built on first use (and again in a forked child,
/// under the core's fork policy).
pub fn runtime() -> kled::Result<&'static Runtime> {
    RUNTIME.get(build)
}

fn runtime_or_panic() -> &'static Runtime {
    match runtime() {
        Ok(rt) => rt,
        Err(e) => panic!("kled cannot start its tokio runtime: {e}"),
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
    let rt = runtime().map_err(|e| to_pyerr(py, e))?;
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
pub fn enter<T>(f: impl FnOnce() -> T) -> kled::Result<T> {
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
    runtime().map_err(|e| to_pyerr(py, e))?;
    pyo3_async_runtimes::generic::future_into_py::<KledRuntime, F, T>(py, fut)
}
