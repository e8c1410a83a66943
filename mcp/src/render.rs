//! A tool's result for the client: the structured value (for programs, checked
//! against the output schema) and a text rendering of it (for the model, which
//! reads text content first). The shared renderings live here; a tool whose
//! text is its own builds it where it runs.

use crate::views::{CodeInterpreterRunOutput, ExecOutput};
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

/// A successful result: `value` as structured content, `text` as its only content block.
pub(crate) fn structured<T: Serialize>(value: &T, text: String) -> CallToolResult {
    // The views are plain data (strings, numbers, JSON values): serializing them cannot fail.
    let value = serde_json::to_value(value).expect("tool outputs serialize");
    let mut r = CallToolResult::structured(value);
    r.content = vec![ContentBlock::text(text)];
    r
}

/// The two streams under headings, or a plain "(no output)".
fn push_streams(text: &mut String, stdout: &str, stderr: &str) {
    for (name, body) in [("stdout", stdout), ("stderr", stderr)] {
        if !body.is_empty() {
            text.push_str(&format!("--- {name} ---\n{body}"));
            if !body.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    if stdout.is_empty() && stderr.is_empty() {
        text.push_str("(no output)\n");
    }
}

/// exec and run_code: how the command ended, then its output.
pub(crate) fn render_exec(o: &ExecOutput) -> String {
    let status = if o.timed_out {
        format!("timed out after {:.1}s and was killed (with everything it started)", o.duration_secs)
    } else if let Some(s) = o.signal {
        format!("killed by signal {s} after {:.3}s", o.duration_secs)
    } else {
        format!("exit code {} in {:.3}s", o.exit_code.map_or("?".to_string(), |c| c.to_string()), o.duration_secs)
    };
    let mut text = format!("{status} (terminal {})\n", o.terminal);
    push_streams(&mut text, &o.streams.stdout, &o.streams.stderr);
    if o.output_limit_reached {
        text.push_str("(kled stopped collecting output at its per-stream limit: the end of the output is missing)\n");
    }
    text
}

/// code_interpreter_run: the outcome, the output, and the files to pass on
/// spelled out as JSON, because a model keeps working on them only by
/// passing them back exactly.
pub(crate) fn render_code_run(o: &CodeInterpreterRunOutput) -> String {
    let status = match o.exit_code {
        Some(c) => format!("exit code {c} in {:.3}s", o.duration_secs),
        None => format!("finished in {:.3}s (the service gave no exit code)", o.duration_secs),
    };
    let mut text = format!("{status} (Code Interpreter session {})\n", o.session_id);
    push_streams(&mut text, &o.streams.stdout, &o.streams.stderr);
    if !o.files.is_empty() {
        let names: Vec<&str> = o.files.iter().map(|f| f.name.as_str()).collect();
        text.push_str(&format!(
            "--- files ---\nThe run wrote {} to /mnt/data. To use them in the next code_interpreter_run, pass \
             \"files\": {}\n",
            names.join(", "),
            serde_json::to_string(&o.files).expect("files serialize")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::CodeFile;
    use crate::views::Streams;

    #[test]
    fn code_run_render_shows_files_to_pass_on() {
        let file = CodeFile { id: "F".repeat(21), session_id: "S".repeat(21), name: "out.csv".into() };
        let mut o = CodeInterpreterRunOutput {
            session_id: "S".repeat(21),
            exit_code: Some(0),
            duration_secs: 0.25,
            streams: Streams::plain("6\n", ""),
            files: vec![file],
        };
        let t = render_code_run(&o);
        assert!(
            t.starts_with(&format!(
                "exit code 0 in 0.250s (Code Interpreter session {})\n--- stdout ---\n6\n",
                "S".repeat(21)
            )),
            "{t}"
        );
        assert!(
            t.contains(&format!(
                r#""files": [{{"id":"{}","session_id":"{}","name":"out.csv"}}]"#,
                "F".repeat(21),
                "S".repeat(21)
            )),
            "{t}"
        );
        o.exit_code = None;
        o.files.clear();
        o.streams.stdout.clear();
        let t = render_code_run(&o);
        assert!(t.contains("gave no exit code") && t.ends_with("(no output)\n") && !t.contains("files"), "{t}");
    }

    #[test]
    fn render_says_what_happened() {
        let mut o = ExecOutput {
            terminal: "dev".into(),
            exit_code: Some(3),
            signal: None,
            timed_out: false,
            duration_secs: 0.5,
            streams: Streams::plain("out", ""),
            output_limit_reached: false,
        };
        assert_eq!(render_exec(&o), "exit code 3 in 0.500s (terminal dev)\n--- stdout ---\nout\n");
        o.timed_out = true;
        o.exit_code = None;
        o.streams.stdout.clear();
        assert!(render_exec(&o).starts_with("timed out after 0.5s and was killed"));
        assert!(render_exec(&o).ends_with("(no output)\n"));
    }
}
