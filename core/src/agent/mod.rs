//! The core's side of the agent: the embedded binary and the client that
//! speaks the protocol to a running agent over any byte stream.

mod binary;
mod client;

pub use binary::{agent_bytes, install_agent};
pub use client::{AgentClient, SpawnControl, SpawnHandle};
