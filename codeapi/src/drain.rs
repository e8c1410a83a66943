//! An early answer keeps its connection (issue 14 finding 17).
//!
//! A 401, 429 or 413 is answered before the request's body is read. hyper
//! then reads only what is already buffered and, if the body is not all
//! there, closes the connection after the answer without saying so (no
//! `Connection: close`). Under a flood the body of a kept-alive client is
//! often still on its way when the rate limiter answers (a client that
//! writes the head and the body apart, as Python's http.client does, makes
//! it the rule): the client's next request on that connection then met
//! BrokenPipe or a reset, and a reset can also destroy the answer itself
//! before the client has read it.
//!
//! So the outermost layer gets back a body its handler left unread and
//! reads it to its end (discarding it) before the answer goes out, bounded
//! in bytes and time. A body it will not read (too large, too slow, or one
//! the client holds back for `Expect: 100-continue`) makes the answer say
//! `Connection: close`, so a well-behaved client opens a new connection
//! instead of writing into a closed one.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long an unread body may take to arrive before the answer goes out
/// with `Connection: close` instead.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// At most this many unread bytes are read and dropped: the server's body
/// limit, which the client was allowed to send anyway.
#[derive(Clone, Copy)]
pub struct DrainLimit(pub usize);

pub async fn keep_alive(State(DrainLimit(limit)): State<DrainLimit>, req: Request, next: Next) -> Response {
    let held_back = expects_continue(req.headers());
    let (tx, mut rx) = oneshot::channel();
    let req = req.map(|body| Body::new(Returning { body: Some(body), back: Some(tx) }));
    let mut resp = next.run(req).await;
    // Closed: the handler read the body to its end. Empty: it still holds it.
    let Ok(rest) = rx.try_recv() else { return resp };
    let fits = rest.size_hint().lower() <= limit as u64;
    // A client waiting for 100 Continue has sent no body: reading would ask
    // for one only to drop it, and hyper closes such a connection anyway.
    if held_back || !fits || !matches!(tokio::time::timeout(DRAIN_TIME, drain(rest, limit)).await, Ok(true)) {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn expects_continue(h: &HeaderMap) -> bool {
    h.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads `body` to its end; false if it is over `limit` bytes or fails.
async fn drain(body: Body, limit: usize) -> bool {
    let mut left = limit;
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(c) if c.len() <= left => left -= c.len(),
            _ => return false,
        }
    }
    true
}

/// The request's body, handed back to [`keep_alive`] when the handler drops
/// it before its end.
struct Returning {
    body: Option<Body>,
    back: Option<oneshot::Sender<Body>>,
}

impl HttpBody for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        match self.body.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.as_ref().map(|b| b.size_hint()).unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let (Some(body), Some(back)) = (self.body.take(), self.back.take()) {
            if !body.is_end_stream() {
                let _ = back.send(body);
            }
        }
    }
}
