//! The core's hints as `kled` commands: the one place the CLI spells out
//! what to run next after an error.

use kled::{Error, Hint};

/// A hint in the CLI's words.
pub fn render(hint: &Hint) -> String {
    match hint {
        Hint::StartTerminal { name } => format!("start it with `kled terminal start {name}`"),
        Hint::RemoveTerminal { name } => format!("`kled terminal rm {name}` cleans up the record"),
        Hint::ListTerminals => "`kled terminal list` shows the terminals that exist".into(),
        Hint::ListProviders => "`kled terminal providers` lists what works here".into(),
        Hint::RestartNeovim { name } => format!("`kled neovim start {name}` starts a new one"),
        // The flag the CLI has for an option of its own; every option also works as --opt.
        Hint::SetOption { option, value } if option == "image" => format!("pass one with `--image {value}`"),
        Hint::SetOption { option, value } => format!("set it with `--opt {option}={value}`"),
        Hint::OtherBulkPrefix => "pick another --prefix or remove them".into(),
        // A hint this version does not know yet: its plain-English words.
        other => other.to_string(),
    }
}

/// An error as the CLI prints it (after "kled: "): the message, then the hint.
pub fn error_text(e: &Error) -> String {
    kled::with_hint(e.message(), e.hint().map(render).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kled::ErrorKind;

    #[test]
    fn hints_become_commands() {
        let e = Error::new(ErrorKind::InvalidState, "terminal \"dev\" is stopped")
            .with_hint(Hint::StartTerminal { name: "dev".into() });
        assert_eq!(error_text(&e), "terminal \"dev\" is stopped; start it with `kled terminal start dev`");
        let e = Error::new(ErrorKind::InvalidArgument, "a container terminal needs an image")
            .with_hint(Hint::SetOption { option: "image".into(), value: "IMAGE".into() });
        assert!(error_text(&e).ends_with("pass one with `--image IMAGE`"), "{}", error_text(&e));
        assert_eq!(error_text(&Error::new(ErrorKind::Io, "plain")), "plain");
    }
}
