//! `kled mcp [--http ADDR]`: kled's terminals as Model Context Protocol tools.

use crate::args::McpArgs;
use kled::{Error, ErrorKind, Manager};

pub async fn run(manager: Manager, a: McpArgs) -> Result<u8, Error> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| Error::new(ErrorKind::Io, format!("mcp: {e}"));
    match a.http {
        None => kled_mcp::serve_stdio(manager).await.map_err(failed)?,
        Some(addr) => {
            let addr = crate::addr::parse_addr(&addr, "--http")?;
            if !addr.ip().is_loopback() {
                eprintln!(
                    "kled mcp: warning: {addr} is not a loopback address; anyone who can reach it can run \
                     commands in your terminals (there is no authentication)"
                );
            }
            kled_mcp::serve_http(manager, addr, |url| {
                eprintln!("kled mcp: serving MCP over streamable HTTP at {url} (state dir and terminals as the CLI's)")
            })
            .await
            .map_err(failed)?
        }
    }
    Ok(0)
}
