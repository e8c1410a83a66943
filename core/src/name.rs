//! Terminal names: `[A-Za-z0-9][A-Za-z0-9_.-]{0,62}`. They become file names,
//! container names and socket names, so nothing else is allowed.

use crate::error::{Error, Result};

pub const MAX_NAME_LEN: usize = 63;

pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid terminal name {name:?}: {why} (names are 1-{MAX_NAME_LEN} characters of letters, digits, '_', '.', '-', starting with a letter or digit)"
        )))
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return bad("it is empty"),
        Some(c) if !c.is_ascii_alphanumeric() => return bad("it must start with a letter or digit"),
        _ => {}
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is too long");
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return bad(&format!("{c:?} is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_names() {
        for n in ["a", "A1", "dev-box", "x.y_z", "0", &"a".repeat(63)] {
            validate_name(n).unwrap();
        }
    }

    #[test]
    fn rejects_bad_names() {
        for n in ["", "-a", ".hidden", "_x", "a/b", "a b", "é", "../etc", &"a".repeat(64), "a\0"] {
            let e = validate_name(n).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{n}");
            assert!(e.message().contains("invalid terminal name"), "{e}");
        }
    }
}
