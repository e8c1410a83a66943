//! The frame format as a `tokio_util` codec, so async clients read and write
//! frames through `FramedRead`/`FramedWrite` with the same encoding and size
//! limits as the sync agent ([`Frame::decode`], [`Frame::encode_into`]).

use crate::{decode_header, Frame, FrameError, HEADER_LEN};
use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, Default, Clone, Copy)]
pub struct FrameCodec;

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(header) = src.first_chunk::<HEADER_LEN>() else { return Ok(None) };
        // The header is checked (and an oversized length refused) before
        // any room is reserved for its payload.
        let (_, _, len) = decode_header(header)?;
        if src.len() < HEADER_LEN + len {
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        let (frame, used) = Frame::decode(src)?.expect("a whole frame is buffered");
        src.advance(used);
        Ok(Some(frame))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match self.decode(src)? {
            Some(f) => Ok(Some(f)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(HEADER_LEN + frame.payload.len());
        dst.extend_from_slice(&frame.header());
        dst.extend_from_slice(&frame.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_header, FrameKind, MAX_PAYLOAD};

    #[test]
    fn codec_and_sync_encoding_agree() {
        let frames = [Frame::new(FrameKind::Stdout, 3, vec![7; 70_000]), Frame::credit(3, 42)];
        let mut wire = BytesMut::new();
        for f in frames.clone() {
            FrameCodec.encode(f, &mut wire).unwrap();
        }
        let sync: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        assert_eq!(&wire[..], &sync[..]);
        // Fed a byte at a time, the decoder yields the same frames.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in sync {
            buf.extend_from_slice(&[b]);
            while let Some(f) = FrameCodec.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn limits_and_truncation() {
        let mut huge = BytesMut::from(&encode_header(FrameKind::Data, 1, MAX_PAYLOAD + 1)[..]);
        assert!(matches!(FrameCodec.decode(&mut huge), Err(FrameError::Malformed(_))));
        let mut half = BytesMut::from(&Frame::new(FrameKind::Data, 1, vec![1, 2, 3]).encode()[..10]);
        assert!(matches!(FrameCodec.decode_eof(&mut half), Err(FrameError::Truncated)));
        assert!(FrameCodec.decode_eof(&mut BytesMut::new()).unwrap().is_none());
    }
}
