//! Human-readable output: tables and progress bars.

use kled::{Provider, TerminalInfo};

pub fn terminal_table(terminals: &[TerminalInfo]) {
    if terminals.is_empty() {
        println!("no terminals (create one with `kled terminal create NAME`)");
        return;
    }
    let w = terminals.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    println!("{:<w$}  {:<12}  {:<8}  CREATED", "NAME", "RUNTIME", "STATE");
    for t in terminals {
        let state = match &t.error {
            Some(e) => format!("{} ({e})", t.state),
            None => t.state.to_string(),
        };
        println!("{:<w$}  {:<12}  {:<8}  {}", t.name, t.kind.as_str(), state, ago(t.created_at));
    }
}

pub fn provider_table(ps: &[Provider]) {
    println!("{:<12}  {:<9}  {:<52}  NEEDS", "RUNTIME", "AVAILABLE", "WHAT");
    for p in ps {
        println!(
            "{:<12}  {:<9}  {:<52}  {}",
            p.kind.as_str(),
            if p.available { "yes" } else { "no" },
            p.description,
            p.needs
        );
    }
}

fn ago(epoch: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let d = now.saturating_sub(epoch);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
