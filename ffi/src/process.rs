//! Core handles per process: the core's fork policy (kled_core::fork)
//! applied to libkled's managers. A leaf, used by manager.rs and terminal.rs.

use crate::guard::Result;
use kled_core::fork::PerProcess;
use kled_core::{Config, Manager};
use std::path::PathBuf;

/// A core manager per process (the core's fork policy, kled_core::fork): a
/// child forked after libkled started makes its own, from the same state dir
/// and configuration, on first use. Shared with the manager's terminal handles,
/// which outlive kled_manager_free.
pub(crate) struct ProcessManager {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
    pub(crate) manager: PerProcess<Manager>,
}

impl ProcessManager {
    /// This process's core manager.
    pub(crate) fn get(&self) -> Result<Manager> {
        self.manager.get(|| {
            let _context = crate::runtime::get()?.enter();
            Ok(Manager::new(Some(self.root.clone()), self.config.clone())?)
        })
    }
}
