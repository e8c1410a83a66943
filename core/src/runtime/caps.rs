//! What a terminal of each kind can do: what front ends offer and refuse by
//! (an editor for Neovim kinds, a pseudo-terminal where the agent runs
//! commands), rather than by matching on kinds of their own.

use crate::kind::Kind;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Caps {
    /// Commands can run on a pseudo-terminal, with open stdin (`tty`, `stdin_open`).
    pub tty: bool,
    /// Commands can be signalled (and are killed by their timeout).
    pub signals: bool,
    /// Buffers can be edited through [`crate::Editor`].
    pub editor: bool,
    /// Terminals run in a sandbox with a kernel other than the host's.
    pub isolated: bool,
    /// Interactive sessions that outlive their clients.
    pub sessions: bool,
    /// Files can be read, written and listed.
    pub files: bool,
}

impl Caps {
    /// What terminals of `kind` can do.
    pub fn of(kind: Kind) -> Caps {
        super::runtime_for(kind).caps()
    }

    /// A terminal whose commands a kled-agent runs.
    pub const AGENT: Caps =
        Caps { tty: true, signals: true, editor: false, isolated: false, sessions: false, files: true };
    /// A terminal served by Neovim: commands are Neovim jobs.
    pub const NEOVIM: Caps =
        Caps { tty: false, signals: true, editor: true, isolated: false, sessions: false, files: true };
}
