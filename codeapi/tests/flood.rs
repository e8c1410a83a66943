//! Issue 14 finding 17: under a flood of kept-alive clients, every request
//! gets a well-formed answer (200, or 429/503 with `Retry-After`) on the
//! connection it was sent on; none meets a reset or a closed connection.
//!
//! The clients speak HTTP/1.1 by hand so that each writes a request's head
//! and body apart, as Python's http.client and most streaming clients do:
//! the rate limiter then answers before the body has arrived, which is when
//! the server used to drop the connection (see codeapi/src/drain.rs).

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLIENTS: usize = 64;
const REQUESTS: usize = 5;
/// Every 8th client uploads a file this big: a body no socket buffer holds.
const UPLOAD: usize = 256 << 10;

struct Answer {
    status: u16,
    retry_after: bool,
    close: bool,
    body: Vec<u8>,
}

/// One request on `conn`: the head, a pause, the body; then the answer.
async fn send(conn: &mut BufReader<TcpStream>, head: &str, body: &[u8]) -> std::io::Result<Answer> {
    conn.get_mut().write_all(head.as_bytes()).await?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    conn.get_mut().write_all(body).await?;
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before an answer"));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not a status line: {line:?}")))?;
    let (mut len, mut retry_after, mut close) = (0usize, false, false);
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().map_err(|_| std::io::Error::other(format!("bad length: {l}")))?;
        }
        retry_after |= l.starts_with("retry-after:");
        close |= l == "connection: close";
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).await?;
    Ok(Answer { status, retry_after, close, body })
}

fn exec_request(base: &str, session: &str) -> (String, Vec<u8>) {
    let body = serde_json::json!({"lang": "py", "code": "print(1)", "session_id": session}).to_string();
    let head = format!(
        "POST {base}/exec HTTP/1.1\r\nHost: test\r\nX-API-Key: {KEY_A}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body.into_bytes())
}

fn upload_request(base: &str) -> (String, Vec<u8>) {
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    body.extend(std::iter::repeat_n(b'x', UPLOAD));
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let head = format!(
        "POST {base}/upload HTTP/1.1\r\nHost: test\r\nX-API-Key: {KEY_A}\r\n\
         Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

#[derive(Default)]
struct Tally {
    statuses: std::collections::BTreeMap<u16, usize>,
    /// What is wrong: transport errors, bad answers.
    wrong: Vec<String>,
    /// Connections the server closed (it said so) and the client reopened.
    reopened: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_kept_alive_clients_get_answers_not_resets() {
    let Some(srv) = TestServer::start("flood", |c| {
        // Most of the flood is over this rate: answered 429 before its body is read.
        c.rate_limit.requests = 12;
        c.rate_limit.per = 60;
    })
    .await
    else {
        return;
    };
    // One session for the requests that pass: they run one after another
    // in its sandbox, with no sandbox to start.
    let session = srv.client(KEY_A).exec(&py("print(0)")).await.unwrap().session_id;
    let addr = srv.base.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let t0 = Instant::now();
    let clients = (0..CLIENTS).map(|i| {
        let (addr, session) = (addr.clone(), session.clone());
        tokio::spawn(async move {
            let (head, body) = if i % 8 == 0 { upload_request("/v1") } else { exec_request("/v1", &session) };
            let mut tally = Tally::default();
            let connect = || async {
                let s = TcpStream::connect(&addr).await?;
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(BufReader::new(s))
            };
            let mut conn = connect().await.unwrap();
            for n in 0..REQUESTS {
                let a = match send(&mut conn, &head, &body).await {
                    Ok(a) => a,
                    Err(e) => {
                        tally.wrong.push(format!("client {i}, request {n}: {:?}: {e}", e.kind()));
                        conn = connect().await.unwrap();
                        continue;
                    }
                };
                *tally.statuses.entry(a.status).or_default() += 1;
                match a.status {
                    200 if i % 8 != 0 => {
                        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
                        if v["stdout"] != "1\n" {
                            tally.wrong.push(format!("client {i}: 200 with {v}"));
                        }
                    }
                    200 => {}
                    429 | 503 if a.retry_after => {}
                    s => tally.wrong.push(format!(
                        "client {i}: {s} (Retry-After: {}): {}",
                        a.retry_after,
                        String::from_utf8_lossy(&a.body)
                    )),
                }
                if a.close {
                    tally.reopened += 1;
                    conn = connect().await.unwrap();
                }
            }
            tally
        })
    });
    let mut all = Tally::default();
    for c in clients {
        let t = c.await.unwrap();
        for (s, n) in t.statuses {
            *all.statuses.entry(s).or_default() += n;
        }
        all.wrong.extend(t.wrong);
        all.reopened += t.reopened;
    }
    let answered: usize = all.statuses.values().sum();
    eprintln!(
        "{CLIENTS} clients x {REQUESTS} requests in {:?}: answers {:?}, {} wrong, {} connections closed by the server",
        t0.elapsed(),
        all.statuses,
        all.wrong.len(),
        all.reopened
    );
    assert!(all.wrong.is_empty(), "{} of {} requests went wrong:\n{}", all.wrong.len(), CLIENTS * REQUESTS, {
        all.wrong.truncate(20);
        all.wrong.join("\n")
    });
    assert_eq!(answered, CLIENTS * REQUESTS);
    assert!(all.statuses.contains_key(&200) && all.statuses.contains_key(&429), "{:?}", all.statuses);
    // Small bodies and 256 KiB uploads alike were read, so no connection had to go.
    assert_eq!(all.reopened, 0, "the server closed kept-alive connections");
    srv.stop().await;
}
