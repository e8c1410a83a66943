//! Progress and cancellation for long tool calls. A client that sends a
//! progress token gets a notification every PROGRESS_EVERY (so that it does
//! not time the call out while a build runs); a client that cancels gets the
//! work dropped, which for an exec kills the command.

use crate::cap::HeadTail;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use std::time::{Duration, Instant};

/// How often a running exec reports progress (when the client asked for it).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Sends progress notifications when the request carried a progress token.
pub(crate) struct Reporter {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    started: Instant,
}

impl Reporter {
    pub(crate) fn new(ctx: &RequestContext<RoleServer>) -> Reporter {
        Reporter { peer: ctx.peer.clone(), token: ctx.meta.get_progress_token(), started: Instant::now() }
    }

    pub(crate) fn wanted(&self) -> bool {
        self.token.is_some()
    }

    /// How long since the call began (the reporter is made when it begins).
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) async fn report(&self, message: String) {
        if let Some(token) = &self.token {
            // Progress is the elapsed time in seconds: it grows with every report.
            let progress = (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            let param = ProgressNotificationParam::new(token.clone(), progress).with_message(message);
            if let Err(e) = self.peer.notify_progress(param).await {
                tracing::debug!("progress notification not sent: {e}");
            }
        }
    }
}

/// Ticks every PROGRESS_EVERY, the first one PROGRESS_EVERY from now (a call
/// that ends within a second reports nothing). A tick missed while a report
/// was being sent is not made up for.
pub(crate) fn ticker() -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Waits for `work`, telling the client "`doing` for Ns" every
/// PROGRESS_EVERY when it asked for progress. None when the client
/// cancelled the call: `work` is dropped then.
pub(crate) async fn await_reporting<F: std::future::Future>(
    ctx: &RequestContext<RoleServer>,
    doing: &str,
    work: F,
) -> Option<F::Output> {
    let reporter = Reporter::new(ctx);
    tokio::pin!(work);
    let mut tick = ticker();
    loop {
        tokio::select! {
            _ = ctx.ct.cancelled() => return None,
            _ = tick.tick(), if reporter.wanted() => {
                reporter.report(format!("{doing} for {}s", reporter.elapsed().as_secs())).await;
            }
            r = &mut work => return Some(r),
        }
    }
}

/// A running exec's progress: time, bytes so far and the last line, so that a
/// client can show what a long command is doing.
pub(crate) fn progress_message(out: &HeadTail, err: &HeadTail, elapsed: Duration) -> String {
    let mut m = format!(
        "running for {}s; {} bytes of stdout, {} of stderr so far",
        elapsed.as_secs(),
        out.total(),
        err.total()
    );
    if let Some(line) = out.last_line(120).or_else(|| err.last_line(120)) {
        m.push_str(&format!("; last line: {line}"));
    }
    m
}
