//! Every export goes through `ffi!` (pointer checks, panic boundary): a
//! function added without it would let a panic unwind into C or a NULL
//! pointer be dereferenced. This reads the sources and checks.

use std::path::Path;

#[test]
fn every_export_body_is_one_ffi_call() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() == "#[no_mangle]" {
                assert!(
                    lines[i + 1].contains("extern \"C\" fn "),
                    "{}:{}: #[no_mangle] on something other than an extern \"C\" fn",
                    path.display(),
                    i + 2
                );
            }
            if !line.contains("extern \"C\" fn ") {
                continue;
            }
            let file_line = format!("{}:{}", path.display(), i + 1);
            assert!(
                i > 0 && lines[i - 1].trim() == "#[no_mangle]",
                "{file_line}: an extern \"C\" fn without #[no_mangle]"
            );
            // The signature may span lines; the body starts after the line ending in `{`.
            let open = (i..lines.len()).find(|&j| lines[j].trim_end().ends_with('{')).unwrap();
            let first = lines[open + 1].trim_start();
            assert!(
                first.starts_with("ffi!(["),
                "{file_line}: the body must start with ffi!([...] {{ ... }}), found {first:?}"
            );
            // ...and the ffi! call is the whole body: the next line at the
            // function's indentation closes it.
            let close = (open + 1..lines.len()).find(|&j| lines[j] == "}").unwrap();
            let last = lines[close - 1].trim();
            let one_line = close == open + 2 && first.ends_with("})");
            assert!(one_line || last == "})", "{file_line}: code after the ffi! call: {last:?}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "checked only {checked} exports");
}
