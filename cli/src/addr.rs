//! Listening addresses for the servers (`kled mcp --http`, `kled serve codeapi --listen`).

use kled::{Error, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};

/// `HOST:PORT`, `[V6]:PORT`, or a bare `PORT` (on 127.0.0.1).
pub fn parse_addr(s: &str, flag: &str) -> Result<SocketAddr, Error> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let invalid = |why: String| {
        Error::new(ErrorKind::InvalidArgument, format!("{flag} {s:?}: {why}; expected HOST:PORT, e.g. 127.0.0.1:8765"))
    };
    let mut addrs = s.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.collect::<Vec<_>>();
    // Prefer IPv4 for names like localhost, as clients usually do.
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.into_iter().next().ok_or_else(|| invalid("the name has no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_addr_t(s: &str) -> Result<SocketAddr, Error> {
        parse_addr(s, "--listen")
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr_t("127.0.0.1:80").unwrap(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(parse_addr_t("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert_eq!(parse_addr_t("8765").unwrap(), "127.0.0.1:8765".parse().unwrap());
        assert!(parse_addr_t("localhost:9").unwrap().ip().is_loopback());
        assert!(parse_addr_t("nonsense").unwrap_err().message().contains("expected HOST:PORT"));
    }
}
