//! providers: which kinds of terminal work on this machine.

use crate::errors::Outcome;
use crate::params::EmptyParams;
use crate::render::structured;
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{ProviderView, ProvidersOutput};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[tool_router(router = provider_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Every kind of terminal (runtime) kled knows, whether it works on this machine, and what it \
                       needs. Use an available kind with create_terminal.",
        output_schema = output_schema::<ProvidersOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<EmptyParams>()
    )]
    async fn providers(&self, Parameters(_): Parameters<EmptyParams>) -> Outcome {
        let providers: Vec<ProviderView> = self
            .manager
            .providers()
            .into_iter()
            .map(|p| ProviderView {
                kind: p.kind.to_string(),
                available: p.available,
                description: p.description.to_string(),
                needs: p.needs.to_string(),
                reason: p.reason,
            })
            .collect();
        let text: String = providers
            .iter()
            .map(|p| match (&p.available, &p.reason) {
                (true, _) => format!("{}: available — {}\n", p.kind, p.description),
                (false, Some(r)) => format!("{}: unavailable ({r}) — needs {}\n", p.kind, p.needs),
                (false, None) => format!("{}: unavailable — needs {}\n", p.kind, p.needs),
            })
            .collect();
        Ok(structured(&ProvidersOutput { providers }, text))
    }
}
