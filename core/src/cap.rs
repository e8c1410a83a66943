//! Capping output for models (MCP tools, the Code Interpreter server): keep
//! the first and the last `keep` bytes of a stream, drop the middle, and say
//! plainly what was dropped. A traceback at the end survives the cut.
//!
//! [`HeadTail`] works incrementally, so an exec whose output runs to
//! gigabytes still holds only `2 * keep` bytes here.

use std::collections::VecDeque;

/// How much of the start and of the end of each stream a model sees.
pub const MODEL_KEEP: usize = 16 * 1024;

/// The first `keep` and the last `keep` bytes of a stream, and its length.
#[derive(Debug, Clone)]
pub struct HeadTail {
    keep: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
    /// The producer dropped what came after `total` bytes (the agent's
    /// `max_output`), so the "tail" kept here is not the stream's real end.
    tail_lost: bool,
}

/// A stream capped for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    /// The text to show: all of it, or head + a plain note of the cut + tail.
    /// Invalid UTF-8 is replaced with U+FFFD.
    pub text: String,
    /// Length of the whole stream in bytes.
    pub total: u64,
    /// Bytes left out of `text` (0 when nothing was cut).
    pub cut: u64,
}

impl HeadTail {
    pub fn new(keep: usize) -> HeadTail {
        HeadTail { keep, head: Vec::new(), tail: VecDeque::new(), total: 0, tail_lost: false }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.head.len() < self.keep {
            let n = (self.keep - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if data.len() >= self.keep {
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.keep..]);
        } else {
            let overflow = (self.tail.len() + data.len()).saturating_sub(self.keep);
            self.tail.drain(..overflow);
            self.tail.extend(data);
        }
    }

    /// Says that the stream went on past what was pushed and the rest was
    /// dropped before it reached us (an exec's `truncated`), so the note must
    /// not call the kept tail "the last bytes".
    pub fn set_tail_lost(&mut self) {
        self.tail_lost = true;
    }

    /// Total bytes pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The last line seen so far (trimmed, at most `max` characters), for
    /// progress messages.
    pub fn last_line(&self, max: usize) -> Option<String> {
        let bytes: Vec<u8> = if self.tail.is_empty() { self.head.clone() } else { self.tail.iter().copied().collect() };
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
        let mut out: String = line.chars().take(max).collect();
        if line.chars().count() > max {
            out.push('…');
        }
        Some(out)
    }

    /// The capped text. `what` names the stream in the note ("stdout").
    pub fn finish(self, what: &str) -> Capped {
        let cut = self.total - self.head.len() as u64 - self.tail.len() as u64;
        let lost = |total: u64| {
            format!(
                "[kled: {what} went on past {total} bytes, its output limit; the rest was dropped and is not shown]"
            )
        };
        if cut == 0 {
            let mut all = self.head;
            all.extend(self.tail);
            let mut text = String::from_utf8_lossy(&all).into_owned();
            if self.tail_lost {
                text.push_str(if text.ends_with('\n') || text.is_empty() { "" } else { "\n" });
                text.push_str(&lost(self.total));
            }
            return Capped { text, total: self.total, cut: 0 };
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        // Cut on character boundaries: a split UTF-8 sequence at either edge
        // of the gap is dropped with the gap rather than shown as U+FFFD.
        let head_end = utf8_prefix_len(&self.head);
        let tail_start = utf8_suffix_start(&tail);
        let cut = cut + (self.head.len() - head_end) as u64 + tail_start as u64;
        let head = String::from_utf8_lossy(&self.head[..head_end]);
        let tail = String::from_utf8_lossy(&tail[tail_start..]);
        let (h, t, total) = (head_end, tail.len(), self.total);
        let note = if self.tail_lost {
            format!(
                "[kled cut {cut} bytes from the middle of {what}, and {what} went on past {total} bytes, its output limit, \
                 where the rest was dropped: shown are the first {h} bytes and the {t} bytes before the limit, not the real end]"
            )
        } else {
            format!(
                "[kled cut {cut} bytes from the middle of {what}: it was {total} bytes; shown are the first {h} and the last {t} bytes]"
            )
        };
        let text = format!(
            "{head}{}{note}{}{tail}",
            if head.ends_with('\n') { "" } else { "\n" },
            if tail.starts_with('\n') { "" } else { "\n" },
        );
        Capped { text, total: self.total, cut }
    }
}

/// Caps a whole buffer at once.
pub fn cap(data: &[u8], keep: usize, what: &str) -> Capped {
    let mut ht = HeadTail::new(keep);
    ht.push(data);
    ht.finish(what)
}

/// Length of `b` without a trailing incomplete UTF-8 sequence.
fn utf8_prefix_len(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Ok(_) => b.len(),
        // error_len None: the input ended inside a sequence.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => {
            // Invalid bytes elsewhere (binary output): trim at most 3 bytes of
            // a started sequence at the very end.
            let mut end = b.len();
            for i in (b.len().saturating_sub(3)..b.len()).rev() {
                if b[i] & 0xC0 == 0xC0 {
                    end = i;
                    break;
                }
                if b[i] & 0x80 == 0 {
                    break;
                }
            }
            end
        }
    }
}

