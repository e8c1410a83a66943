//! Tool errors: how a failure reaches the model. Every tool returns a
//! `CallToolResult` (never an MCP protocol error), so that the model reads
//! the message and a hint in the tools' own terms: which tool to call next.

use kled::{Error, ErrorKind, Hint};
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
    let hint = if hint.trim().is_empty() { "" } else { hint };
    let stop = if hint.is_empty() || message.ends_with(['.', '!', '?']) { "" } else { "." };
    tool_error(e.kind().as_str(), format!("{message}{stop}{hint}"))
}

/// The core's hint as the tool call that acts on it: the one place MCP
/// spells out a next step for a core error.
pub(crate) fn render_hint(hint: &Hint) -> String {
    match hint {
        Hint::StartTerminal { name } => format!("Call start_terminal with {{\"name\": {name:?}}} to start it."),
        Hint::RemoveTerminal { name } => {
            format!("Call remove_terminal with {{\"name\": {name:?}}} to clean up its record.")
        }
        Hint::ListTerminals => "Call list_terminals to see the terminals that exist.".into(),
        Hint::ListProviders => "Call providers to see which kinds of terminal work here.".into(),
        Hint::RestartNeovim { name } => {
            format!("Call start_terminal with {{\"name\": {name:?}}} to start a new Neovim.")
        }
        Hint::SetOption { option, value } => {
            format!("Pass {{\"options\": {{{option:?}: {value:?}}}}} to create_terminal.")
        }
        Hint::OtherBulkPrefix => "Pick other names, or remove those terminals with remove_terminal.".into(),
        other => format!("Next: {other}."),
    }
}

/// A core error as a tool error, with a hint in the tools' own terms: the
/// core's, else one by kind. `terminal` names the terminal the call was
/// about, when there is one.
pub(crate) fn core_error(e: &Error, terminal: Option<&str>) -> CallToolResult {
    let hint = match (e.hint(), e.kind(), terminal) {
        (Some(h), _, _) => render_hint(h),
        (None, ErrorKind::InvalidState, Some(name)) => render_hint(&Hint::StartTerminal { name: name.into() }),
        (None, ErrorKind::RuntimeUnavailable, _) => render_hint(&Hint::ListProviders),
        (None, ErrorKind::AlreadyExists, _) => {
            "Pick another name, or use the existing terminal (list_terminals shows it).".into()
        }
        _ => String::new(),
    };
    with_hint(e, &format!(" {hint}"))
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

    #[test]
    fn hints_become_tool_calls_once() {
        let e = Error::new(ErrorKind::InvalidState, "terminal \"dev\" is stopped")
            .with_hint(Hint::StartTerminal { name: "dev".into() });
        let text = text_of(&core_error(&e, Some("dev")));
        assert_eq!(text, "terminal \"dev\" is stopped. Call start_terminal with {\"name\": \"dev\"} to start it.");
        let e = Error::new(ErrorKind::InvalidArgument, "a container terminal needs an image")
            .with_hint(Hint::SetOption { option: "image".into(), value: "IMAGE".into() });
        assert!(
            text_of(&core_error(&e, None)).ends_with("Pass {\"options\": {\"image\": \"IMAGE\"}} to create_terminal.")
        );
        let e = Error::new(ErrorKind::RuntimeUnavailable, "no engine");
        assert_eq!(text_of(&core_error(&e, None)).matches("Call providers").count(), 1);
        assert_eq!(text_of(&core_error(&Error::new(ErrorKind::Io, "disk full"), None)), "disk full");
    }
}
