//! `kled code` (a run on the Code Interpreter API, no terminal needed) and
//! `kled serve codeapi` (that API, served on kled terminals).

use crate::args::{RemoteCodeArgs, ServeCmd};
use kled::librechat::{Client, InputFile, UploadFile};
use kled::{CodeRequest, Error, ErrorKind, Manager};
use std::io::Write;

pub async fn remote_code(m: &Manager, a: RemoteCodeArgs) -> Result<u8, Error> {
    let mut client = Client::from_config(&m.config().librechat)?;
    let mut req = CodeRequest::new(a.lang, crate::input::code_text(a.code)?);
    req.args = a.args;
    req.timeout = crate::input::secs(a.timeout)?;
    if let Some(t) = req.timeout {
        client = client.with_deadline(t);
    }
    let mut inputs: Vec<InputFile> = Vec::new();
    if !a.files.is_empty() {
        let mut uploads = Vec::new();
        for p in &a.files {
            let data = std::fs::read(p).map_err(|e| {
                Error::new(ErrorKind::InvalidArgument, format!("cannot read --file {}: {e}", p.display()))
            })?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            uploads.push(UploadFile { name, data });
        }
        inputs = client.upload_many(uploads, None).await?.inputs();
    }
    let session = inputs.first().map(|f| f.session_id.clone());
    let run = client.run_code(&req, inputs, session).await?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot create --out {}: {e}", dir.display())))?;
        for f in &run.output.files {
            // The server chose the name: keep only its last component.
            let name = std::path::Path::new(&f.name).file_name().map(|n| n.to_owned()).unwrap_or_default();
            if name.is_empty() || name == ".." {
                continue;
            }
            let data = client.download(&run.output.session_id, &f.id).await?;
            let path = dir.join(name);
            std::fs::write(&path, data).map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
            if !a.json {
                eprintln!("kled: saved {}", path.display());
            }
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&run.output).unwrap_or_default());
        return Ok(0);
    }
    std::io::stdout().write_all(&run.result.stdout).ok();
    std::io::stderr().write_all(&run.result.stderr).ok();
    if a.out.is_none() && !run.output.files.is_empty() {
        let names: Vec<&str> = run.output.files.iter().map(|f| f.name.as_str()).collect();
        eprintln!("kled: the run made {} (save them with --out DIR)", names.join(", "));
    }
    Ok(run.result.exit_code.map(|c| c.clamp(0, 255) as u8).unwrap_or(0))
}

pub async fn serve(m: Manager, cmd: ServeCmd) -> Result<u8, Error> {
    let ServeCmd::Codeapi(a) = cmd;
    let mut cfg = m.config().codeapi.clone();
    if let Some(kind) = a.runtime {
        cfg.sandbox.kind = kind;
    }
    if let Some(image) = a.image {
        if let Some(o) = cfg.sandbox.options.as_object_mut() {
            o.insert("image".into(), image.into());
        }
    }
    let listen = a.listen.unwrap_or_else(|| cfg.listen.clone());
    let addr = crate::addr::parse_addr(&listen, "--listen")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    let (kind, keys) = (cfg.sandbox.kind.clone(), cfg.api_keys.len());
    let auth = match &cfg.auth {
        kled::config::CodeApiAuth::None => "no auth (codeapi.auth: none)".to_string(),
        kled::config::CodeApiAuth::Verify(a) => {
            let jwt = a.jwt.keys.len();
            let mut s = format!("{keys} API key{}", if keys == 1 { "" } else { "s" });
            if jwt > 0 {
                s.push_str(&format!(", {jwt} JWT key{}", if jwt == 1 { "" } else { "s" }));
            }
            s
        }
    };
    let server = kled_codeapi::Server::new(m, cfg).await?;
    eprintln!(
        "kled serve codeapi: http://{local}/v1 ({kind} sandboxes, {auth}); Ctrl-C stops and removes the sandboxes"
    );
    server.serve(listener, shutdown_signal()).await?;
    Ok(0)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("kled serve codeapi: stopping; removing sandboxes (stored files stay)");
}
