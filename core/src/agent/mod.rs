//! The core's side of the agent: the embedded binary and the client that
//! speaks the protocol to a running agent over any byte stream.

mod binary;
mod client;
mod process;
mod proxy;

pub use binary::{agent_bytes, install_agent};
pub use client::AgentClient;
pub use process::{SpawnControl, SpawnHandle};
