//! File permission bits as every front end accepts them: a number (Python,
//! Node, C) or octal text (MCP, where a model writes "755"). One range and
//! one message for all of them.

use crate::error::{Error, Result};

/// The largest mode: permission bits plus setuid, setgid and sticky.
pub const MAX_MODE: u32 = 0o7777;

/// Refuses a mode with bits outside permission/setuid/setgid/sticky.
pub fn check(mode: Option<u32>) -> Result<()> {
    match mode {
        Some(m) if m > MAX_MODE => Err(Error::invalid(format!(
            "file mode {m:#o} is out of range: permission bits such as 0o644 or 0o755 (at most {MAX_MODE:#o})"
        ))),
        _ => Ok(()),
    }
}

/// Octal text ("644", "0755", "0o600") as a mode.
pub fn parse_octal(text: &str) -> Result<u32> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").unwrap_or(digits);
    let mode = u32::from_str_radix(digits, 8)
        .ok()
        .filter(|_| !digits.is_empty() && !digits.starts_with(['+', '-']))
        .ok_or_else(|| {
            Error::invalid(format!("mode must be octal permission bits such as \"644\" or \"755\", not {text:?}"))
        })?;
    check(Some(mode))?;
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_octal_text() {
        assert!(check(None).is_ok() && check(Some(0o7777)).is_ok());
        assert!(check(Some(0o10000)).unwrap_err().message().contains("out of range"));
        assert_eq!(parse_octal("755").unwrap(), 0o755);
        assert_eq!(parse_octal("0o600").unwrap(), 0o600);
        assert_eq!(parse_octal("0644").unwrap(), 0o644);
        for bad in ["", "0o", "9", "-7", "+7", "rwx", "17777"] {
            assert!(parse_octal(bad).is_err(), "{bad:?}");
        }
    }
}
