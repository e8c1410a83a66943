//! `POST /exec`: pick the session, bring its sandbox and files, run, and
//! collect what the run wrote to /mnt/data.

use crate::auth::Principal;
use crate::failure::Failure;
use crate::paths::{check_path, MAX_DEPTH};
use crate::pool::{Sandbox, DATA_DIR};
use crate::refs::Input;
use crate::store::{Session, SessionState};
use crate::Inner;
use kled::librechat::wire::{ExecBody, ExecOutput, FileRef, RunInfo};
use kled::{CodeRequest, ErrorKind, ExecResult};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a request waits for a sandbox place before a 503.
const PLACE_WAIT: Duration = Duration::from_secs(30);
/// Directories and entries the output walk looks at, at most: a run that
/// makes a million files gets a note, not a server busy for minutes.
const WALK_DIRS: usize = 256;
const WALK_ENTRIES: usize = 4096;

pub async fn exec(srv: &Inner, who: &Principal, body: ExecBody, inputs: Vec<Input>) -> Result<ExecOutput, Failure> {
    let lang = kled::librechat::language_id(&body.lang).map_err(|_| {
        Failure::bad_request(format!(
            "unsupported language {:?}; supported: {}",
            body.lang,
            kled::librechat::LANGUAGE_IDS.join(" ")
        ))
    })?;
    let session = choose_session(srv, who, &body, &inputs)?;
    let mut st = session.state.lock().await;
    session.touch();
    let req = CodeRequest {
        args: body.args.clone(),
        timeout: Some(Duration::from_secs(srv.cfg.limits.run_timeout.max(1))),
        ..CodeRequest::new(lang, body.code.clone())
    };
    let started = Instant::now();
    // A sandbox that vanished (removed from outside, engine restarted) is
    // replaced once, files and all.
    let mut attempt = 0;
    let (result, before) = loop {
        attempt += 1;
        ensure_sandbox(srv, &mut st).await?;
        match run_in(srv, &session, &mut st, &inputs, &req).await {
            Ok(r) => break r,
            Err(e) if attempt == 1 && lost(&e) => {
                tracing::warn!(session = %session.id, error = %e, "sandbox lost; starting a new one");
                if let Some(s) = st.sandbox.take() {
                    srv.pool.retire(s);
                }
                st.synced.clear();
            }
            Err(e) => return Err(Failure::internal(&e)),
        }
    };
    st.sandbox_used = Instant::now();
    let read_only: HashSet<&str> = inputs.iter().filter(|i| i.file.read_only).map(|i| i.name.as_str()).collect();
    let (files, notes) = collect_outputs(srv, &session, &mut st, &before, &read_only).await;
    if result.timed_out || result.signal.is_some() {
        // The run's process group was killed, but what it forked off into
        // other groups (a fork bomb's `&` children, a daemon) may still
        // run, and nothing here can prove otherwise. So the sandbox goes,
        // and the session's next run gets a fresh one with its stored
        // files copied in: nothing a killed run started outlives it.
        if let Some(s) = st.sandbox.take() {
            tracing::info!(session = %session.id, terminal = s.terminal.name(), "run killed; recycling its sandbox");
            srv.pool.retire(s);
        }
        st.synced.clear();
    }
    // A session's TTL runs from the end of its last use, not the start: a
    // long run (or a sandbox replaced mid-way) must not age it.
    session.touch();
    let limit = srv.cfg.limits.max_output;
    // A stream that reached run_code's own cap lost its real end.
    let lost = |out: &[u8]| result.truncated && out.len() as u64 >= kled::DEFAULT_MAX_OUTPUT;
    let stdout = cap(&result.stdout, limit, "stdout", lost(&result.stdout));
    let mut stderr = cap(&result.stderr, limit, "stderr", lost(&result.stderr));
    if result.timed_out {
        stderr.push_str(&format!("\nExecution timed out after {}s and was killed.\n", srv.cfg.limits.run_timeout));
    }
    for n in notes {
        stderr.push_str(&n);
    }
    // The reference server's words for a run killed at its time limit.
    let signal = if result.timed_out { Some("SIGKILL".to_string()) } else { result.signal.map(signal_name) };
    let run = RunInfo {
        stdout: stdout.clone(),
        stderr: stderr.clone(),
        code: result.exit_code,
        signal: signal.clone(),
        status: result.timed_out.then(|| "TO".to_string()),
        message: result.timed_out.then(|| "Time limit exceeded".to_string()),
        wall_time: Some(started.elapsed().as_secs_f64()),
    };
    srv.store.save(&session, &st);
    Ok(ExecOutput {
        session_id: session.id.clone(),
        stdout,
        stderr,
        files,
        code: run.code,
        signal,
        status: run.status.clone(),
        message: run.message.clone(),
        wall_time: run.wall_time,
        run: Some(run),
        language: Some(lang.to_string()),
        version: None,
    })
}

