//! kled's Model Context Protocol server: terminals as tools for AI agents.
//!
//! Serves the tools of [`KledMcp`] over stdio ([`serve_stdio`]) or over
//! streamable HTTP ([`serve_http`]), with the official Rust SDK (`rmcp`).
//! Terminals live in the manager's state dir, so the ones the CLI or a
//! binding made are the ones the tools see.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let manager = kled::Manager::from_env()?;
//! kled_mcp::serve_stdio(manager).await?;
//! # Ok(()) }
//! ```

/// Head-and-tail capping, shared with `kled serve codeapi` (it lives in the core).
pub use kled::cap;
// errors, schema and progress use no other module here; params uses errors;
// views uses params; render uses views; server uses errors and views; tools/
// uses all of them, and nothing uses tools/ (KledMcp::new calls the
// tool_set() that tools/ adds to it).
mod errors;
mod params;
mod progress;
mod render;
mod schema;
mod server;
mod tools;
mod views;

pub use params::DEFAULT_TIMEOUT;
pub use progress::PROGRESS_EVERY;
pub use server::KledMcp;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The path the HTTP transport serves MCP on.
pub const HTTP_PATH: &str = "/mcp";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves MCP on this process's stdin and stdout until the client closes stdin.
pub async fn serve_stdio(manager: kled::Manager) -> Result<(), BoxError> {
    let running = KledMcp::new(manager).serve(rmcp::transport::stdio_pipes()).await?;
    let reason = running.waiting().await?;
    tracing::info!(?reason, "MCP stdio session ended");
    Ok(())
}

/// A bound streamable HTTP server, not yet serving.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    service: StreamableHttpService<KledMcp, LocalSessionManager>,
    shutdown: CancellationToken,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port; see [`HttpServer::local_addr`]).
    ///
    /// Requests must name this host: loopback names always, plus the bound
    /// address; any Host when bound to an unspecified address (0.0.0.0, ::),
    /// which then relies on the network to keep strangers out.
    pub async fn bind(manager: kled::Manager, addr: SocketAddr) -> std::io::Result<HttpServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let mut config = StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token());
        if local.ip().is_unspecified() {
            config = config.disable_allowed_hosts();
        } else if !local.ip().is_loopback() {
            let ip = local.ip().to_string();
            config = config.with_allowed_hosts(["localhost".to_string(), "127.0.0.1".into(), "::1".into(), ip]);
        }
        // One server value, cloned per session (or per request, for stateless
        // 2026-07-28 clients): clones share the manager and the tool router.
        let server = KledMcp::new(manager);
        let service =
            StreamableHttpService::new(move || Ok(server.clone()), Arc::new(LocalSessionManager::default()), config);
        Ok(HttpServer { listener, service, shutdown })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The URL clients connect to.
    pub fn url(&self) -> std::io::Result<String> {
        Ok(format!("http://{}{HTTP_PATH}", self.local_addr()?))
    }

    /// Cancelling this token stops the server (and ends its sessions).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves connections until the shutdown token is cancelled.
    pub async fn run(self) -> std::io::Result<()> {
        let HttpServer { listener, service, shutdown } = self;
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let handler = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut service = service.clone();
                    async move {
                        if req.uri().path() != HTTP_PATH {
                            return Ok::<_, Infallible>(not_found());
                        }
                        use tower_service::Service;
                        service.call(req).await
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, handler);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => if let Err(e) = r {
                        tracing::debug!(%peer, "HTTP connection ended: {e}");
                    },
                    _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
                }
            });
        }
    }
}

fn not_found() -> hyper::Response<http_body_util::combinators::BoxBody<bytes::Bytes, Infallible>> {
    use http_body_util::BodyExt;
    let body = format!("kled serves MCP at {HTTP_PATH}\n");
    let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)).boxed());
    *r.status_mut() = hyper::StatusCode::NOT_FOUND;
    r
}

/// Serves MCP over streamable HTTP on `addr` until the process is
/// interrupted (SIGINT or SIGTERM). `ready` is called with the URL once the
/// socket is bound.
pub async fn serve_http(manager: kled::Manager, addr: SocketAddr, ready: impl FnOnce(&str)) -> Result<(), BoxError> {
    let server = HttpServer::bind(manager, addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    ready(&server.url()?);
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    server.run().await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
