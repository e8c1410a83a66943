//! The files an exec names, in both protocol generations, and whether the
//! caller may use them.
//!
//! - Current (`kind` present), as ClickHouse/code-interpreter's
//!   file-authorization.ts: `{id, storage_session_id, name, resource_id,
//!   kind, version?}`. The owner key is derived from the caller and the
//!   kind (`user`: the caller; `agent`, `skill`: the resource, shared within
//!   the caller's namespace) and must be the storage session's; the file
//!   must be in it. Anything else is 403 "Unauthorized file reference".
//! - Legacy (`{id, session_id, name}`): the session must be the caller's
//!   own (404 otherwise, as before).

use crate::auth::Principal;
use crate::failure::Failure;
use crate::paths::check_path;
use crate::store::{Session, StoredFile};
use crate::Inner;
use kled::librechat::wire::is_id;
use serde::Deserialize;
use std::sync::Arc;

const KINDS: &[&str] = &["skill", "agent", "user"];

#[derive(Debug, Deserialize)]
pub struct RefIn {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub storage_session_id: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub version: Option<serde_json::Value>,
}

/// An input the caller may use: where it goes, what it is, whose it is.
pub struct Input {
    pub name: String,
    pub file: StoredFile,
    pub session: Arc<Session>,
}

fn invalid(i: usize, what: &str) -> Failure {
    Failure::bare(axum::http::StatusCode::BAD_REQUEST, format!("files[{i}].{what}"))
}

fn unauthorized() -> Failure {
    Failure::forbidden("Unauthorized file reference")
}

/// A resource id as the reference server's isValidResourceId takes them.
pub fn is_resource_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// The owner key a current-protocol reference (or an upload's, a
/// download's `kind`/`id`/`version`) resolves to for `who`.
pub fn owner_key(
    who: &Principal,
    kind: &str,
    resource_id: &str,
    version: Option<&serde_json::Value>,
) -> Result<String, String> {
    if !KINDS.contains(&kind) {
        return Err(format!("kind must be one of: {}", KINDS.join(", ")));
    }
    let version = match (kind, version) {
        ("skill", Some(v)) => {
            Some(v.as_f64().filter(|n| n.is_finite()).ok_or("version must be a number for kind: 'skill'")?)
        }
        ("skill", None) => return Err("version is required for kind: 'skill'".into()),
        (_, Some(_)) => return Err("version is only valid for kind: 'skill'".into()),
        (_, None) => None,
    };
    Ok(match kind {
        "user" => who.user_key(),
        _ => who.shared_key(kind, resource_id, version),
    })
}

/// Checks every reference before anything runs.
pub async fn authorize(srv: &Inner, who: &Principal, refs: &[RefIn]) -> Result<Vec<Input>, Failure> {
    let mut out = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        check_path(&r.name)?;
        let sid = r.storage_session_id.as_deref().or(r.session_id.as_deref()).unwrap_or_default();
        let (session, file) = match &r.kind {
            Some(kind) => {
                if !is_id(&r.id) {
                    return Err(invalid(i, "id is invalid"));
                }
                if !is_id(sid) {
                    return Err(invalid(i, "storage_session_id is invalid"));
                }
                let resource = r.resource_id.as_deref().filter(|s| is_resource_id(s));
                let Some(resource) = resource else { return Err(invalid(i, "resource_id is invalid")) };
                let key = owner_key(who, kind, resource, r.version.as_ref()).map_err(|e| invalid(i, &e))?;
                let session = srv.store.find(sid).ok().filter(|s| s.owner == key).ok_or_else(unauthorized)?;
                // The caller's own session without that file: a 404 that says
                // why (it expired, it was replaced), where the reference server
                // answers 403; it tells nobody anything about another's files.
                let file = session.state.lock().await.files.get(&r.id).cloned().ok_or_else(|| {
                    Failure::not_found(format!(
                        "no file {:?} ({}) in session {sid:?}: files expire with their session, and a newer output replaces an older one",
                        r.id, r.name
                    ))
                })?;
                (session, file)
            }
            None => {
                if !is_id(&r.id) {
                    return Err(Failure::not_found(format!("no file {:?} in session {sid:?}", r.id)));
                }
                let session = srv.store.get(sid, &who.user_key())?;
                let file =
                    session.state.lock().await.files.get(&r.id).cloned().ok_or_else(|| {
                        Failure::not_found(format!("no file {:?} ({}) in session {sid:?}", r.id, r.name))
                    })?;
                (session, file)
            }
        };
        session.touch();
        out.push(Input { name: r.name.clone(), file, session });
    }
    Ok(out)
}