/// The session named in the body, else the caller's own session all input
/// files share, else (a JWT user) that user's warm one, else a new one.
/// Always one the caller owns: a sandbox is never shared between users,
/// whatever files they name (files of others are copied in).
fn choose_session(srv: &Inner, who: &Principal, body: &ExecBody, inputs: &[Input]) -> Result<Arc<Session>, Failure> {
    let me = who.user_key();
    if let Some(id) = &body.session_id {
        return srv.store.get(id, &me);
    }
    if let Some(first) = inputs.first() {
        if first.session.owner == me && inputs.iter().all(|i| Arc::ptr_eq(&i.session, &first.session)) {
            return Ok(first.session.clone());
        }
    }
    // A static key may stand for many people (every LibreChat user behind
    // it): their runs get new sessions, as the hosted service's did.
    if who.is_jwt() {
        if let Some(s) = srv.store.warm_of(&me) {
            return Ok(s);
        }
    }
    srv.store.create(me).map_err(|e| Failure::internal(&e))
}

/// Gives the session a sandbox: a warm one, a new one, one taken from the
/// least recently used idle session, or (all busy) the next one free.
async fn ensure_sandbox(srv: &Inner, st: &mut SessionState) -> Result<(), Failure> {
    if st.sandbox.is_some() {
        return Ok(());
    }
    let make_room = || match srv.store.evict_one(Duration::ZERO) {
        Some(old) => {
            srv.pool.retire(old);
            true
        }
        None => false,
    };
    if srv.pool.warm_count() == 0 {
        srv.metrics.pool_wait();
    }
    let Some(sandbox) = srv.pool.get(PLACE_WAIT, make_room).await else {
        return Err(Failure::unavailable(
            format!("all {} sandboxes are busy; try again shortly", srv.cfg.sessions.max_sandboxes),
            1,
        ));
    };
    let sandbox = sandbox.map_err(|e| {
        tracing::warn!(error = %e, "starting a sandbox");
        match e.kind() {
            // The engine is slow or restarting: worth another try.
            ErrorKind::Timeout | ErrorKind::Agent | ErrorKind::Io => {
                Failure::unavailable(format!("cannot start a sandbox: {}", e.message()), 2)
            }
            // The configuration is wrong: retrying will not help.
            _ => Failure::internal(&e),
        }
    })?;
    st.sandbox = Some(sandbox);
    st.synced.clear();
    st.sandbox_used = Instant::now();
    Ok(())
}

type Snapshot = HashMap<String, (u64, u64)>;

/// Puts the session's own files and the inputs into /mnt/data (those not
/// there already), then runs. Returns the result and /mnt/data as it was
/// just before the run.
async fn run_in(
    srv: &Inner,
    session: &Session,
    st: &mut SessionState,
    inputs: &[Input],
    req: &CodeRequest,
) -> kled::Result<(ExecResult, Snapshot)> {
    let t = st.sandbox.as_ref().map(|s: &Sandbox| s.terminal.clone()).expect("ensured");
    let own = st.files.values().map(|f| (f.name.clone(), (f.clone(), session.id.clone())));
    let given = inputs.iter().map(|i| (i.name.clone(), (i.file.clone(), i.session.id.clone())));
    // Inputs come last and win over the session's own file of that name.
    let latest: HashMap<String, _> = own.chain(given).collect();
    for (name, (f, sid)) in latest {
        if st.synced.get(&name) == Some(&f.id) {
            continue;
        }
        let data = srv.store.read(&sid, &f).await?;
        t.write_file(&format!("{DATA_DIR}/{name}"), &data, Some(0o644)).await?;
        st.synced.insert(name, f.id.clone());
    }
    let (before, _) = snapshot(&t).await?;
    let result = t.run_code_with(req.clone()).await?;
    Ok((result, before))
}

/// Every regular file under /mnt/data (relative path: size, mtime), at
/// most [`MAX_DEPTH`] levels down, never through a symlink; and whether the
/// walk stopped at its bounds.
async fn snapshot(t: &kled::Terminal) -> kled::Result<(Snapshot, bool)> {
    let mut out = Snapshot::new();
    let mut dirs = vec![(String::new(), 0usize)];
    let (mut listed, mut seen) = (0, 0);
    while let Some((rel, depth)) = dirs.pop() {
        if listed >= WALK_DIRS || seen >= WALK_ENTRIES {
            return Ok((out, true));
        }
        listed += 1;
        let path = if rel.is_empty() { DATA_DIR.to_string() } else { format!("{DATA_DIR}/{rel}") };
        let entries = match t.list_dir(&path).await {
            Ok(e) => e,
            Err(e) if rel.is_empty() => return Err(e),
            Err(_) => continue,
        };
        for e in entries {
            seen += 1;
            let name = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
            match e.kind.as_str() {
                "file" => {
                    out.insert(name, (e.size, e.mtime_ns));
                }
                "dir" if depth + 1 < MAX_DEPTH => dirs.push((name, depth + 1)),
                _ => {}
            }
        }
    }
    Ok((out, false))
}

