//! `kled completions`, `kled man` and `kled --version`: what packagers
//! install (scripts/install-libkled.sh), checked with the real shells and
//! the real embedded agent where the machine has them.

use std::process::{Command, Output};

fn kled(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kled"))
        .args(args)
        .env("KLED_HOME", home)
        .env_remove("KLED_CONFIG")
        .output()
        .unwrap()
}

fn ok(args: &[&str], home: &std::path::Path) -> String {
    let o = kled(args, home);
    assert!(o.status.success(), "kled {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn has(program: &str) -> bool {
    Command::new(program).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    let home = tempfile::tempdir().unwrap();
    let bash = ok(&["completions", "bash"], home.path());
    assert!(bash.contains("complete -F _kled"), "{bash}");
    for word in ["terminal", "neovim", "completions", "exec", "bulk"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let zsh = ok(&["completions", "zsh"], home.path());
    assert!(zsh.starts_with("#compdef kled"), "{}", &zsh[..zsh.len().min(200)]);
    let fish = ok(&["completions", "fish"], home.path());
    assert!(fish.contains("complete -c kled") && fish.contains("terminal"), "{fish}");
    // Nothing was written to the state dir: completions need none.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);

    let bad = kled(&["completions", "tcsh"], home.path());
    assert_eq!(bad.status.code(), Some(125));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid value 'tcsh'") && err.contains("bash"), "{err}");
}

#[test]
fn bash_loads_the_completion_and_completes_subcommands() {
    if !has("bash") {
        eprintln!("SKIP: no bash");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("kled.bash");
    std::fs::write(&script, ok(&["completions", "bash"], home.path())).unwrap();
    // What bash offers after `kled ter<TAB>` and `kled terminal e<TAB>`: it
    // calls the function with the command, the current and the previous word.
    let probe = format!(
        "source {}; COMP_WORDS=(kled ter); COMP_CWORD=1; _kled kled ter kled; echo \"${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(kled terminal e); COMP_CWORD=2; _kled kled e terminal; echo \"${{COMPREPLY[*]}}\"",
        script.display()
    );
    let o = Command::new("bash").args(["--norc", "-c", &probe]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"terminal"), "{out}");
    assert_eq!(lines.get(1), Some(&"exec"), "{out}");
}

#[test]
fn man_pages_render_for_kled_and_each_subcommand() {
    let home = tempfile::tempdir().unwrap();
    let page = ok(&["man"], home.path());
    let title = page.lines().find(|l| l.starts_with(".TH ")).unwrap_or_default();
    assert_eq!(title.trim_end(), format!(".TH kled 1  \"kled {}\"", env!("CARGO_PKG_VERSION")), "{page}");
    assert!(page.contains("terminal"));

    let dir = home.path().join("man1");
    ok(&["man", "--out-dir", dir.to_str().unwrap()], home.path());
    for name in ["kled.1", "kled-terminal.1", "kled-terminal-exec.1", "kled-completions.1", "kled-serve-codeapi.1"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name} is no man page");
    }
    if has("man") {
        // man -l renders the file itself: the page is valid roff.
        let o = Command::new("man").arg("-l").arg(dir.join("kled-terminal-exec.1")).env("MANPAGER", "cat").output();
        if let Ok(o) = o {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(String::from_utf8_lossy(&o.stdout).contains("exec"));
        }
    }

    let file = home.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let o = kled(&["man", "--out-dir", file.to_str().unwrap()], home.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not-a-dir"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn version_names_the_agent_and_protocol_that_are_really_embedded() {
    let home = tempfile::tempdir().unwrap();
    let v = ok(&["--version"], home.path());
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines.len(), 3, "{v}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(lines[0], format!("kled {version}"));
    assert!(lines[1].starts_with(&format!("agent {version} (embedded static kled-agent, ")), "{v}");
    assert_eq!(lines[2], format!("protocol {}", kled::protocol::PROTOCOL_VERSION));
    assert_eq!(ok(&["-V"], home.path()).trim(), format!("kled {version}"));

    // The agent a local terminal runs says the same about itself.
    assert!(ok(&["terminal", "create", "h20-version"], home.path()).contains("created"));
    let bin = home.path().join("bin");
    let agent = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("kled-agent-"))
        .expect("the local terminal installed the embedded agent");
    let said = Command::new(&agent).arg("--version").output().unwrap();
    ok(&["terminal", "rm", "h20-version"], home.path());
    assert_eq!(
        String::from_utf8(said.stdout).unwrap().trim(),
        format!("kled-agent {version} (protocol {})", kled::protocol::PROTOCOL_VERSION)
    );
}
