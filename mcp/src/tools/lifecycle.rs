//! create_terminal, list_terminals, start_terminal, stop_terminal, remove_terminal.

use crate::errors::{core_error, tool_error, Outcome};
use crate::params::{CreateTerminalParams, EmptyParams, NameParams};
use crate::render::structured;
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{ListOutput, ProblemView, RemovedOutput, TerminalOutput, TerminalView};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use serde_json::{json, Value};

/// start_terminal and stop_terminal differ only in the call and the word.
#[derive(Clone, Copy)]
enum Switch {
    Start,
    Stop,
}

#[tool_router(router = lifecycle_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Create a terminal: a named environment that keeps its files between calls, in which exec, \
                       run_code, read_file and write_file run. It is started too unless start is false. Use kind \
                       \"local\" unless the user wants a container or an isolated sandbox.",
        output_schema = output_schema::<TerminalOutput>(),
        input_schema = input_schema::<CreateTerminalParams>()
    )]
    async fn create_terminal(&self, Parameters(p): Parameters<CreateTerminalParams>) -> Outcome {
        let options = p.options.map(Value::Object).unwrap_or_else(|| json!({}));
        let t = self.manager.create_terminal(&p.kind, &p.name, options).await.map_err(|e| core_error(&e, None))?;
        if p.start {
            // The terminal exists now, started or not: say so, and how to go on.
            t.start().await.map_err(|e| {
                tool_error(
                    e.kind().as_str(),
                    format!(
                        "Created terminal {:?} but could not start it: {}. Fix the cause and call start_terminal, \
                         or remove it with remove_terminal.",
                        p.name,
                        e.message()
                    ),
                )
            })?;
        }
        let view = self.view(&t).await?;
        let text = format!(
            "Created {} terminal {:?}; it is {}.",
            view.kind,
            view.name,
            if p.start { "running" } else { "created but not started (call start_terminal)" }
        );
        Ok(structured(&TerminalOutput { terminal: view }, text))
    }

    #[tool(
        description = "List every terminal with its kind (runtime), state (created, running, stopped, failed) and \
                       options.",
        output_schema = output_schema::<ListOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<EmptyParams>()
    )]
    async fn list_terminals(&self, Parameters(_): Parameters<EmptyParams>) -> Outcome {
        let listing = self.manager.list_terminals().await.map_err(|e| core_error(&e, None))?;
        let mut text = if listing.terminals.is_empty() {
            "No terminals. Create one with create_terminal.\n".to_string()
        } else {
            listing
                .terminals
                .iter()
                .map(|t| {
                    let why = t.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                    format!("{}: {} terminal, {}{why}\n", t.name, t.kind, t.state)
                })
                .collect()
        };
        for p in &listing.problems {
            text.push_str(&format!("unreadable record {}: {}\n", p.name, p.error));
        }
        let out = ListOutput {
            terminals: listing.terminals.into_iter().map(TerminalView::from).collect(),
            problems: listing
                .problems
                .into_iter()
                .map(|p| ProblemView { name: p.name.to_string(), error: p.error.to_string() })
                .collect(),
        };
        Ok(structured(&out, text))
    }

    #[tool(
        description = "Start a terminal so that it can run commands. Does nothing if it is already running.",
        output_schema = output_schema::<TerminalOutput>(),
        annotations(idempotent_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn start_terminal(&self, Parameters(p): Parameters<NameParams>) -> Outcome {
        self.switch(&p.name, Switch::Start).await
    }

    #[tool(
        description = "Stop a terminal: everything running in it is killed; its files are kept and start_terminal \
                       resumes it. Does nothing if it is already stopped.",
        output_schema = output_schema::<TerminalOutput>(),
        annotations(idempotent_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn stop_terminal(&self, Parameters(p): Parameters<NameParams>) -> Outcome {
        self.switch(&p.name, Switch::Stop).await
    }

    #[tool(
        description = "Remove a terminal: stop it and delete it and its files. This cannot be undone.",
        output_schema = output_schema::<RemovedOutput>(),
        annotations(destructive_hint = true),
        input_schema = input_schema::<NameParams>()
    )]
    async fn remove_terminal(&self, Parameters(p): Parameters<NameParams>) -> Outcome {
        let t = self.terminal(&p.name).await?;
        t.remove().await.map_err(|e| core_error(&e, Some(&p.name)))?;
        Ok(structured(&RemovedOutput { removed: p.name.clone() }, format!("Removed terminal {:?}.", p.name)))
    }
}

impl KledMcp {
    async fn switch(&self, name: &str, to: Switch) -> Outcome {
        let t = self.terminal(name).await?;
        let (done, state) = match to {
            Switch::Start => (t.start().await, "running"),
            Switch::Stop => (t.stop().await, "stopped"),
        };
        done.map_err(|e| core_error(&e, Some(name)))?;
        let view = self.view(&t).await?;
        Ok(structured(&TerminalOutput { terminal: view }, format!("Terminal {name:?} is {state}.")))
    }
}
