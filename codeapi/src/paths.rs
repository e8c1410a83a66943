//! File names clients give: relative paths under /mnt/data, checked before
//! any reaches a sandbox. They never reach a host path: stored files are
//! named by their random ids.

use crate::failure::Failure;

/// The deepest a name may go (`a/b/.../j.txt`), as the reference server.
pub const MAX_DEPTH: usize = 10;
/// The longest a whole name may be, in bytes.
pub const MAX_NAME: usize = 256;

/// `name` if it is a canonical relative path of at most [`MAX_DEPTH`]
/// segments: no leading `/`, no empty, `.` or `..` segment, no `\\`, no
/// control characters.
pub fn check_path(name: &str) -> Result<&str, Failure> {
    let segments: Vec<&str> = name.split('/').collect();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && segments.len() <= MAX_DEPTH
        && segments.iter().all(|s| !s.is_empty() && *s != "." && *s != "..")
        && !name.contains('\\')
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name)
    } else {
        Err(Failure::bad_request(format!(
            "invalid file name {name:?}: a relative path of at most {MAX_DEPTH} levels and {MAX_NAME} bytes, \
             without empty, '.' or '..' parts, '\\\\' or control characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        let deep = ["d"; MAX_DEPTH + 1].join("/");
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            "a\nb",
            "./a",
            &deep,
            &"x".repeat(257),
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        let deepest = ["d"; MAX_DEPTH].join("/");
        for good in ["data.csv", "..hidden", "a b.txt", "ünïcode.txt", "x..y", "data/in.csv", &deepest] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
    }
}
