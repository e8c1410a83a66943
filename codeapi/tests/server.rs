//! `kled serve codeapi` against real gVisor sandboxes, driven by the core's
//! Code Interpreter client (the two test each other) and by raw HTTP for
//! hostile input.

mod common;

use common::*;
use kled::config::CodeApiConfig;
use kled::librechat::{ApiErrorKind, Auth, Client, ExecBody, InputFile, UploadFile};
use kled::Secret;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_round_trips_and_files_carry_over() {
    let Some(srv) = TestServer::start("every_endpoint_round_trips", |_| {}).await else { return };
    let a = srv.client(KEY_A);

    // Upload two files into one session.
    let up = a
        .upload_many(
            vec![
                UploadFile { name: "data.csv".into(), data: b"x,y\n1,2\n3,4\n".to_vec() },
                UploadFile { name: "blob.bin".into(), data: vec![0, 1, 2, 255] },
            ],
            Some("asst_test-1"),
        )
        .await
        .unwrap();
    assert_eq!(up.message, "success");
    assert!(kled::librechat::wire::is_id(&up.session_id), "{}", up.session_id);

    // An exec that reads them (working directory /mnt/data) and writes a file.
    let mut body = py(concat!(
        "import os\n",
        "rows = open('data.csv').read().split()\n",
        "print(len(rows), os.path.getsize('/mnt/data/blob.bin'))\n",
        "open('/mnt/data/sum.txt', 'w').write(str(sum(int(v) for r in rows[1:] for v in r.split(','))))\n",
    ));
    body.files = up.inputs();
    let out = a.exec(&body).await.unwrap();
    assert_eq!(out.stdout(), "3 4\n", "stderr: {}", out.stderr());
    assert_eq!(out.exit_code(), Some(0));
    assert_eq!(names(&out), vec!["sum.txt"]);
    assert_eq!(out.session_id, up.session_id, "an exec whose files share a session runs in it");

    // List, summary and full.
    let summary = a.list_files(&out.session_id, false).await.unwrap();
    assert_eq!(summary.len(), 3);
    for f in &summary {
        assert_eq!(f.name, format!("{}/{}", out.session_id, f.file_id()));
        assert!(f.last_modified.as_deref().unwrap().ends_with('Z'));
        assert!(f.size.is_none(), "summary stays short");
    }
    let full = a.list_files(&out.session_id, true).await.unwrap();
    let sum = full.iter().find(|f| f.filename() == "sum.txt").unwrap();
    assert_eq!(sum.size, Some(2));
    assert_eq!(sum.content_type.as_deref(), Some("text/plain"));
    let csv = full.iter().find(|f| f.filename() == "data.csv").unwrap();
    assert_eq!(csv.entity_id.as_deref(), Some("asst_test-1"));

    // Download what the run made.
    assert_eq!(a.download(&out.session_id, &out.files[0].id).await.unwrap(), b"10");

    // A new exec given only the produced file (as LibreChat passes it)
    // finds it; one given no session and no files starts fresh.
    let mut next = py("print(open('sum.txt').read())");
    next.files = out.inputs();
    let out2 = a.exec(&next).await.unwrap();
    assert_eq!(out2.stdout(), "10\n", "{}", out2.stderr());
    let fresh = a.exec(&py("import os; print(sorted(os.listdir('.')))")).await.unwrap();
    assert_eq!(fresh.stdout(), "[]\n");
    assert_ne!(fresh.session_id, out.session_id);

    // session_id in the body reuses that session's sandbox and files.
    let mut again = py("import os; print(sorted(os.listdir('/mnt/data')))");
    again.session_id = Some(out.session_id.clone());
    assert_eq!(a.exec(&again).await.unwrap().stdout(), "['blob.bin', 'data.csv', 'sum.txt']\n");

    // A file rewritten by a run comes back as a new file of that name.
    let mut rewrite = py("open('sum.txt', 'w').write('changed')");
    rewrite.session_id = Some(out.session_id.clone());
    let out3 = a.exec(&rewrite).await.unwrap();
    assert_eq!(names(&out3), vec!["sum.txt"]);
    assert_ne!(out3.files[0].id, out.files[0].id);
    assert_eq!(a.download(&out.session_id, &out3.files[0].id).await.unwrap(), b"changed");
    assert_eq!(a.download(&out.session_id, &out.files[0].id).await.unwrap_err().kind, ApiErrorKind::NotFound);

    // Delete: gone from the store and from the sandbox.
    a.delete(&out.session_id, &out3.files[0].id).await.unwrap();
    assert_eq!(a.download(&out.session_id, &out3.files[0].id).await.unwrap_err().kind, ApiErrorKind::NotFound);
    assert_eq!(a.delete(&out.session_id, &out3.files[0].id).await.unwrap_err().kind, ApiErrorKind::NotFound);
    assert_eq!(a.exec(&again).await.unwrap().stdout(), "['blob.bin', 'data.csv']\n");

    // Another key sees none of it.
    let b = srv.client(KEY_B);
    assert_eq!(b.list_files(&out.session_id, false).await.unwrap_err().kind, ApiErrorKind::NotFound);
    assert_eq!(b.download(&out.session_id, &out.files[0].id).await.unwrap_err().kind, ApiErrorKind::NotFound);
    let mut steal = py("print(open('data.csv').read())");
    steal.files = up.inputs();
    // The client sends its refs in the current shape too (kind user):
    // another's file is then 403, as the reference server answers.
    let e = b.exec(&steal).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ApiErrorKind::Unauthorized, Some(403)), "{e}");

    // Bearer works as well as X-API-Key; a wrong key is refused.
    let bearer = Client::builder(&srv.base).auth(Auth::Bearer(Secret::new(KEY_A))).build().unwrap();
    assert_eq!(bearer.list_files(&out.session_id, false).await.unwrap().len(), 2);
    let wrong = srv.client("not-a-key");
    assert_eq!(wrong.exec(&py("1")).await.unwrap_err().kind, ApiErrorKind::Unauthorized);

    // Other languages through the same API.
    let sh = a
        .exec(&ExecBody {
            lang: "bash".into(),
            code: "echo $((6*7)) $1".into(),
            args: vec!["arg".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sh.stdout(), "42 arg\n");
    let failing = a.exec(&py("import sys; print('oops', file=sys.stderr); sys.exit(3)")).await.unwrap();
    assert_eq!((failing.exit_code(), failing.stderr()), (Some(3), "oops\n"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_the_documented_errors_and_never_touches_the_host() {
    let Some(srv) = TestServer::start("hostile_input", |c| {
        c.limits.max_body = 256 << 10;
        c.limits.max_file = 64 << 10;
    })
    .await
    else {
        return;
    };
    let json = "application/json";
    let exec = |b: &'static str| reqwest::Body::from(b);

    let (s, _, v) = raw(&srv, "POST", "/exec", None, exec(r#"{"lang":"py","code":"1"}"#), json).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("Unauthorized")));
    let (s, _, _) = raw(&srv, "POST", "/exec", Some("nope"), exec(r#"{"lang":"py","code":"1"}"#), json).await;
    assert_eq!(s, 401);
    let (s, _, v) = raw(&srv, "GET", "/health", None, "".into(), json).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));

    let (s, _, v) = raw(&srv, "POST", "/exec", Some(KEY_A), exec(r#"{"lang":"cobol","code":"1"}"#), json).await;
    assert_eq!(s, 400);
    assert!(v["details"].as_str().unwrap().contains("unsupported language"), "{v}");
    for bad in ["{not json", r#"{"code":"1"}"#, r#"{"lang":"py","code":1}"#, "", "[]"] {
        let (s, _, v) = raw(&srv, "POST", "/exec", Some(KEY_A), bad.to_string().into(), json).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v["error"].is_string());
    }
    let huge = format!(r#"{{"lang":"py","code":"{}"}}"#, "x".repeat(300 << 10));
    let (s, _, v) = raw(&srv, "POST", "/exec", Some(KEY_A), huge.into(), json).await;
    assert_eq!(s, 413, "{v}");

    // Files that are not there, or names that try to leave /mnt/data.
    let ghost = r#"{"lang":"py","code":"1","files":[{"id":"AAAAAAAAAAAAAAAAAAAAA","session_id":"BBBBBBBBBBBBBBBBBBBBB","name":"x"}]}"#;
    let (s, _, _) = raw(&srv, "POST", "/exec", Some(KEY_A), exec(ghost), json).await;
    assert_eq!(s, 404);
    // Nested names (`data/in.csv`) are allowed; these are not.
    for name in ["../../etc/passwd", "a/../b", "a//b", "/etc/passwd", "..", "", "x\u{0}y"] {
        let b = serde_json::json!({"lang": "py", "code": "1", "files": [{"id": "A".repeat(21), "session_id": "B".repeat(21), "name": name}]});
        let (s, _, v) = raw(&srv, "POST", "/exec", Some(KEY_A), b.to_string().into(), json).await;
        assert_eq!(s, 400, "{name:?}: {v}");
    }
    for (method, path) in [
        ("GET", "/files/..%2F..%2Fetc"),
        ("GET", "/download/x/..%2F..%2Fetc%2Fpasswd"),
        ("DELETE", "/files/AAAAAAAAAAAAAAAAAAAAA/..%2F.."),
        ("GET", "/nope"),
    ] {
        let (s, _, v) = raw(&srv, method, path, Some(KEY_A), "".into(), json).await;
        assert_eq!(s, 404, "{path}: {v}");
    }
    let (s, _, v) = raw(&srv, "PUT", "/exec", Some(KEY_A), "".into(), json).await;
    assert_eq!(s, 405, "{v}");

    // Uploads: traversal in the file name, malformed multipart, too big.
    let c = reqwest::Client::new();
    let upload = |form: reqwest::multipart::Form| {
        c.post(format!("{}/upload", srv.base)).header("x-api-key", KEY_A).multipart(form).send()
    };
    // (`a/b.txt` is a nested name now, as the current protocol allows.)
    for name in ["../../../tmp/kled-pwned", "/etc/passwd", "..", "a/../b.txt", "a\\b", ""] {
        let part = reqwest::multipart::Part::bytes(b"pwned".to_vec()).file_name(name.to_string());
        let r = upload(reqwest::multipart::Form::new().part("file", part)).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{name:?}");
        assert!(r.json::<serde_json::Value>().await.unwrap()["details"].as_str().unwrap().contains("file name"));
    }
    assert!(!Path::new("/tmp/kled-pwned").exists());
    let big = reqwest::multipart::Part::bytes(vec![7u8; 65 << 10]).file_name("big.bin");
    let r = upload(reqwest::multipart::Form::new().part("file", big)).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let r = upload(
        reqwest::multipart::Form::new()
            .text("entity_id", "../x")
            .part("file", reqwest::multipart::Part::bytes(vec![1]).file_name("a")),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = upload(reqwest::multipart::Form::new().text("other", "x")).await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "no file part");
    let broken = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc";
    for (ct, body) in
        [("multipart/form-data; boundary=XYZ", broken), ("multipart/form-data", "x"), ("text/plain", "hello")]
    {
        let (s, _, v) = raw(&srv, "POST", "/upload", Some(KEY_A), body.to_string().into(), ct).await;
        assert_eq!(s, 400, "{ct}: {v}");
    }

    // Nothing reached the host but the store's own id-named entries.
    let store = srv.dir.path().join("codeapi");
    for session in std::fs::read_dir(&store).unwrap() {
        let session = session.unwrap();
        assert!(kled::librechat::wire::is_id(&session.file_name().to_string_lossy()));
        for f in std::fs::read_dir(session.path()).unwrap() {
            assert!(kled::librechat::wire::is_id(&f.unwrap().file_name().to_string_lossy()));
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_time_output_and_files() {
    let Some(srv) = TestServer::start("limits", |c| {
        c.limits.run_timeout = 2;
        c.limits.max_output = 10_000;
        c.limits.max_file = 64 << 10;
    })
    .await
    else {
        return;
    };
    let a = srv.client(KEY_A);
    let t0 = Instant::now();
    let out = a.exec(&py("import time\nprint('started', flush=True)\ntime.sleep(60)")).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(out.stdout(), "started\n");
    assert!(out.stderr().contains("timed out after 2s"), "{}", out.stderr());
    assert_eq!(out.run.as_ref().unwrap().status.as_deref(), Some("TO"));

    let mut big = py("print('a' * 30000 + 'b' * 20000)");
    big.session_id = Some(out.session_id.clone());
    let out = a.exec(&big).await.unwrap();
    let text = out.stdout();
    assert!(text.len() < 10_300, "{}", text.len());
    assert!(text.starts_with(&"a".repeat(5000)) && text.ends_with(&format!("{}\n", "b".repeat(4999))), "{text}");
    assert!(text.contains("cut 40001 bytes from the middle of stdout: it was 50001 bytes"), "{}", &text[4990..5200]);

    let mut files = py("open('big.bin','wb').write(b'0' * 100000)\nopen('ok.txt','w').write('ok')");
    files.session_id = Some(out.session_id.clone());
    let out = a.exec(&files).await.unwrap();
    assert_eq!(names(&out), vec!["ok.txt"]);
    assert!(out.stderr().contains("big.bin (100000 bytes) is over the 65536 byte file limit"), "{}", out.stderr());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_and_the_client_waits_it_out() {
    let Some(srv) = TestServer::start("rate_limit", |c| {
        c.rate_limit.requests = 2;
        c.rate_limit.per = 2;
    })
    .await
    else {
        return;
    };
    let missing = "/files/AAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..2 {
        assert_eq!(raw(&srv, "GET", missing, Some(KEY_A), "".into(), "text/plain").await.0, 404);
    }
    let (s, retry, v) = raw(&srv, "GET", missing, Some(KEY_A), "".into(), "text/plain").await;
    assert_eq!(s, 429);
    assert_eq!(v["error"], "rate_limited");
    let secs = v["retry_after_seconds"].as_f64().unwrap();
    assert!((1.0..=2.0).contains(&secs), "{v}");
    assert_eq!(retry.as_deref(), Some(format!("{}", secs as u64).as_str()));
    // Per key: the other key still passes.
    assert_eq!(raw(&srv, "GET", missing, Some(KEY_B), "".into(), "text/plain").await.0, 404);

    // The client waits as told and gets through.
    let b = srv.client(KEY_B);
    let t0 = Instant::now();
    for _ in 0..3 {
        let e = b.list_files("AAAAAAAAAAAAAAAAAAAAA", false).await.unwrap_err();
        assert_eq!(e.kind, ApiErrorKind::NotFound, "{e}");
    }
    assert!(t0.elapsed() >= Duration::from_millis(900), "{:?}", t0.elapsed());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_sandbox_is_replaced_and_sessions_expire() {
    let Some(srv) = TestServer::start("vanished", |c| {
        c.sessions.warm = 0;
        c.sessions.idle = 2;
        c.sessions.ttl = 6;
    })
    .await
    else {
        return;
    };
    let a = srv.client(KEY_A);
    let out = a.exec(&py("open('keep.txt','w').write('kept')")).await.unwrap();
    assert_eq!(names(&out), vec!["keep.txt"]);

    // Someone removes the container behind the server's back.
    let docker = kled::engine::connect(&format!("unix://{GVISOR}")).await.unwrap();
    let ids = containers(srv.dir.path()).await;
    assert_eq!(ids.len(), 1, "one session sandbox, no warm ones");
    let rm = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    docker.remove_container(&ids[0], Some(rm)).await.unwrap();

    let mut read = py("print(open('keep.txt').read())");
    read.session_id = Some(out.session_id.clone());
    let again = a.exec(&read).await.unwrap();
    assert_eq!(again.stdout(), "kept\n", "{}", again.stderr());

    // Idle: the sandbox goes, the session and its files stay.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(containers(srv.dir.path()).await.len(), 0, "idle sandbox not removed");
    assert_eq!(a.exec(&read).await.unwrap().stdout(), "kept\n");
    // Unused past the TTL: the session is gone.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let e = a.list_files(&out.session_id, false).await.unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::NotFound);
    let mut stale = py("1");
    stale.files =
        vec![InputFile { id: out.files[0].id.clone(), session_id: out.session_id.clone(), name: "keep.txt".into() }];
    // A ref (current shape) to an expired session: 403, as the reference
    // server answers when the upload's key has expired.
    assert_eq!(a.exec(&stale).await.unwrap_err().status, Some(403));
    srv.stop().await;
}

#[tokio::test]
async fn refuses_to_start_without_keys_or_with_an_unsandboxed_kind() {
    let dir = tempfile::tempdir().unwrap();
    let m = kled::Manager::new(Some(dir.path().to_path_buf()), kled::Config::default()).unwrap();
    let e = kled_codeapi::Server::new(m.clone(), CodeApiConfig::default()).await.err().unwrap();
    assert!(e.message().contains("KLED_CODEAPI_KEYS"), "{e}");
    let mut cfg = CodeApiConfig { api_keys: vec![Secret::new("k")], ..CodeApiConfig::default() };
    cfg.sandbox.kind = "local".into();
    let e = kled_codeapi::Server::new(m, cfg).await.err().unwrap();
    assert!(e.message().contains("outside a sandbox"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_requests_get_places_as_sandboxes_go_idle_and_shutdown_leaves_nothing() {
    let Some(srv) = TestServer::start("places", |c| {
        c.sessions.warm = 1;
        c.sessions.max_sandboxes = 2;
    })
    .await
    else {
        return;
    };
    let a = srv.client(KEY_A);
    // Eight new sessions at once on two places: each must wait for one to
    // go idle and take it, well before the 30 s a waiting request allows.
    let t0 = Instant::now();
    let runs = (0..8).map(|i| {
        let a = a.clone();
        async move { a.exec(&py(&format!("print({i})"))).await }
    });
    let outs = futures::future::join_all(runs).await;
    for (i, out) in outs.into_iter().enumerate() {
        assert_eq!(out.unwrap().stdout(), format!("{i}\n"));
    }
    assert!(t0.elapsed() < Duration::from_secs(25), "{:?}", t0.elapsed());
    // The last run took the warm sandbox: a new one is being made as the
    // server stops, and stop() checks that it is removed too.
    a.exec(&py("1")).await.unwrap();
    srv.stop().await;
}
