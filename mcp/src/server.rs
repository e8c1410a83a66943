//! The MCP server value: the manager its tools work on, its tool set, and
//! how a tool finds the terminal a call names. The tools themselves are in
//! tools/, one module per group.

use crate::errors::{core_error, tool_error};
use crate::views::TerminalView;
use kled::{ErrorKind, Manager, Terminal};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool_handler, ServerHandler};
use std::sync::Arc;

const INSTRUCTIONS: &str = "kled gives you named, long-lived terminals: environments in which you run shell \
commands and code. A terminal keeps its files and working directory between calls, and other programs \
(the kled CLI, Python, Node) see the same terminals. Typical flow: list_terminals (or create_terminal \
with kind \"local\"), then exec / run_code / read_file / write_file against it by name. A non-zero exit \
code is a normal result, not a tool error. Output longer than 32 KiB per stream is cut in the middle and \
the cut is stated. providers tells which kinds of terminal work on this machine. code_interpreter_run runs \
code on the Code Interpreter API (LibreChat's, or kled serve codeapi) without any terminal; pass the files \
it returns to the next code_interpreter_run to keep working on them.";

/// The MCP server: one per client connection (cheap to clone; clones share
/// the manager and so its agent connections).
#[derive(Clone)]
pub struct KledMcp {
    pub(crate) manager: Manager,
    tool_router: Arc<ToolRouter<KledMcp>>,
}

impl std::fmt::Debug for KledMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KledMcp").field("manager", &self.manager).finish()
    }
}

impl KledMcp {
    pub fn new(manager: Manager) -> KledMcp {
        // tool_set() is defined in tools/, next to the groups it adds up.
        KledMcp { manager, tool_router: Arc::new(Self::tool_set()) }
    }

    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The terminal, or a tool error that lists the terminals that exist.
    pub(crate) async fn terminal(&self, name: &str) -> Result<Terminal, CallToolResult> {
        match self.manager.get_terminal(name).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(self.unknown_terminal(name).await),
            Err(e) => Err(core_error(&e, None)),
        }
    }

    /// A model that guessed a name is told the real ones, so that its next call can succeed.
    async fn unknown_terminal(&self, name: &str) -> CallToolResult {
        let known: Vec<String> = match self.manager.list_terminals().await {
            Ok(l) => l.terminals.iter().map(|t| format!("{} ({}, {})", t.name, t.kind, t.state)).collect(),
            Err(_) => Vec::new(),
        };
        let message = if known.is_empty() {
            format!(
                "No terminal named {name:?}: no terminals exist yet. Create one with create_terminal, e.g. \
                 {{\"name\": {name:?}, \"kind\": \"local\"}}."
            )
        } else {
            format!(
                "No terminal named {name:?}. The terminals that exist are: {}. Use one of these names, or create \
                 {name:?} with create_terminal.",
                known.join(", ")
            )
        };
        tool_error(ErrorKind::NotFound.as_str(), message)
    }

    /// The terminal as the lifecycle tools report it.
    pub(crate) async fn view(&self, t: &Terminal) -> Result<TerminalView, CallToolResult> {
        t.info().await.map(TerminalView::from).map_err(|e| core_error(&e, Some(t.name())))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for KledMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("kled", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
