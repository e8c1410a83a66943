//! The core's hints in C terms (the functions to call): the one place
//! libkled spells out a next step. The hint goes at the end of the message
//! (`kled_last_error_message`) and alone to `kled_last_error_hint`.

use kled_core::Hint;

/// A hint in libkled's words.
pub(crate) fn render(hint: &Hint) -> String {
    match hint {
        Hint::StartTerminal { name } => format!("start it with kled_terminal_start() on terminal {name:?}"),
        Hint::RemoveTerminal { name } => {
            format!("kled_manager_remove_terminal() of {name:?} cleans up the record")
        }
        Hint::ListTerminals => "kled_manager_list_terminals() shows the terminals that exist".into(),
        Hint::ListProviders => "kled_manager_providers() lists what works here".into(),
        Hint::RestartNeovim { name } => format!("kled_terminal_start() on terminal {name:?} starts a new one"),
        Hint::SetOption { option, value } => format!("set it in options_json: {{{option:?}: {value:?}}}"),
        Hint::OtherBulkPrefix => "pass another prefix to kled_manager_create_bulk() or remove them".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_c_functions() {
        assert_eq!(
            render(&Hint::StartTerminal { name: "dev".into() }),
            "start it with kled_terminal_start() on terminal \"dev\""
        );
        assert!(render(&Hint::SetOption { option: "image".into(), value: "IMAGE".into() })
            .ends_with("{\"image\": \"IMAGE\"}"));
    }
}
