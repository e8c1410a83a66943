//! exec: a command in a terminal, streamed, so that a long one reports
//! progress with its latest output and a cancelled one is killed.

use crate::cap::{HeadTail, MODEL_KEEP};
use crate::errors::{cancelled, core_error, tool_error, Outcome};
use crate::params::{timeout, ExecParams};
use crate::progress::{progress_message, ticker, Reporter};
use crate::render::{render_exec, structured};
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{ExecOutput, Streams};
use kled::{ErrorKind, ExecEvent, ExecRequest};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};
use std::time::Instant;

/// Output collected per stream by exec. Far above what a model is shown:
/// only the first and last 16 KiB are kept in memory, so a large cap costs
/// nothing but lets the shown tail be the real end of the output.
const EXEC_MAX_OUTPUT: u64 = 1 << 30;

#[tool_router(router = exec_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Run a command in a terminal and return its stdout, stderr and exit code. A non-zero exit \
                       code is a normal result. Each stream is shown in full up to 32 KiB, else its first and last \
                       16 KiB with the cut stated. Long commands report progress; cancelling the call kills the \
                       command and everything it started.",
        output_schema = output_schema::<ExecOutput>(),
        annotations(open_world_hint = true),
        input_schema = input_schema::<ExecParams>()
    )]
    async fn exec(&self, Parameters(p): Parameters<ExecParams>, ctx: RequestContext<RoleServer>) -> Outcome {
        let timeout = timeout(p.timeout_secs)?;
        let t = self.terminal(&p.terminal).await?;
        let mut req = ExecRequest::new(p.command).timeout(timeout).max_output(EXEC_MAX_OUTPUT);
        req.cwd = p.cwd;
        req.env = p.env.unwrap_or_default();
        req.stdin = p.stdin.map(String::into_bytes);
        let mut stream = t.exec_stream(req).await.map_err(|e| core_error(&e, Some(&p.terminal)))?;
        let reporter = Reporter::new(&ctx);
        let started = Instant::now();
        // Head and tail only: a command may write gigabytes, the model sees 32 KiB.
        let (mut out, mut err) = (HeadTail::new(MODEL_KEEP), HeadTail::new(MODEL_KEEP));
        let mut tick = ticker();
        // The stream's own watchdog ends a command the agent failed to end
        // at its timeout (kled::ExecStream::next), as for every front end.
        let status = loop {
            tokio::select! {
                _ = ctx.ct.cancelled() => {
                    // Dropping the stream kills the command's process group.
                    drop(stream);
                    tracing::info!(terminal = %p.terminal, "exec cancelled by the client");
                    return Err(cancelled("the command was killed"));
                }
                _ = tick.tick(), if reporter.wanted() => {
                    reporter.report(progress_message(&out, &err, started.elapsed())).await;
                }
                ev = stream.next() => match ev {
                    Some(Ok(ExecEvent::Stdout(b))) => out.push(&b),
                    Some(Ok(ExecEvent::Stderr(b))) => err.push(&b),
                    Some(Ok(ExecEvent::Exit(st))) => break st,
                    Some(Err(e)) => return Err(core_error(&e, Some(&p.terminal))),
                    None => {
                        return Err(tool_error(
                            ErrorKind::Agent.as_str(),
                            "The command ended without an exit status.".into(),
                        ))
                    }
                }
            }
        };
        // A stream that reached the agent's cap lost its real end: the note
        // must not call what is kept "the last bytes".
        if status.truncated {
            for s in [&mut out, &mut err] {
                if s.total() >= EXEC_MAX_OUTPUT {
                    s.set_tail_lost();
                }
            }
        }
        let output = ExecOutput::new(p.terminal, &status, Streams::of(out.finish("stdout"), err.finish("stderr")));
        let text = render_exec(&output);
        Ok(structured(&output, text))
    }
}