/// Index of the first byte of `b` that does not continue a sequence begun
/// before `b` (at most 3 continuation bytes are skipped).
fn utf8_suffix_start(b: &[u8]) -> usize {
    b.iter().take(3).take_while(|&&c| c & 0xC0 == 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_streams_pass_through() {
        let c = cap(b"hello\n", 16, "stdout");
        assert_eq!(c, Capped { text: "hello\n".into(), total: 6, cut: 0 });
        let c = cap(&[b'a'; 32], 16, "stdout");
        assert_eq!((c.text.len(), c.cut), (32, 0));
    }

    #[test]
    fn long_streams_keep_head_and_tail_and_say_so() {
        let data: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let c = cap(&data, 10, "stdout");
        assert_eq!(c.total, 100);
        assert_eq!(c.cut, 80);
        assert!(c.text.starts_with("abcdefghij\n[kled cut 80 bytes from the middle of stdout: it was 100 bytes"));
        assert!(c.text.ends_with(&String::from_utf8(data[90..].to_vec()).unwrap()));
    }

    #[test]
    fn incremental_equals_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 7, 100, 4096, 20_000] {
            let mut ht = HeadTail::new(300);
            for piece in data.chunks(chunk) {
                ht.push(piece);
            }
            assert_eq!(ht.finish("x"), cap(&data, 300, "x"), "chunk {chunk}");
        }
    }

    #[test]
    fn cuts_on_character_boundaries() {
        let s = "é".repeat(50); // 100 bytes of 2-byte characters
        let c = cap(s.as_bytes(), 11, "stderr");
        assert!(!c.text.contains('\u{FFFD}'), "{}", c.text);
        assert!(c.text.starts_with("ééééé\n"));
        assert!(c.text.ends_with("\nééééé"));
        assert_eq!(c.cut, 100 - 10 - 10);
    }

    #[test]
    fn a_stream_cut_at_its_source_does_not_claim_its_end() {
        let data: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let mut ht = HeadTail::new(10);
        ht.push(&data);
        ht.set_tail_lost();
        let c = ht.finish("stdout");
        assert!(c.text.contains("went on past 100 bytes, its output limit"), "{}", c.text);
        assert!(c.text.contains("not the real end") && !c.text.contains("the last 10"), "{}", c.text);
        let mut short = HeadTail::new(10);
        short.push(b"abc");
        short.set_tail_lost();
        assert_eq!(
            short.finish("stderr").text,
            "abc\n[kled: stderr went on past 3 bytes, its output limit; the rest was dropped and is not shown]"
        );
    }

    #[test]
    fn last_line() {
        let mut ht = HeadTail::new(8);
        ht.push(b"one\ntwo\nthree\n\n");
        assert_eq!(ht.last_line(80).as_deref(), Some("three"));
        assert_eq!(ht.last_line(2).as_deref(), Some("th…"));
        assert_eq!(HeadTail::new(8).last_line(10), None);
    }
}