/// Files the run made or changed under /mnt/data, stored in the session;
/// the session's files the run deleted, dropped from it. Returns the refs
/// and notes for stderr about files left out.
async fn collect_outputs(
    srv: &Inner,
    session: &Session,
    st: &mut SessionState,
    before: &Snapshot,
    read_only: &HashSet<&str>,
) -> (Vec<FileRef>, Vec<String>) {
    let (mut refs, mut notes) = (Vec::new(), Vec::new());
    let Some(t) = st.sandbox.as_ref().map(|s| s.terminal.clone()) else { return (refs, notes) };
    let after = match snapshot(&t).await {
        Ok((a, cut)) => {
            if cut {
                notes.push(format!(
                    "\nkled: {DATA_DIR} has more than {WALK_ENTRIES} entries or {WALK_DIRS} directories; only those seen first were collected\n"
                ));
            }
            a
        }
        Err(e) => {
            notes.push(format!("\nkled: cannot list {DATA_DIR} after the run: {}\n", e.message()));
            return (refs, notes);
        }
    };
    // A file the code deleted stays deleted: out of the session too.
    let gone: Vec<String> = st
        .files
        .values()
        .filter(|f| before.contains_key(&f.name) && !after.contains_key(&f.name))
        .map(|f| f.id.clone())
        .collect();
    for id in gone {
        srv.store.delete(&session.id, st, &id);
    }
    st.synced.retain(|name, _| after.contains_key(name));
    let mut changed: Vec<(&String, &(u64, u64))> = after.iter().filter(|(n, v)| before.get(*n) != Some(v)).collect();
    changed.sort();
    for (name, (size, _)) in changed {
        if check_path(name).is_err() || read_only.contains(name.as_str()) {
            continue;
        }
        if *size > srv.cfg.limits.max_file as u64 {
            notes.push(format!(
                "\nkled: {name} ({size} bytes) is over the {} byte file limit and was not kept\n",
                srv.cfg.limits.max_file
            ));
            continue;
        }
        if st.files.len() >= srv.cfg.limits.max_files && !st.files.values().any(|f| &f.name == name) {
            notes.push(format!("\nkled: {name} was not kept: the session has {} files, the limit\n", st.files.len()));
            continue;
        }
        let data = match t.read_file(&format!("{DATA_DIR}/{name}")).await {
            Ok(d) if d.len() <= srv.cfg.limits.max_file => d,
            Ok(_) => continue,
            Err(e) => {
                notes.push(format!("\nkled: cannot read {name}: {}\n", e.message()));
                continue;
            }
        };
        // A newer version replaces the older file of that name.
        let old: Vec<String> = st.files.values().filter(|f| &f.name == name).map(|f| f.id.clone()).collect();
        for id in old {
            srv.store.delete(&session.id, st, &id);
        }
        match srv.store.put(session, st, name, &data, None, false).await {
            Ok(f) => {
                st.synced.insert(name.clone(), f.id.clone());
                refs.push(FileRef {
                    id: f.id,
                    name: f.name,
                    path: Some(format!("{DATA_DIR}/{name}")),
                    storage_session_id: Some(session.id.clone()),
                    inherited: None,
                });
            }
            Err(e) => notes.push(format!("\nkled: cannot keep {name}: {}\n", e.message())),
        }
    }
    (refs, notes)
}

/// Whether a failed run means the sandbox is gone.
fn lost(e: &kled::Error) -> bool {
    matches!(e.kind(), ErrorKind::Agent | ErrorKind::NotFound | ErrorKind::InvalidState)
}

/// At most about `limit` bytes of `out` as text: the first and the last
/// half, with a plain note of the cut between (a traceback at the end
/// survives).
fn cap(out: &[u8], limit: usize, what: &str, tail_lost: bool) -> String {
    let mut ht = kled::cap::HeadTail::new((limit / 2).max(1));
    ht.push(out);
    if tail_lost {
        ht.set_tail_lost();
    }
    ht.finish(what).text
}

fn signal_name(sig: i32) -> String {
    match sig {
        9 => "SIGKILL".into(),
        15 => "SIGTERM".into(),
        11 => "SIGSEGV".into(),
        6 => "SIGABRT".into(),
        2 => "SIGINT".into(),
        n => format!("signal {n}"),
    }
}
