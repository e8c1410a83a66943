//! `kled serve codeapi`: LibreChat's Code Interpreter API (the legacy hosted
//! service's, see `kled::librechat`) served on kled terminals, so a
//! LibreChat deployment can set `LIBRECHAT_CODE_BASEURL` to this server and
//! run code on its own hosts.
//!
//! - Each **session** is one sandbox terminal (gVisor by default) with the
//!   session's files in `/mnt/data`, its working directory. An exec that
//!   names a session, or whose files all come from one, runs in that
//!   session's sandbox; any other exec starts a new session, taking a
//!   sandbox already started from the warm pool.
//! - **Files** live on the host under the state dir, named by their random
//!   ids (never by the names clients give), and are copied into a sandbox
//!   when an exec needs them. Files a run creates or changes in `/mnt/data`
//!   are stored and returned in the answer's `files`.
//! - A session's sandbox is removed after `sessions.idle` seconds unused,
//!   the session and its files after `sessions.ttl`. At most
//!   `sessions.max_sandboxes` run at once: the least recently used idle one
//!   makes room, and when all are busy a request waits, then gets 503.
//! - **Callers** are static keys (`codeapi.api_keys`, `KLED_CODEAPI_KEYS`,
//!   as `X-API-Key` or `Authorization: Bearer`) or LibreChat-minted JWTs
//!   (`codeapi.auth.jwt`, `KLED_CODEAPI_JWT_PUBLIC_KEY`). Files belong to a
//!   user (or, by `kind`, to an agent or skill in the user's tenant); a
//!   sandbox is never shared between users. Each caller has a rate limit
//!   (429 with `retry_after_seconds` and `Retry-After`).
//! - Both protocol generations are served at once: the legacy hosted
//!   service's and ClickHouse/code-interpreter's (LibreChat >= 0.8.6).

mod auth;
mod drain;
mod exec;
mod failure;
mod files;
mod metrics;
mod paths;
mod pool;
mod refs;
mod routes;
mod store;
mod time;

pub use failure::Failure;

use kled::config::CodeApiConfig;
use kled::Manager;
use std::sync::Arc;
use std::time::Duration;

/// The server's shared state.
pub(crate) struct Inner {
    pub cfg: CodeApiConfig,
    pub auth: auth::Authenticator,
    pub limiter: auth::RateLimiter,
    pub metrics: metrics::Metrics,
    pub store: store::Store,
    pub pool: Arc<pool::Pool>,
}

/// A Code Interpreter API server. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

/// Sandbox kinds that keep code off the host.
const SANDBOX_KINDS: &[&str] = &["gvisor", "container", "kata"];

impl Server {
    /// A server on `manager`'s terminals, configured by `cfg` (usually
    /// `manager.config().codeapi`). Removes sandboxes a previous server
    /// left behind. Call [`Server::shutdown`] before exiting.
    pub async fn new(manager: Manager, cfg: CodeApiConfig) -> kled::Result<Server> {
        use kled::{Error, ErrorKind};
        let auth = auth::Authenticator::new(&cfg)?;
        if auth.is_off() {
            tracing::warn!(
                "codeapi.auth is none: every request is accepted without a key or token; use this on a trusted network only"
            );
        }
        if !SANDBOX_KINDS.contains(&cfg.sandbox.kind.as_str()) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "codeapi.sandbox.kind {:?} would run untrusted code outside a sandbox; use one of {}",
                    cfg.sandbox.kind,
                    SANDBOX_KINDS.join(", ")
                ),
            ));
        }
        let root = manager.state_dir().join("codeapi");
        let store = store::Store::open(root)?;
        let pool = pool::Pool::new(manager.clone(), &cfg);
        pool.remove_leftovers().await;
        pool.probe().await.map_err(|e| {
            Error::new(e.kind(), format!("codeapi cannot start a {} sandbox: {}", cfg.sandbox.kind, e.message()))
        })?;
        let inner = Arc::new(Inner {
            auth,
            metrics: metrics::Metrics::default(),
            limiter: auth::RateLimiter::new(cfg.rate_limit.requests, Duration::from_secs(cfg.rate_limit.per.max(1))),
            store,
            pool,
            cfg,
        });
        let server = Server { inner };
        server.spawn_housekeeping();
        Ok(server)
    }

    /// The HTTP routes, at `/` and at `/v1` (the hosted service's base path).
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, then removes every
    /// sandbox.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> kled::Result<()> {
        let r = axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await;
        self.shutdown().await;
        r.map_err(|e| kled::Error::new(kled::ErrorKind::Io, format!("serving the Code Interpreter API: {e}")))
    }

    /// Removes all sandboxes (waiting for any being made). Stored files and
    /// the session index stay for the next server on this state dir.
    pub async fn shutdown(&self) {
        let sandboxes = self.inner.store.drain_sandboxes().await;
        self.inner.pool.close(sandboxes).await;
    }

    /// Keeps the warm pool full and expires idle sandboxes and old sessions.
    fn spawn_housekeeping(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.pool.is_closed() {
                    return;
                }
                let idle = Duration::from_secs(inner.cfg.sessions.idle);
                let ttl = Duration::from_secs(inner.cfg.sessions.ttl);
                for sandbox in inner.store.expire(idle, ttl).await {
                    inner.pool.retire(sandbox);
                }
                // New sessions want warm sandboxes more than idle sessions
                // want theirs: when every place is taken, the least recently
                // used sandbox idle for a while gives its place up.
                if inner.pool.shortfall() > 0 && inner.pool.full() {
                    if let Some(s) = inner.store.evict_one(Duration::from_secs(2)) {
                        inner.pool.retire(s);
                    }
                }
                inner.pool.refill();
            }
        });
    }
}
