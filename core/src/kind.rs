//! The kinds of terminal (runtimes) kled knows about.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Local,
    Container,
    Gvisor,
    Kata,
    Neovim,
    NeovimKata,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Local, Kind::Container, Kind::Gvisor, Kind::Kata, Kind::Neovim, Kind::NeovimKata];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Container => "container",
            Kind::Gvisor => "gvisor",
            Kind::Kata => "kata",
            Kind::Neovim => "neovim",
            Kind::NeovimKata => "neovim-kata",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Kind> {
        let wanted = s.trim().to_ascii_lowercase();
        Kind::ALL.into_iter().find(|k| k.as_str() == wanted).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            Error::invalid(format!("unknown runtime {s:?}; known runtimes: {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_lists_them_for_unknown() {
        assert_eq!("local".parse::<Kind>().unwrap(), Kind::Local);
        assert_eq!("Neovim-Kata".parse::<Kind>().unwrap(), Kind::NeovimKata);
        let e = "docker-ish".parse::<Kind>().unwrap_err();
        assert!(e.message().contains("known runtimes: local, container, gvisor, kata, neovim, neovim-kata"), "{e}");
    }
}
