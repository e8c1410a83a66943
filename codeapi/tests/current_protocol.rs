//! The protocol LibreChat speaks since 0.8.6 (ClickHouse/code-interpreter's):
//! minted JWTs, `{id, storage_session_id, name, resource_id, kind}` file
//! references, `/upload/batch`, `/sessions/{sid}/objects/{fid}`; users who
//! must not see each other's files or sandboxes; nested paths; a restart
//! between upload and use. Real gVisor sandboxes, raw HTTP.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kled::config::{CodeApiAuth, CodeApiAuthConfig, CodeApiConfig, JwtKeyConfig};
use serde_json::{json, Value};
use std::process::Command;

const KID: &str = "lc-codeapi-test";
const RSA_KID: &str = "lc-codeapi-rsa";

struct Keys {
    ed_private: String,
    ed_public: String,
    other_private: String,
    rsa_private: String,
    rsa_public: String,
}

fn openssl(args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut c = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl");
    c.stdin.take().unwrap().write_all(input.unwrap_or("").as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn keys() -> Keys {
    let ed = openssl(&["genpkey", "-algorithm", "ed25519"], None);
    let other = openssl(&["genpkey", "-algorithm", "ed25519"], None);
    let rsa = openssl(&["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"], None);
    Keys {
        ed_public: openssl(&["pkey", "-pubout"], Some(&ed)),
        rsa_public: openssl(&["pkey", "-pubout"], Some(&rsa)),
        ed_private: ed,
        other_private: other,
        rsa_private: rsa,
    }
}

fn with_jwt(k: &Keys) -> impl FnOnce(&mut CodeApiConfig) + '_ {
    move |c| {
        let mut a = CodeApiAuthConfig::default();
        a.jwt.keys = vec![
            JwtKeyConfig { kid: KID.into(), public_key: k.ed_public.clone() },
            JwtKeyConfig { kid: RSA_KID.into(), public_key: k.rsa_public.clone() },
        ];
        c.auth = CodeApiAuth::Verify(a);
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// LibreChat's claims (packages/api/src/auth/codeapi.ts) for `sub`.
fn claims(sub: &str) -> Value {
    let t = now();
    json!({"iss": "librechat", "aud": "codeapi", "sub": sub, "iat": t, "nbf": t, "exp": t + 300,
           "jti": format!("jti-{sub}-{t}"), "tenant_id": "legacy", "role": "USER",
           "principal_source": "librechat_jwt", "auth_context_hash": "0".repeat(64)})
}

fn mint(private: &str, kid: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.into());
    h.typ = Some("JWT".into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_ed_pem(private.as_bytes()).unwrap()).unwrap()
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn call(srv: &TestServer, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut r =
        reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", srv.base)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn upload(
    srv: &TestServer,
    route: &str,
    token: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (name, data) in files {
        form = form.part("file", reqwest::multipart::Part::bytes(data.to_vec()).file_name(name.to_string()));
    }
    let resp = reqwest::Client::new()
        .post(format!("{}{route}", srv.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn exec_body(code: &str, files: Value) -> Value {
    json!({"lang": "py", "code": code, "files": files})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_as_the_reference_server_does() {
    let k = keys();
    let Some(srv) = TestServer::start("jwt edge cases", with_jwt(&k)).await else { return };
    let probe = format!("/files/{}", "A".repeat(21));
    let good = mint(&k.ed_private, KID, &claims("alice"));
    assert_eq!(call(&srv, "GET", &probe, &good, None).await.0, 404, "a good token reaches the route");
    let mut rs = Header::new(Algorithm::RS256);
    rs.kid = Some(RSA_KID.into());
    let rsa =
        jsonwebtoken::encode(&rs, &claims("alice"), &EncodingKey::from_rsa_pem(k.rsa_private.as_bytes()).unwrap())
            .unwrap();
    assert_eq!(call(&srv, "GET", &probe, &rsa, None).await.0, 404, "RS256");

    let t = now();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims("alice");
        f(&mut c);
        mint(&k.ed_private, KID, &c)
    };
    let none_alg = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT","kid":"lc-codeapi-test"}"#),
        b64url(claims("alice").to_string().as_bytes())
    );
    let bad = [
        (
            "expired",
            with(&|c| {
                c["iat"] = json!(t - 400);
                c["nbf"] = json!(t - 400);
                c["exp"] = json!(t - 100);
            }),
        ),
        ("forged with another key", mint(&k.other_private, KID, &claims("alice"))),
        ("unknown kid", mint(&k.ed_private, "nope", &claims("alice"))),
        ("wrong audience", with(&|c| c["aud"] = json!("other"))),
        ("wrong issuer", with(&|c| c["iss"] = json!("evil"))),
        ("lifetime over 300 s", with(&|c| c["exp"] = json!(t + 3600))),
        ("not yet valid", with(&|c| c["nbf"] = json!(t + 600))),
        ("no principal_source", with(&|c| c.as_object_mut().unwrap().remove("principal_source").map(|_| ()).unwrap())),
        ("an untrusted principal_source", with(&|c| c["principal_source"] = json!("self"))),
        ("no jti", with(&|c| c.as_object_mut().unwrap().remove("jti").map(|_| ()).unwrap())),
        ("alg none", none_alg),
        ("malformed", "a.b.c".to_string()),
    ];
    for (what, token) in bad {
        let (status, body) = call(&srv, "GET", &probe, &token, None).await;
        assert_eq!((status, body), (401, json!({"error": "Invalid bearer token"})), "{what}");
    }
    // Static keys still work, and two credentials at once are refused.
    assert_eq!(raw(&srv, "GET", &probe, Some(KEY_A), reqwest::Body::from(""), "text/plain").await.0, 404);
    let resp = reqwest::Client::new()
        .get(format!("{}{probe}", srv.base))
        .bearer_auth(&good)
        .header("x-api-key", KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"error": "Ambiguous authentication headers"}));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_never_share_files_or_sandboxes_and_paths_nest() {
    let k = keys();
    let Some(srv) = TestServer::start("two users", with_jwt(&k)).await else { return };
    let (alice, bob) = (mint(&k.ed_private, KID, &claims("alice")), mint(&k.ed_private, KID, &claims("bob")));

    // Alice uploads a nested file as her own.
    let (status, up) = upload(&srv, "/upload", &alice, &[("kind", "user")], &[("data/in.csv", b"a,b\n1,2\n")]).await;
    assert_eq!(status, 200, "{up}");
    let sid = up["storage_session_id"].as_str().unwrap().to_string();
    assert_eq!(up["session_id"], sid.as_str());
    let fid = up["files"][0]["fileId"].as_str().unwrap().to_string();
    assert_eq!(up["files"][0]["filename"], "data/in.csv");
    let mine =
        json!([{"id": fid, "storage_session_id": sid, "name": "data/in.csv", "resource_id": "alice", "kind": "user"}]);

    let code = "import os, socket\nos.makedirs('out/deep', exist_ok=True)\n\
                open('out/deep/r.txt','w').write(open('data/in.csv').read().upper())\n\
                open('/tmp/alice-was-here','w').write('1')\nprint(os.path.exists('/tmp/alice-was-here'))";
    let (status, out) = call(&srv, "POST", "/exec", &alice, Some(exec_body(code, mine.clone()))).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["stdout"], "True\n");
    assert_eq!(out["code"], 0);
    let files = out["files"].as_array().unwrap();
    let r = files.iter().find(|f| f["name"] == "out/deep/r.txt").unwrap_or_else(|| panic!("{out}"));
    let out_sid = r["storage_session_id"].as_str().unwrap().to_string();
    let out_fid = r["id"].as_str().unwrap().to_string();
    let q = "?kind=user&id=alice";
    let resp = reqwest::Client::new()
        .get(format!("{}/download/{out_sid}/{out_fid}{q}", srv.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "A,B\n1,2\n");

    // Bob can neither reference, list nor download Alice's files.
    let theirs = json!([{"id": fid, "storage_session_id": sid, "name": "x.csv", "resource_id": "bob", "kind": "user"}]);
    let (status, body) = call(&srv, "POST", "/exec", &bob, Some(exec_body("print(1)", theirs))).await;
    assert_eq!((status, body), (403, json!({"error": "Unauthorized file reference"})));
    let (status, body) = call(&srv, "GET", &format!("/files/{sid}?kind=user"), &bob, None).await;
    assert_eq!((status, body), (403, json!({"error": "Unauthorized"})));
    assert_eq!(call(&srv, "GET", &format!("/files/{sid}"), &bob, None).await.0, 404, "legacy form: not there");
    assert_eq!(call(&srv, "GET", &format!("/download/{out_sid}/{out_fid}?kind=user"), &bob, None).await.0, 403);

    // Files shared by kind: an agent's file is Bob's to use too, in his own sandbox.
    let (status, up) =
        upload(&srv, "/upload", &alice, &[("kind", "agent"), ("id", "agent_shared1")], &[("tool.py", b"X = 7\n")])
            .await;
    assert_eq!(status, 200, "{up}");
    let agent = json!([{"id": up["files"][0]["fileId"], "storage_session_id": up["storage_session_id"],
                        "name": "tool.py", "resource_id": "agent_shared1", "kind": "agent"}]);
    let code = "import os\nexec(open('tool.py').read())\nprint(X, os.path.exists('/tmp/alice-was-here'), sorted(os.listdir('.')))";
    let (status, out) = call(&srv, "POST", "/exec", &bob, Some(exec_body(code, agent))).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["stdout"], "7 False ['tool.py']\n", "Bob's sandbox is his own");
    assert_ne!(out["session_id"], out_sid.as_str());

    // Alice's next run reuses her warm sandbox; a file she deletes stays deleted.
    let prior = json!([{"id": out_fid, "storage_session_id": out_sid, "name": "out/deep/r.txt", "resource_id": "alice", "kind": "user"}]);
    let code = "import os\nprint(os.path.exists('/tmp/alice-was-here'))\nos.remove('out/deep/r.txt')";
    let (status, out) = call(&srv, "POST", "/exec", &alice, Some(exec_body(code, prior))).await;
    assert_eq!((status, out["stdout"].as_str()), (200, Some("True\n")), "{out}");
    let (_, listed) = call(&srv, "GET", &format!("/files/{out_sid}?kind=user&detail=normalized"), &alice, None).await;
    assert!(!listed.to_string().contains("r.txt"), "{listed}");
    let (status, out) = call(
        &srv,
        "POST",
        "/exec",
        &alice,
        Some(json!({"lang": "py", "code": "import os\nprint(os.path.exists('out/deep/r.txt'))"})),
    )
    .await;
    assert_eq!((status, out["stdout"].as_str()), (200, Some("False\n")), "{out}");

    // Batch uploads report per file; metadata and non-ASCII downloads.
    let (status, batch) =
        upload(&srv, "/upload/batch", &alice, &[("kind", "user")], &[("ok/é.txt", b"1"), ("../escape", b"2")]).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(
        (batch["message"].as_str(), batch["succeeded"].as_u64(), batch["failed"].as_u64()),
        (Some("partial_success"), Some(1), Some(1))
    );
    assert_eq!(batch["files"][1]["status"], "error");
    let (bsid, bfid) = (batch["storage_session_id"].as_str().unwrap(), batch["files"][0]["fileId"].as_str().unwrap());
    let (status, meta) = call(&srv, "GET", &format!("/sessions/{bsid}/objects/{bfid}?kind=user"), &alice, None).await;
    assert_eq!(status, 200, "{meta}");
    assert!(meta["lastModified"].as_str().unwrap().ends_with('Z') && meta["originalFilename"] == "ok/é.txt", "{meta}");
    let resp = reqwest::Client::new()
        .get(format!("{}/download/{bsid}/{bfid}?kind=user", srv.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let cd = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(cd.contains("filename*=UTF-8''%C3%A9.txt"), "{cd}");

    // /metrics counts what happened.
    let m = reqwest::get(format!("{}/metrics", srv.base)).await.unwrap().text().await.unwrap();
    assert!(m.contains("kled_codeapi_requests_total{route=\"/exec\",status=\"200\"}"), "{m}");
    assert!(m.contains("kled_codeapi_requests_total{route=\"/exec\",status=\"403\"} 1"), "{m}");
    assert!(m.contains("kled_codeapi_exec_seconds_count 4"), "{m}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_survive_a_restart_between_upload_and_use() {
    let k = keys();
    let Some(srv) = TestServer::start("restart", with_jwt(&k)).await else { return };
    let alice = mint(&k.ed_private, KID, &claims("alice"));
    let (status, up) = upload(&srv, "/upload", &alice, &[("kind", "user")], &[("kept.txt", b"still here")]).await;
    assert_eq!(status, 200, "{up}");
    let srv = srv.restart(with_jwt(&k)).await;
    let refs = json!([{"id": up["files"][0]["fileId"], "storage_session_id": up["storage_session_id"],
                       "name": "kept.txt", "resource_id": "alice", "kind": "user"}]);
    let (status, out) =
        call(&srv, "POST", "/exec", &alice, Some(exec_body("print(open('kept.txt').read())", refs))).await;
    assert_eq!((status, out["stdout"].as_str()), (200, Some("still here\n")), "{out}");
    srv.stop().await;
}
