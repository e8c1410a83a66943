//! `kled mcp [--http ADDR]`: kled's terminals as Model Context Protocol tools.

use clap::Args;
use kled::{Error, ErrorKind, Manager};
use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Args, Debug)]
pub struct McpArgs {
    /// Serve streamable HTTP on ADDR (e.g. 127.0.0.1:8765; port 0 picks a free port) instead of stdio.
    /// The endpoint is http://ADDR/mcp. There is no authentication: keep ADDR on loopback.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

pub async fn run(manager: Manager, a: McpArgs) -> Result<u8, Error> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| Error::new(ErrorKind::Io, format!("mcp: {e}"));
    match a.http {
        None => kled_mcp::serve_stdio(manager).await.map_err(failed)?,
        Some(addr) => {
            let addr = parse_addr(&addr)?;
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

/// `HOST:PORT`, `[V6]:PORT`, or a bare `PORT` (on 127.0.0.1).
fn parse_addr(s: &str) -> Result<SocketAddr, Error> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let invalid = |why: String| {
        Error::new(ErrorKind::InvalidArgument, format!("--http {s:?}: {why}; expected HOST:PORT, e.g. 127.0.0.1:8765"))
    };
    let mut addrs = s.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.collect::<Vec<_>>();
    // Prefer IPv4 for names like localhost, as clients usually do.
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.into_iter().next().ok_or_else(|| invalid("the name has no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("127.0.0.1:80").unwrap(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(parse_addr("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert_eq!(parse_addr("8765").unwrap(), "127.0.0.1:8765".parse().unwrap());
        assert!(parse_addr("localhost:9").unwrap().ip().is_loopback());
        assert!(parse_addr("nonsense").unwrap_err().message().contains("expected HOST:PORT"));
    }
}
