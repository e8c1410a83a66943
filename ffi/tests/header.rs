//! include/kled.h is generated from this crate by the pinned cbindgen and
//! checked in. This test regenerates it and fails when the checked-in file
//! differs; `KLED_BLESS=1 cargo test -p kled-ffi --test header` rewrites it.

use std::path::{Path, PathBuf};

fn generate() -> String {
    let ffi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(ffi.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    // The library's version, so C can compare header and library.
    config.after_includes = Some(format!("\n#define KLED_VERSION \"{}\"", env!("CARGO_PKG_VERSION")));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(ffi.join("src/lib.rs"))
        .generate()
        .expect("cbindgen failed on ffi/src");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

fn header_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/kled.h")
}

#[test]
fn checked_in_header_is_current() {
    let fresh = generate();
    let path = header_path();
    if std::env::var_os("KLED_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != fresh {
        let line = current.lines().zip(fresh.lines()).position(|(a, b)| a != b).map(|i| i + 1);
        panic!(
            "include/kled.h is stale (first difference at line {}); regenerate it with\n    KLED_BLESS=1 cargo test -p kled-ffi --test header",
            line.map_or_else(|| "the end".to_string(), |l| l.to_string())
        );
    }
}

#[test]
fn every_export_is_declared_and_documented() {
    let header = generate();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut exports = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let Some(rest) = line.split("extern \"C\" fn ").nth(1) else { continue };
            let name = &rest[..rest.find('(').unwrap()];
            exports += 1;
            let lines: Vec<&str> = header.lines().collect();
            let is_decl = |l: &str| {
                let t = l.trim_start();
                !t.starts_with('*')
                    && !t.starts_with('/')
                    && (l.contains(&format!(" {name}(")) || l.contains(&format!("*{name}(")))
            };
            let at =
                lines.iter().position(|l| is_decl(l)).unwrap_or_else(|| panic!("{name} is missing from the header"));
            // The declaration is preceded by its doc comment.
            assert!(at > 0 && lines[at - 1].trim_end().ends_with("*/"), "{name} has no documentation in the header");
        }
    }
    assert!(exports >= 30, "found only {exports} exports");
}
