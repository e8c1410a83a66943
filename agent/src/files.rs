//! File requests: read, write (atomically), list, and PATH look-ups.

use crate::flow::Flow;
use crate::out::Out;
use kled_protocol::{DirEntry, ErrorCode, Frame, FrameKind, Reply, CHUNK};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn code_of(e: &io::Error) -> ErrorCode {
    match e.kind() {
        io::ErrorKind::NotFound => ErrorCode::NotFound,
        io::ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        io::ErrorKind::InvalidInput => ErrorCode::Invalid,
        _ => ErrorCode::Io,
    }
}

/// Sends the file as DATA frames, as fast as the client's credit allows.
pub fn read(id: u32, path: &str, max_bytes: Option<u64>, out: &Out, flow: Flow) {
    let result = (|| -> io::Result<(u64, bool)> {
        let mut f = File::open(path)?;
        if f.metadata()?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
        }
        let limit = max_bytes.unwrap_or(u64::MAX);
        let mut sent = 0u64;
        let mut buf = vec![0u8; CHUNK];
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "client went away");
        loop {
            let room = flow.credit.wait_room().ok_or_else(gone)?;
            let n = f.read(&mut buf[..room])?;
            if n == 0 {
                return Ok((sent, false));
            }
            let take = (n as u64).min(limit - sent) as usize;
            if take > 0 {
                flow.credit.spend(take);
                if !out.send(Frame::new(FrameKind::Data, id, buf[..take].to_vec())) {
                    return Err(gone());
                }
            }
            sent += take as u64;
            if take < n {
                return Ok((sent, true));
            }
        }
    })();
    match result {
        Ok((bytes, truncated)) => out.reply(id, &Reply::Read { bytes, truncated }),
        Err(e) => out.error(id, code_of(&e), format!("{path}: {e}")),
    };
}

/// A file being received. Content goes to a temporary file beside the
/// target, renamed over it at the end, so readers never see half a file.
pub struct Upload {
    state: Result<(File, PathBuf, PathBuf, u64), io::Error>,
}

impl Upload {
    pub fn begin(path: &str, mode: Option<u32>, create_dirs: bool, id: u32) -> io::Result<Upload> {
        let target = PathBuf::from(path);
        if path.is_empty() || path.ends_with('/') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{path:?} is not a file path")));
        }
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if create_dirs {
            fs::create_dir_all(parent).map_err(|e| annotate(e, parent))?;
        }
        if target.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{path}: is a directory")));
        }
        // Keep an existing file's mode unless one is given.
        let mode =
            mode.or_else(|| fs::metadata(&target).ok().map(|m| m.permissions().mode() & 0o7777)).unwrap_or(0o644);
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = parent.join(format!(".{name}.kled-{}-{id}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| annotate(e, &tmp))?;
        // The umask may have narrowed the mode at creation.
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        Ok(Upload { state: Ok((file, tmp, target, 0)) })
    }

    pub fn failed(e: io::Error) -> Upload {
        Upload { state: Err(e) }
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Ok((f, _, _, n)) = &mut self.state {
            f.write_all(data)?;
            *n += data.len() as u64;
        }
        Ok(())
    }

    pub fn fail(&mut self, e: io::Error) {
        if let Ok((_, tmp, _, _)) = &self.state {
            let _ = fs::remove_file(tmp);
        }
        self.state = Err(e);
    }

    pub fn finish(self) -> io::Result<u64> {
        let (file, tmp, target, n) = self.state?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            annotate(e, &target)
        })?;
        Ok(n)
    }
}

fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

pub fn list(path: &str) -> io::Result<Vec<DirEntry>> {
    let mut entries = Vec::new();
    for e in fs::read_dir(path)? {
        let e = e?;
        let meta = e.path().symlink_metadata()?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else {
            "other"
        };
        entries.push(DirEntry {
            name: e.file_name().to_string_lossy().into_owned(),
            kind: kind.to_string(),
            size: meta.len(),
            mode: meta.permissions().mode() & 0o7777,
            mtime_ns: (meta.mtime().max(0) as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec().max(0) as u64),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

pub fn remove(path: &str, recursive: bool) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        if recursive {
            fs::remove_dir_all(path)
        } else {
            fs::remove_dir(path)
        }
    } else {
        fs::remove_file(path)
    }
}

/// Where `program` would be found by execvp, if anywhere.
pub fn which(program: &str) -> Option<String> {
    fn executable(p: &Path) -> bool {
        p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
    }
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        return executable(Path::new(program)).then(|| program.to_string());
    }
    let path =
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| executable(p))
        .map(|p| p.display().to_string())
}
