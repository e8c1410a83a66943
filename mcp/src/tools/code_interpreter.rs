//! code_interpreter_run and code_interpreter_files: code on the Code
//! Interpreter API (LibreChat's, or `kled serve codeapi`), no terminal needed.
//! The client is made per call from the manager's config, so a changed key or
//! base URL takes effect without restarting the server.

use crate::errors::{cancelled, check_id, code_api_error, Outcome};
use crate::params::{timeout, CodeFile, CodeInterpreterFilesParams, CodeInterpreterRunParams};
use crate::progress::await_reporting;
use crate::render::{render_code_run, structured};
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{CodeInterpreterFilesOutput, CodeInterpreterRunOutput, SessionFileView, Streams};
use kled::librechat::{Client, InputFile};
use kled::{CodeRequest, Error};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};

#[tool_router(router = code_interpreter_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Run code on the Code Interpreter API (LibreChat's, or kled serve codeapi; configured with \
                       LIBRECHAT_CODE_BASEURL and LIBRECHAT_CODE_API_KEY), in the service's sandbox: no \
                       terminal is needed. Returns stdout, stderr (capped like exec), the exit code when the \
                       service reports it, the session_id, and the files the code wrote to /mnt/data. Files \
                       persist only by passing them on: give the returned files (and session_id) to the next \
                       call to keep working on them.",
        output_schema = output_schema::<CodeInterpreterRunOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<CodeInterpreterRunParams>()
    )]
    async fn code_interpreter_run(
        &self,
        Parameters(p): Parameters<CodeInterpreterRunParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Outcome {
        // No timeout_secs: the configured librechat.timeout applies (the client's own default).
        let deadline = p.timeout_secs.map(|s| timeout(Some(s))).transpose()?;
        if let Some(s) = &p.session_id {
            check_id("session_id", s)?;
        }
        let files = p.files.unwrap_or_default();
        for f in &files {
            check_id("file id", &f.id)?;
            check_id("file session_id", &f.session_id)?;
        }
        let client = Client::from_config(&self.manager.config().librechat).map_err(|e| code_api_error(&e))?;
        let mut req = CodeRequest::new(p.lang, p.code);
        req.args = p.args.unwrap_or_default();
        req.timeout = deadline;
        let run = client.run_code(&req, files.into_iter().map(InputFile::from).collect(), p.session_id);
        let Some(result) = await_reporting(&ctx, "waiting for the Code Interpreter", run).await else {
            tracing::info!("code_interpreter_run cancelled by the client");
            return Err(cancelled("kled stopped waiting (the service may still finish the run)"));
        };
        let run = result.map_err(|e| code_api_error(&e))?;
        let r = &run.result;
        let output = CodeInterpreterRunOutput {
            session_id: run.output.session_id.clone(),
            exit_code: r.exit_code,
            duration_secs: r.duration.as_secs_f64(),
            streams: Streams::capped(&r.stdout, &r.stderr),
            files: run.output.inputs().into_iter().map(CodeFile::from).collect(),
        };
        let text = render_code_run(&output);
        Ok(structured(&output, text))
    }

    #[tool(
        description = "List the files of a Code Interpreter session (the session_id a code_interpreter_run \
                       returned): id, name, size. Their id, session_id and name can go into files of \
                       code_interpreter_run.",
        output_schema = output_schema::<CodeInterpreterFilesOutput>(),
        annotations(read_only_hint = true, open_world_hint = true),
        input_schema = input_schema::<CodeInterpreterFilesParams>()
    )]
    async fn code_interpreter_files(&self, Parameters(p): Parameters<CodeInterpreterFilesParams>) -> Outcome {
        check_id("session_id", &p.session_id)?;
        let client = Client::from_config(&self.manager.config().librechat).map_err(|e| code_api_error(&e))?;
        let listed = client.list_files(&p.session_id, true).await.map_err(|e| code_api_error(&Error::from(e)))?;
        let files: Vec<SessionFileView> = listed
            .iter()
            .map(|f| SessionFileView {
                id: f.file_id().to_string(),
                session_id: f.session_id.clone().unwrap_or_else(|| p.session_id.clone()),
                name: f.filename().to_string(),
                size: f.size,
                last_modified: f.last_modified.clone(),
            })
            .collect();
        let mut text = if files.is_empty() {
            format!("Session {} has no files.\n", p.session_id)
        } else {
            format!("Session {} has {} file(s):\n", p.session_id, files.len())
        };
        for f in &files {
            let size = f.size.map(|s| format!(", {s} bytes")).unwrap_or_default();
            text.push_str(&format!("- {} (id {}{size})\n", f.name, f.id));
        }
        Ok(structured(&CodeInterpreterFilesOutput { session_id: p.session_id, files }, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::text_of;
    use kled::Manager;

    /// A server whose Code Interpreter is `base_url`, on a throwaway state dir.
    fn server_with_code_api(base_url: &str) -> (KledMcp, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "kled-mcp-unit-{}-{}",
            std::process::id(),
            kled::librechat::wire::new_id()
        ));
        let mut config = kled::Config::default();
        config.librechat.base_url = base_url.into();
        (KledMcp::new(Manager::new(Some(dir.clone()), config).unwrap()), dir)
    }

    async fn files(server: &KledMcp, session_id: String) -> rmcp::model::CallToolResult {
        let r = server.code_interpreter_files(Parameters(CodeInterpreterFilesParams { session_id })).await;
        r.unwrap_or_else(|e| e)
    }

    #[tokio::test]
    async fn code_interpreter_errors_say_what_to_check() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (server, dir) = server_with_code_api(&format!("http://127.0.0.1:{port}/v1"));
        let sid = "A".repeat(21);
        let r = files(&server, sid.clone()).await;
        assert_eq!(r.is_error, Some(true));
        let t = text_of(&r);
        assert!(t.contains("LIBRECHAT_CODE_BASEURL") && t.contains(&format!("127.0.0.1:{port}")), "{t}");
        assert!(r.structured_content.is_none());

        let r = files(&server, "../etc".into()).await;
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains("is not a Code Interpreter id"), "{}", text_of(&r));
        std::fs::remove_dir_all(&dir).ok();

        let (server, dir) = server_with_code_api("not a url");
        let r = files(&server, sid).await;
        assert!(
            text_of(&r).contains("is not a URL") && text_of(&r).contains("LIBRECHAT_CODE_BASEURL"),
            "{}",
            text_of(&r)
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
