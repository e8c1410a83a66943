//! Directories only this user can reach: the state dir, and the short socket
//! directory a deep state dir needs.
//!
//! A unix socket is reached by path, so whoever controls a directory on that
//! path can move the socket aside and bind a fake agent in its place, which
//! then receives the commands, environment and code sent to the terminal. A
//! directory is therefore trusted only when it is a real directory (not a
//! symlink), owned by the effective user, and closed to group and others; it
//! is checked on every use, not only when it was made.

use crate::error::{Error, ErrorKind, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Makes `dir` (mode 0700) unless it exists, then checks that it is private.
/// Its parent must exist.
pub fn ensure(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(format!("cannot create {}", dir.display()), e)),
    }
    verify(dir)
}

/// Fails unless `dir` is a directory (not a symlink) owned by this user with
/// no access for group or others.
pub fn verify(dir: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(dir).map_err(|e| Error::io(format!("cannot inspect {}", dir.display()), e))?;
    let unsafe_dir = |why: String| {
        Error::new(
            ErrorKind::Io,
            format!(
                "refusing to use {}: {why}; another user could intercept kled's sockets there. \
                 Remove it (or set KLED_HOME to a shorter private directory) and try again",
                dir.display()
            ),
        )
    };
    if md.file_type().is_symlink() {
        return Err(unsafe_dir("it is a symbolic link".into()));
    }
    if !md.is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    if md.uid() != euid() {
        return Err(unsafe_dir(format!("it belongs to uid {}, not to you (uid {})", md.uid(), euid())));
    }
    if md.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!("its mode is {:o}, open to other users", md.mode() & 0o777)));
    }
    Ok(())
}

/// The state dir's root: made 0700 when missing; an existing one of ours that
/// is open to others is closed (mode 0700, with a warning), since records,
/// logs and working directories below it assume it is private. One that
/// belongs to another user is refused. A symlink to a directory is followed:
/// pointing KLED_HOME elsewhere is the user's choice.
pub fn own_root(root: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| Error::io(format!("cannot create state directory {}", root.display()), e))?;
    let md = std::fs::metadata(root).map_err(|e| Error::io(format!("cannot inspect {}", root.display()), e))?;
    if md.uid() != euid() {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "state directory {} belongs to uid {}, not to you (uid {}): set KLED_HOME to a directory of your own",
                root.display(),
                md.uid(),
                euid()
            ),
        ));
    }
    if md.mode() & 0o077 != 0 {
        tracing::warn!(dir = %root.display(), mode = format!("{:o}", md.mode() & 0o777), "state directory was open to other users: setting it to 0700");
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("cannot make {} private (chmod 0700)", root.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_private_directories_of_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        ensure(&d).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(ensure(&d).unwrap_err().message().contains("open to other users"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        assert!(verify(&link).unwrap_err().message().contains("symbolic link"));
        let file = tmp.path().join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(verify(&file).unwrap_err().message().contains("not a directory"));
    }

    #[test]
    fn an_open_root_is_closed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        own_root(tmp.path()).unwrap();
        assert_eq!(std::fs::metadata(tmp.path()).unwrap().mode() & 0o777, 0o700);
    }
}
