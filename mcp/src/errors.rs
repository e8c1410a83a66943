//! Tool errors: how a failure reaches the model. Every tool returns a
//! `CallToolResult` (never an MCP protocol error), so that the model reads
//! the message and a hint in the tools' own terms: which tool to call next.

use kled::{Error, ErrorKind};
use rmcp::model::{CallToolResult, ContentBlock};

/// What a tool returns: its result, or a tool error (both are results for
/// the client; rmcp marks an `Err` with `isError`, which tool_error already
/// sets). As a `Result`, a tool body can use `?` on each step that may fail.
pub(crate) type Outcome = Result<CallToolResult, CallToolResult>;

/// A tool error: `isError` set and the message as text. No structured
/// content: clients (the TypeScript SDK) check it against the tool's output
/// schema even on errors.
pub(crate) fn tool_error(kind: &str, message: String) -> CallToolResult {
    tracing::debug!(kind, "tool error: {message}");
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// The call was cancelled by the client; `what` says what became of the work.
pub(crate) fn cancelled(what: &str) -> CallToolResult {
    tool_error("cancelled", format!("The call was cancelled; {what}."))
}

/// The core's message with a hint appended, as one sentence after another.
fn with_hint(e: &Error, hint: &str) -> CallToolResult {
    let message = e.message().trim_end();
    let stop = if hint.is_empty() || message.ends_with(['.', '!', '?']) { "" } else { "." };
    tool_error(e.kind().as_str(), format!("{message}{stop}{hint}"))
}

/// A core error as a tool error, with a hint in the tools' own terms.
/// `terminal` names the terminal the call was about, when there is one.
pub(crate) fn core_error(e: &Error, terminal: Option<&str>) -> CallToolResult {
    let hint = match (e.kind(), terminal) {
        (ErrorKind::InvalidState, Some(name)) => {
            format!(" Call start_terminal with {{\"name\": {name:?}}} to start it.")
        }
        (ErrorKind::RuntimeUnavailable, _) => " Call providers to see which kinds of terminal work here.".into(),
        (ErrorKind::AlreadyExists, _) => {
            " Pick another name, or use the existing terminal (list_terminals shows it).".into()
        }
        _ => String::new(),
    };
    with_hint(e, &hint)
}

/// A failed Code Interpreter call as a tool error. The core's message names
/// the request, the server's words and what to check (the base URL or key).
pub(crate) fn code_api_error(e: &Error) -> CallToolResult {
    let hint = match e.kind() {
        ErrorKind::NotFound => {
            " Sessions and their files expire: use a session_id and files that a recent code_interpreter_run \
             returned, or start afresh without them."
        }
        _ => "",
    };
    with_hint(e, hint)
}

/// Checks a session or file id before it goes into a request (it becomes
/// part of a URL path, so nothing but a well-formed id may pass).
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), CallToolResult> {
    if kled::librechat::wire::is_id(id) {
        return Ok(());
    }
    Err(tool_error(
        ErrorKind::InvalidArgument.as_str(),
        format!(
            "{what} {id:?} is not a Code Interpreter id (21 characters of letters, digits, '_' and '-'); use \
             one that code_interpreter_run returned"
        ),
    ))
}

#[cfg(test)]
pub(crate) fn text_of(r: &CallToolResult) -> String {
    r.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("session_id", &"a_B-9".repeat(4).chars().chain("x".chars()).collect::<String>()).is_ok());
        for bad in ["", "short", "../../../etc/passwd..", &"A".repeat(22)] {
            let r = check_id("session_id", bad).unwrap_err();
            assert!(text_of(&r).contains("code_interpreter_run returned"), "{}", text_of(&r));
        }
    }
}
