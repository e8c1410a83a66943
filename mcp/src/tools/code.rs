//! run_code: a snippet run with its language's toolchain inside a terminal.

use crate::errors::{cancelled, core_error, Outcome};
use crate::params::{timeout, RunCodeParams};
use crate::progress::await_reporting;
use crate::render::{render_exec, structured};
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{ExecOutput, Streams};
use kled::CodeRequest;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};

#[tool_router(router = code_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Run a code snippet with the language's interpreter or compiler inside a terminal and return \
                       stdout, stderr and exit code (capped like exec). The toolchain must be installed in the \
                       terminal. Cancelling the call kills the program.",
        output_schema = output_schema::<ExecOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<RunCodeParams>()
    )]
    async fn run_code(&self, Parameters(p): Parameters<RunCodeParams>, ctx: RequestContext<RoleServer>) -> Outcome {
        let timeout = timeout(p.timeout_secs)?;
        let t = self.terminal(&p.terminal).await?;
        let mut req = CodeRequest::new(p.lang, p.code);
        req.timeout = Some(timeout);
        // Dropping the run on cancellation drops its exec, which kills the program.
        let Some(result) = await_reporting(&ctx, "running", t.run_code_with(req)).await else {
            tracing::info!(terminal = %p.terminal, "run_code cancelled by the client");
            return Err(cancelled("the program was killed"));
        };
        let r = result.map_err(|e| core_error(&e, Some(&p.terminal)))?;
        let status = kled::ExitStatus {
            exit_code: r.exit_code,
            signal: r.signal,
            timed_out: r.timed_out,
            truncated: r.truncated,
            duration: r.duration,
        };
        let output = ExecOutput::new(p.terminal, &status, Streams::capped(&r.stdout, &r.stderr));
        let text = render_exec(&output);
        Ok(structured(&output, text))
    }
}
