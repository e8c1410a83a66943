//! The JSON bodies of the Code Interpreter API, as LibreChat sends and reads
//! them. Unknown fields are kept out of the way (ignored on input), so a
//! newer server's additions do not break an older client.

use serde::{Deserialize, Deserializer, Serialize};

/// Length of session and file ids (nanoid's default; LibreChat checks it).
pub const ID_LEN: usize = 21;

/// Whether `s` is a well-formed session or file id.
pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A new random id, 126 bits from the OS's generator.
pub fn new_id() -> String {
    const ALPHABET: &[u8; 64] = b"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";
    let mut bytes = [0u8; ID_LEN];
    getrandom(&mut bytes);
    bytes.iter().map(|b| ALPHABET[(b & 63) as usize] as char).collect()
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    // /dev/urandom never blocks once the pool is seeded, which it is long
    // before a server takes requests. Falling back to fastrand (not
    // cryptographic) would make ids guessable, so a failure here is fatal.
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("reading /dev/urandom for a session id");
}

/// A file given to an exec: one uploaded or produced earlier, in the
/// caller's own storage (kind `user`).
///
/// Sent in both protocol generations' shapes at once: `session_id` for the
/// legacy hosted service, and `storage_session_id`, `resource_id` and
/// `kind` for LibreChat's current servers (ClickHouse/code-interpreter
/// requires them; each side ignores the other's fields). Read from either.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawInputFile")]
pub struct InputFile {
    pub id: String,
    pub session_id: String,
    pub name: String,
}

impl Serialize for InputFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("session_id", &self.session_id)?;
        m.serialize_entry("storage_session_id", &self.session_id)?;
        m.serialize_entry("name", &self.name)?;
        // For kind `user` the server takes the user from the credentials;
        // resource_id is informational but must be present and well formed.
        m.serialize_entry("resource_id", &self.session_id)?;
        m.serialize_entry("kind", "user")?;
        m.end()
    }
}

#[derive(Deserialize)]
struct RawInputFile {
    id: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    storage_session_id: Option<String>,
    name: String,
}

impl From<RawInputFile> for InputFile {
    fn from(r: RawInputFile) -> InputFile {
        InputFile { id: r.id, session_id: r.storage_session_id.or(r.session_id).unwrap_or_default(), name: r.name }
    }
}

/// `POST /exec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecBody {
    pub lang: String,
    pub code: String,
    /// Arguments for the program. LibreChat sends an array; the published
    /// schema says a string (split on whitespace): both are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "args")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<InputFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Run in this session's sandbox (its files in place). Servers that do
    /// not know the field start a new session, which is what the hosted
    /// service does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

fn args<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Args {
        List(Vec<String>),
        Line(String),
        None(()),
    }
    Ok(match Args::deserialize(d)? {
        Args::List(v) => v,
        Args::Line(s) => s.split_whitespace().map(str::to_string).collect(),
        Args::None(()) => Vec::new(),
    })
}

/// A file an exec produced (or, `inherited`, an input passed through).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where the file is stored, when not in the exec's own session
    /// (current servers send it on every file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited: Option<bool>,
}

/// How the program ended, as the published schema's `run` object has it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub code: Option<i32>,
    #[serde(default)]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time: Option<f64>,
}

/// The answer to `POST /exec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub session_id: String,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub files: Vec<FileRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How the program ended, at the top level (ClickHouse/code-interpreter's
    /// `ExecuteResult`); older servers have it in `run` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time: Option<f64>,
}

impl ExecOutput {
    /// stdout, from the top level or (older servers) from `run`.
    pub fn stdout(&self) -> &str {
        match &self.run {
            Some(r) if self.stdout.is_empty() => &r.stdout,
            _ => &self.stdout,
        }
    }

    pub fn stderr(&self) -> &str {
        match &self.run {
            Some(r) if self.stderr.is_empty() => &r.stderr,
            _ => &self.stderr,
        }
    }

