//! The real agent (`kled-agent --stdio`) fed hostile input: garbage instead
//! of a HELLO, garbage after one, and requests of arbitrary JSON. It must
//! answer with an error or hang up, never die of a panic or a signal.
//! Only harmless requests are generated (no spawn, write or remove), in a
//! scratch working directory.

use kled_protocol::{Frame, FrameKind, Hello, PROTOCOL_VERSION};
use proptest::prelude::*;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Runs one agent on `input` (then EOF) and checks how it ended.
fn feed(input: &[u8]) -> Result<(), TestCaseError> {
    let dir = std::env::temp_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kled-agent"))
        .arg("--stdio")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The agent may hang up early: a broken pipe is an answer too.
    let _ = stdin.write_all(input);
    drop(stdin);
    let mut stdout = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    prop_assert!(status.signal().is_none(), "killed by signal {:?}: {stderr}", status.signal());
    prop_assert!(!stderr.contains("panicked"), "{stderr}");
    // Whatever it said is well-formed frames.
    let mut r = &stdout[..];
    while let Some(f) =
        Frame::read_from(&mut r).map_err(|e| TestCaseError::fail(format!("agent wrote a bad frame: {e}")))?
    {
        prop_assert!(
            matches!(f.kind, FrameKind::Hello | FrameKind::Reply | FrameKind::Error | FrameKind::Data),
            "{:?}",
            f.kind
        );
    }
    Ok(())
}

fn hello() -> Vec<u8> {
    let mut buf = Vec::new();
    Frame::json(FrameKind::Hello, 0, &Hello::new("fuzz", None)).write_to(&mut buf).unwrap();
    buf
}

fn harmless_request() -> impl Strategy<Value = serde_json::Value> {
    let op = prop::sample::select(vec!["info", "which", "list_dir", "read_file", "kill", "resize", "bogus", ""]);
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,16}".prop_map(serde_json::Value::from),
        prop::collection::vec(".{0,8}", 0..4).prop_map(serde_json::Value::from),
    ];
    let field = prop::sample::select(vec!["path", "programs", "target", "signal", "rows", "cols", "max_bytes", "x"]);
    (op, prop::collection::btree_map(field, value, 0..4)).prop_map(|(op, fields)| {
        let mut m: serde_json::Map<String, serde_json::Value> =
            fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        m.insert("op".into(), op.into());
        serde_json::Value::Object(m)
    })
}

proptest! {
    // Each case is a process: keep the count modest.
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn garbage_instead_of_hello(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        feed(&bytes)?;
    }

    #[test]
    fn garbage_after_hello(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut input = hello();
        input.extend(bytes);
        feed(&input)?;
    }

    #[test]
    fn arbitrary_requests_after_hello(reqs in prop::collection::vec((any::<u32>(), harmless_request()), 1..6)) {
        let mut input = hello();
        for (id, req) in reqs {
            // Kill and resize only of ids nobody started: no process is touched.
            Frame::json(FrameKind::Request, id, &req).write_to(&mut input).unwrap();
        }
        feed(&input)?;
    }

    #[test]
    fn a_wrong_protocol_version_is_refused(version in any::<u32>().prop_filter("not ours", |v| *v != PROTOCOL_VERSION)) {
        let mut input = Vec::new();
        let h = Hello { protocol: version, ..Hello::new("x", None) };
        Frame::json(FrameKind::Hello, 0, &h).write_to(&mut input).unwrap();
        feed(&input)?;
    }
}
