//! read_file and write_file. Text travels as UTF-8 and binary data as base64,
//! since tool arguments and results are JSON strings.

use crate::cap::{cap, MODEL_KEEP};
use crate::errors::{core_error, tool_error, Outcome};
use crate::params::{Encoding, ReadFileParams, WriteFileParams};
use crate::render::structured;
use crate::schema::{input_schema, output_schema};
use crate::server::KledMcp;
use crate::views::{ReadFileOutput, WriteFileOutput};
use kled::ErrorKind;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[tool_router(router = file_tools, vis = "pub(crate)")]
impl KledMcp {
    #[tool(
        description = "Read a file in a terminal. Text comes back as UTF-8 (in full up to 32 KiB, else its first \
                       and last 16 KiB with the cut stated; use offset and length to read any part), binary data \
                       as base64 (at most 32 KiB per call).",
        output_schema = output_schema::<ReadFileOutput>(),
        annotations(read_only_hint = true),
        input_schema = input_schema::<ReadFileParams>()
    )]
    async fn read_file(&self, Parameters(p): Parameters<ReadFileParams>) -> Outcome {
        let t = self.terminal(&p.terminal).await?;
        let data = t.read_file(&p.path).await.map_err(|e| core_error(&e, Some(&p.terminal)))?;
        let size = data.len() as u64;
        let offset = p.offset.unwrap_or(0).min(size);
        let end = p.length.map_or(size, |l| offset.saturating_add(l).min(size));
        let window = &data[offset as usize..end as usize];
        let (content, encoding, cut) = match std::str::from_utf8(window) {
            Ok(_) => {
                let c = cap(window, MODEL_KEEP, "the file");
                (c.text, Encoding::Utf8, c.cut)
            }
            Err(_) => {
                // Base64 cannot be cut in the middle and stay decodable: binary data is cut at the end only.
                let shown = &window[..window.len().min(2 * MODEL_KEEP)];
                (base64_encode(shown), Encoding::Base64, (window.len() - shown.len()) as u64)
            }
        };
        let mut text = match encoding {
            Encoding::Utf8 => format!("{} ({size} bytes", p.path),
            Encoding::Base64 => format!("{} ({size} bytes of binary data, shown as base64", p.path),
        };
        if offset > 0 || end < size {
            text.push_str(&format!("; bytes {offset}..{end}"));
        }
        text.push_str("):\n");
        text.push_str(&content);
        if encoding == Encoding::Base64 && cut > 0 {
            text.push_str(&format!(
                "\n[kled left out the {cut} bytes after the first {}; read them with offset {}]",
                window.len() as u64 - cut,
                offset + window.len() as u64 - cut
            ));
        }
        let out =
            ReadFileOutput { terminal: p.terminal, path: p.path, content, encoding, size, offset, cut_bytes: cut };
        Ok(structured(&out, text))
    }

    #[tool(
        description = "Write a whole file in a terminal (created or replaced atomically; parent directories are \
                       created). Content is UTF-8 text, or base64 with encoding \"base64\".",
        output_schema = output_schema::<WriteFileOutput>(),
        input_schema = input_schema::<WriteFileParams>()
    )]
    async fn write_file(&self, Parameters(p): Parameters<WriteFileParams>) -> Outcome {
        let data = match p.encoding.unwrap_or(Encoding::Utf8) {
            Encoding::Utf8 => p.content.into_bytes(),
            Encoding::Base64 => base64_decode(&p.content).map_err(|why| {
                tool_error(ErrorKind::InvalidArgument.as_str(), format!("content is not valid base64: {why}"))
            })?,
        };
        let mode = p.mode.as_deref().map(kled::file_mode::parse_octal).transpose().map_err(|e| core_error(&e, None))?;
        let t = self.terminal(&p.terminal).await?;
        t.write_file(&p.path, &data, mode).await.map_err(|e| core_error(&e, Some(&p.terminal)))?;
        let text = format!("Wrote {} bytes to {} in terminal {}.", data.len(), p.path, p.terminal);
        Ok(structured(&WriteFileOutput { terminal: p.terminal, path: p.path, bytes_written: data.len() as u64 }, text))
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Models wrap long base64 text in lines: whitespace is ignored.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128, 7]] {
            let e = base64_encode(data);
            assert_eq!(base64_decode(&e).unwrap(), data, "{e}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("Zm8").is_err());
        assert!(base64_decode("Z=m8").is_err());
        assert!(base64_decode("Zm*=").is_err());
    }
}
