//! The tools, one module per group (as mini-redis keeps one file per
//! command). Each module adds `#[tool]` methods to `KledMcp` in its own
//! `#[tool_router(router = ...)]` impl block; `tool_set` adds the groups up.
//! A tool takes its parameter type from params.rs, reports a view from
//! views.rs and fails with a tool error from errors.rs.

mod code;
mod code_interpreter;
mod exec;
mod files;
mod lifecycle;
mod providers;

use crate::server::KledMcp;
use rmcp::handler::server::router::tool::ToolRouter;

impl KledMcp {
    /// Every tool the server offers. Clients list them sorted by name, so the
    /// order of the groups here does not show.
    pub(crate) fn tool_set() -> ToolRouter<KledMcp> {
        Self::lifecycle_tools()
            + Self::exec_tools()
            + Self::code_tools()
            + Self::file_tools()
            + Self::code_interpreter_tools()
            + Self::provider_tools()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_tool_has_an_object_input_schema_and_a_description() {
        let router = KledMcp::tool_set();
        let tools = router.list_all();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "code_interpreter_files",
                "code_interpreter_run",
                "create_terminal",
                "exec",
                "list_terminals",
                "providers",
                "read_file",
                "remove_terminal",
                "run_code",
                "start_terminal",
                "stop_terminal",
                "write_file"
            ]
        );
        for t in &tools {
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")), "{}", t.name);
            assert!(t.description.as_deref().is_some_and(|d| d.len() > 40), "{}", t.name);
            assert!(t.output_schema.is_some(), "{}", t.name);
            // Plain schemas: some clients do not follow $ref.
            let all = format!("{:?}{:?}", t.input_schema, t.output_schema);
            assert!(!all.contains("$ref"), "{}: {all}", t.name);
            assert!(!all.contains("uint") && !all.contains("int32") && !all.contains("double"), "{}: {all}", t.name);
        }
    }
}
