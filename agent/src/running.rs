//! What the conversation's reader must know of each running spawn, to
//! route kills, resizes and input to it.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub struct Running {
    /// Process group, once the child exists.
    pub pgid: Option<i32>,
    /// A kill asked for before the child existed.
    pub pending_signal: Option<i32>,
    pub stdin: Option<mpsc::Sender<Vec<u8>>>,
    /// The master side of its pseudo-terminal, if it has one (for resizes).
    pub pty: Option<std::os::fd::OwnedFd>,
    /// A resize asked for before the child existed.
    pub pending_resize: Option<(u16, u16)>,
}

pub type RunningMap = Arc<Mutex<HashMap<u32, Running>>>;
