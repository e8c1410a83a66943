//! What the person (or model) who got an error can do next, as data.
//!
//! The core knows *what* would help ("start terminal x", "list the
//! providers") but not how a front end spells it: the CLI says
//! `kled terminal start x`, Python `Manager.get_terminal("x").start()`, C
//! `kled_terminal_start()`, MCP the `start_terminal` tool. So a core message
//! states the problem only, and carries a `Hint` that each front end renders
//! with one function of its own (cli/src/hint.rs, ffi/src/hint.rs, the
//! Python, Node and MCP errors modules).

use std::fmt;

/// The next step that fixes (or explains) an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Hint {
    /// The terminal exists but is not running: start it.
    StartTerminal { name: String },
    /// What the terminal ran in is gone (removed outside kled): remove its record.
    RemoveTerminal { name: String },
    /// No terminal by that name: list the ones that exist.
    ListTerminals,
    /// The runtime does not work here: list the ones that do.
    ListProviders,
    /// The terminal's Neovim may be gone: starting the terminal starts a new one.
    RestartNeovim { name: String },
    /// A terminal option is missing or wrong: set `option` (to something like `value`).
    SetOption { option: String, value: String },
    /// Bulk names are taken: pick another prefix, or remove those terminals.
    OtherBulkPrefix,
}

impl Hint {
    /// A short stable word for the hint's action, for programs (the same
    /// word as the serialized `action`).
    pub fn action(&self) -> &'static str {
        match self {
            Hint::StartTerminal { .. } => "start_terminal",
            Hint::RemoveTerminal { .. } => "remove_terminal",
            Hint::ListTerminals => "list_terminals",
            Hint::ListProviders => "list_providers",
            Hint::RestartNeovim { .. } => "restart_neovim",
            Hint::SetOption { .. } => "set_option",
            Hint::OtherBulkPrefix => "other_bulk_prefix",
        }
    }

    /// The terminal the hint is about, if any.
    pub fn terminal(&self) -> Option<&str> {
        match self {
            Hint::StartTerminal { name } | Hint::RemoveTerminal { name } | Hint::RestartNeovim { name } => Some(name),
            _ => None,
        }
    }
}

/// The message and its rendered hint as one text: "MESSAGE; HINT". Every
/// front end joins them the same way, so only the hint's words differ.
pub fn with_hint(message: &str, hint: Option<&str>) -> String {
    match hint {
        Some(h) if !h.is_empty() => format!("{}; {h}", message.trim_end_matches(['.', ' '])),
        _ => message.to_string(),
    }
}

/// Words for the front ends that have no API of their own to name (logs,
/// Debug output): what to do, in plain English.
impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::StartTerminal { name } => write!(f, "start terminal {name:?}"),
            Hint::RemoveTerminal { name } => write!(f, "remove terminal {name:?} to clean up its record"),
            Hint::ListTerminals => f.write_str("list the terminals to see which exist"),
            Hint::ListProviders => f.write_str("list the providers to see which runtimes work here"),
            Hint::RestartNeovim { name } => write!(f, "start terminal {name:?} again for a new Neovim"),
            Hint::SetOption { option, value } => write!(f, "set the option {option}={value}"),
            Hint::OtherBulkPrefix => f.write_str("pick another prefix or remove those terminals"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_its_action() {
        let h = Hint::StartTerminal { name: "dev".into() };
        assert_eq!(serde_json::to_value(&h).unwrap(), serde_json::json!({"action": "start_terminal", "name": "dev"}));
        assert_eq!(serde_json::to_value(Hint::ListProviders).unwrap()["action"], Hint::ListProviders.action());
        assert_eq!(h.terminal(), Some("dev"));
    }

    #[test]
    fn joins_message_and_hint() {
        assert_eq!(with_hint("no terminal named \"x\".", Some("list them")), "no terminal named \"x\"; list them");
        assert_eq!(with_hint("plain", None), "plain");
    }
}