    /// The exit code, when the server reports one (top level, else `run`).
    pub fn exit_code(&self) -> Option<i32> {
        self.code.or_else(|| self.run.as_ref().and_then(|r| r.code))
    }

    /// These files as inputs for a following exec.
    pub fn inputs(&self) -> Vec<InputFile> {
        self.files
            .iter()
            .map(|f| InputFile {
                id: f.id.clone(),
                session_id: f.storage_session_id.clone().unwrap_or_else(|| self.session_id.clone()),
                name: f.name.clone(),
            })
            .collect()
    }
}

/// One uploaded file in an [`UploadReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedFile {
    #[serde(rename = "fileId")]
    pub file_id: String,
    pub filename: String,
}

/// The answer to `POST /upload`: the session as `session_id` (legacy) or
/// `storage_session_id` (current servers); read from either, sent as both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawUploadReply")]
pub struct UploadReply {
    pub message: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_session_id: Option<String>,
    pub files: Vec<UploadedFile>,
}

#[derive(Deserialize)]
struct RawUploadReply {
    message: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    storage_session_id: Option<String>,
    #[serde(default)]
    files: Vec<UploadedFile>,
}

impl From<RawUploadReply> for UploadReply {
    fn from(r: RawUploadReply) -> UploadReply {
        let sid = r.storage_session_id.clone().or(r.session_id).unwrap_or_default();
        UploadReply { message: r.message, session_id: sid, storage_session_id: r.storage_session_id, files: r.files }
    }
}

impl UploadReply {
    pub fn inputs(&self) -> Vec<InputFile> {
        self.files
            .iter()
            .map(|f| InputFile { id: f.file_id.clone(), session_id: self.session_id.clone(), name: f.filename.clone() })
            .collect()
    }
}

/// One entry of `GET /files/{session_id}`. `name` is `SESSION/FILEID` as
/// the hosted service's object store names it; `metadata` carries the
/// original file name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    #[serde(rename = "fileId", default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(rename = "lastModified", default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(rename = "contentType", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FileMetadata>,
    /// The agent the file was uploaded for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
}

impl FileInfo {
    /// The file's own name (from metadata), else the store name.
    pub fn filename(&self) -> &str {
        self.metadata.as_ref().and_then(|m| m.original_filename.as_deref()).unwrap_or(&self.name)
    }

    /// The file id, from `fileId`, `id`, or the store name.
    pub fn file_id(&self) -> &str {
        self.file_id
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or_else(|| self.name.rsplit('/').next().unwrap_or(&self.name))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    #[serde(rename = "content-type", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(rename = "original-filename", default, skip_serializing_if = "Option::is_none")]
    pub original_filename: Option<String>,
}

/// An error body: `{error, details?}`, and for 429 `retry_after_seconds`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_nanoids() {
        let a = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, new_id());
        assert!(!is_id("short"));
        assert!(!is_id("../../../etc/passwd..."));
    }

    #[test]
    fn args_as_list_or_line() {
        let b: ExecBody = serde_json::from_str(r#"{"lang":"py","code":"x","args":["a","b c"]}"#).unwrap();
        assert_eq!(b.args, vec!["a", "b c"]);
        let b: ExecBody = serde_json::from_str(r#"{"lang":"py","code":"x","args":"a  b"}"#).unwrap();
        assert_eq!(b.args, vec!["a", "b"]);
        let b: ExecBody = serde_json::from_str(r#"{"lang":"py","code":"x","args":null}"#).unwrap();
        assert!(b.args.is_empty());
    }

    #[test]
    fn exec_body_serializes_as_librechat_sends_it() {
        let b = ExecBody { lang: "py".into(), code: "print(1)".into(), ..Default::default() };
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"lang":"py","code":"print(1)"}"#);
    }

    #[test]
    fn older_servers_put_output_in_run() {
        let o: ExecOutput =
            serde_json::from_str(r#"{"session_id":"s","run":{"stdout":"1\n","stderr":"","code":0}}"#).unwrap();
        assert_eq!(o.stdout(), "1\n");
        assert_eq!(o.exit_code(), Some(0));
    }
}
