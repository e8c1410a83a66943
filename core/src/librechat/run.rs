//! `run_code` on a Code Interpreter API instead of inside a terminal.
//!
//! A terminal that runs code remotely remembers its remote session (the
//! session id and the files its runs made), so a file one remote run
//! writes to `/mnt/data` is there for the next, as a local terminal's files
//! would be.

use super::client::Client;
use super::wire::{ExecBody, ExecOutput, InputFile};
use crate::exec::{ExecResult, ExitStatus};
use crate::terminal::CodeRequest;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What a terminal keeps of its remote runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteSession {
    pub session_id: String,
    /// The files the runs made, newest per name.
    pub files: Vec<InputFile>,
}

impl RemoteSession {
    /// Takes in the files of `out`: a newer file of the same name replaces
    /// the older one.
    pub fn absorb(&mut self, out: &ExecOutput) {
        self.session_id = out.session_id.clone();
        for f in out.inputs() {
            self.files.retain(|old| old.name != f.name);
            self.files.push(f);
        }
    }
}

/// One remote run: the result as an ExecResult, and the server's answer
/// (session id, files made).
#[derive(Debug, Clone)]
pub struct RemoteRun {
    pub result: ExecResult,
    pub output: ExecOutput,
}

impl Client {
    /// Runs `req` on the service, with `files` (from earlier runs or
    /// uploads) in `/mnt/data`. `session` asks servers that keep sandboxes
    /// warm (kled's) to reuse that session's.
    pub async fn run_code(
        &self,
        req: &CodeRequest,
        files: Vec<InputFile>,
        session: Option<String>,
    ) -> Result<RemoteRun> {
        if req.stdin.is_some() {
            return Err(Error::new(
                crate::ErrorKind::InvalidArgument,
                "a remote run takes no stdin: the Code Interpreter API has no way to send it",
            ));
        }
        let lang = super::language_id(&req.lang)?;
        let body = ExecBody {
            lang: lang.to_string(),
            code: req.code.clone(),
            args: req.args.clone(),
            files,
            session_id: session,
            ..ExecBody::default()
        };
        let client = match req.timeout {
            Some(t) => self.with_deadline(t),
            None => self.clone(),
        };
        let started = Instant::now();
        let output = client.exec(&body).await?;
        let status = ExitStatus {
            exit_code: output.exit_code(),
            signal: None,
            timed_out: false,
            truncated: false,
            duration: started.elapsed(),
        };
        let result = ExecResult::new(output.stdout().as_bytes().to_vec(), output.stderr().as_bytes().to_vec(), status);
        Ok(RemoteRun { result, output })
    }
}
