//! What the codeapi test files share: a server on real gVisor sandboxes in a
//! temp state dir, and raw HTTP for what the client never sends.
#![allow(dead_code)]

use kled::config::CodeApiConfig;
use kled::librechat::{Auth, Client, ExecBody, ExecOutput, RetryPolicy};
use kled::Secret;
use std::path::Path;
use std::time::Duration;

pub const GVISOR: &str = "/run/kled/gvisor.sock";
pub const KEY_A: &str = "key-a-0123456789";
pub const KEY_B: &str = "key-b-9876543210";

pub struct TestServer {
    pub base: String,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(name: &str, tweak: impl FnOnce(&mut CodeApiConfig)) -> Option<TestServer> {
        if !Path::new(GVISOR).exists() {
            assert_ne!(std::env::var("KLED_REQUIRE_ENGINE").as_deref(), Ok("1"), "{GVISOR} is required");
            eprintln!("SKIPPED {name}: {GVISOR} is not served (scripts/engine.sh starts it)");
            return None;
        }
        let dir = tempfile::Builder::new().prefix("kled-codeapi-").tempdir_in("/tmp").unwrap();
        Some(TestServer::start_in(dir, tweak).await)
    }

    /// Stops this server (its stored files stay) and starts another on the
    /// same state dir.
    pub async fn restart(mut self, tweak: impl FnOnce(&mut CodeApiConfig)) -> TestServer {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        TestServer::start_in(dir, tweak).await
    }

    async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut CodeApiConfig)) -> TestServer {
        let manager = kled::Manager::new(Some(dir.path().to_path_buf()), kled::Config::default()).unwrap();
        let mut cfg = CodeApiConfig::default();
        cfg.api_keys = vec![Secret::new(KEY_A), Secret::new(KEY_B)];
        cfg.sessions.warm = 1;
        cfg.sessions.max_sandboxes = 3;
        cfg.rate_limit.requests = 0;
        tweak(&mut cfg);
        let server = kled_codeapi::Server::new(manager, cfg).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server.serve(listener, async move { rx.await.unwrap_or(()) }).await.unwrap();
        });
        TestServer { base, dir, stop: Some(tx), task: Some(task) }
    }

    pub fn client(&self, key: &str) -> Client {
        let policy = RetryPolicy { deadline: Duration::from_secs(60), ..RetryPolicy::default() };
        Client::builder(&self.base).auth(Auth::ApiKey(Secret::new(key))).retry(policy).build().unwrap()
    }

    /// Stops the server, which removes its sandboxes, and checks it did.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap();
        assert_eq!(containers(self.dir.path()).await.len(), 0, "sandboxes left behind");
        // Stored files stay for the next server on this state dir.
        assert!(self.dir.path().join("codeapi").is_dir(), "stored files gone");
    }
}

impl Drop for TestServer {
    /// A failed test still removes its sandboxes.
    fn drop(&mut self) {
        if self.task.is_none() {
            return;
        }
        let home = self.dir.path().to_path_buf();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let docker = kled::engine::connect(&format!("unix://{GVISOR}")).await.unwrap();
                for id in containers(&home).await {
                    let rm = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
                    let _ = docker.remove_container(&id, Some(rm)).await;
                }
            })
        })
        .join();
    }
}

/// Ids of the sandboxes the server under `home` made.
pub async fn containers(home: &Path) -> Vec<String> {
    let docker = kled::engine::connect(&format!("unix://{GVISOR}")).await.unwrap();
    let mut filters = std::collections::HashMap::new();
    filters.insert("label".to_string(), vec![format!("io.kled.home={}", home.display())]);
    let opts = bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    docker.list_containers(Some(opts)).await.unwrap().into_iter().filter_map(|c| c.id).collect()
}

pub fn py(code: &str) -> ExecBody {
    ExecBody { lang: "py".into(), code: code.into(), ..Default::default() }
}

pub fn bash(code: &str) -> ExecBody {
    ExecBody { lang: "bash".into(), code: code.into(), ..Default::default() }
}

pub fn names(out: &ExecOutput) -> Vec<&str> {
    out.files.iter().map(|f| f.name.as_str()).collect()
}

pub async fn raw(
    srv: &TestServer,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: reqwest::Body,
    ct: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let url = format!("{}{path}", srv.base);
    let mut r = reqwest::Client::new().request(method.parse().unwrap(), url).header("content-type", ct).body(body);
    if let Some(k) = key {
        r = r.header("x-api-key", k);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: {status} not JSON: {text}"));
    (status, retry, v)
}
