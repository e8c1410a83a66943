//! The frame decoder against hostile input: arbitrary bytes, valid headers
//! with arbitrary payloads, and arbitrary JSON for every message type. It
//! must return a value or an error, never panic, never allocate past
//! MAX_PAYLOAD. Bounded (a few thousand cases) so it runs in the test command.

use kled_protocol::{decode_header, ExitInfo, Frame, FrameKind, Hello, Reply, Request, HEADER_LEN, MAX_PAYLOAD};
use proptest::prelude::*;

fn kinds() -> impl Strategy<Value = FrameKind> {
    (0u8..=255).prop_filter_map("a frame kind", FrameKind::from_u8)
}

/// JSON text built from the protocol's own field names, so the decoder's
/// deeper paths (tags, nested structs) are reached, not only "not JSON".
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let names = prop::sample::select(vec![
        "op",
        "type",
        "argv",
        "env",
        "cwd",
        "stdin",
        "timeout_ms",
        "max_output",
        "tty",
        "rows",
        "cols",
        "path",
        "target",
        "signal",
        "programs",
        "protocol",
        "version",
        "pid",
        "code",
        "bytes",
        "entries",
        "spawn",
        "info",
        "which",
        "kill",
        "read_file",
        "list_dir",
        "written",
        "ok",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
        names.clone().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map(names.clone().prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut r = &bytes[..];
        // Every frame read consumes at least a header, so this ends.
        while let Ok(Some(f)) = Frame::read_from(&mut r) {
            prop_assert!(f.payload.len() <= MAX_PAYLOAD);
        }
    }

    #[test]
    fn headers_are_checked(h in any::<[u8; HEADER_LEN]>()) {
        if let Ok((_, _, len)) = decode_header(&h) {
            prop_assert!(len <= MAX_PAYLOAD);
        }
    }

    #[test]
    fn frames_round_trip(kind in kinds(), id in any::<u32>(), payload in prop::collection::vec(any::<u8>(), 0..2048)) {
        let f = Frame::new(kind, id, payload);
        let mut buf = Vec::new();
        f.write_to(&mut buf).unwrap();
        prop_assert_eq!(Frame::read_from(&mut &buf[..]).unwrap(), Some(f));
    }

    #[test]
    fn a_frame_cut_short_is_an_error(payload in prop::collection::vec(any::<u8>(), 1..512), cut in 1usize..512) {
        let mut buf = Vec::new();
        Frame::new(FrameKind::Request, 1, payload).write_to(&mut buf).unwrap();
        let cut = cut.min(buf.len() - 1);
        prop_assert!(Frame::read_from(&mut &buf[..cut]).is_err());
    }

    #[test]
    fn any_json_payload_parses_or_fails_cleanly(v in json_value(), kind in kinds()) {
        let f = Frame::json(kind, 7, &v);
        let _ = f.parse::<Request>();
        let _ = f.parse::<Reply>();
        let _ = f.parse::<Hello>();
        let _ = f.parse::<ExitInfo>();
    }

    #[test]
    fn any_bytes_payload_parses_or_fails_cleanly(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let f = Frame::new(FrameKind::Request, 1, payload);
        let _ = f.parse::<Request>();
        let _ = f.parse::<Reply>();
    }
}
