//! Property tests for the QUIC frame codec: every frame the encoder writes
//! decodes to itself however the bytes are split, and no input at all makes
//! the decoder panic or buffer past its limit.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use stratus_proto::frame::{self, Frame, FrameError, Headers, MAX_HEADERS, MessageKind};

fn kind() -> impl Strategy<Value = MessageKind> {
    proptest::sample::select(MessageKind::ALL.to_vec())
}

fn headers() -> impl Strategy<Value = Headers> {
    proptest::collection::btree_map("[a-z0-9._-]{1,64}", "[ -~]{0,200}", 0..=MAX_HEADERS)
        .prop_filter("-bin keys are binary gRPC metadata", |h| {
            h.keys().all(|k| !k.ends_with("-bin"))
        })
}

fn frames() -> impl Strategy<Value = Frame> {
    (
        kind(),
        headers(),
        proptest::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(|(kind, headers, payload)| Frame {
            kind,
            headers,
            payload: Bytes::from(payload),
        })
}

/// Feeds `bytes` to the decoder in pieces of the given sizes, as a stream
/// would deliver them, and collects what comes out.
fn decode_in_pieces(
    bytes: &[u8],
    pieces: &[usize],
    limit: usize,
) -> (Vec<Frame>, Option<FrameError>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = pieces.iter().cycle();
    while !rest.is_empty() {
        let take = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        loop {
            match frame::decode(&mut buf, limit) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
            // The decoder never holds more than one frame's worth waiting.
            assert!(buf.len() <= bytes.len());
        }
    }
    (frames, None)
}

proptest! {
    #[test]
    fn frames_round_trip_however_split(
        frames in proptest::collection::vec(frames(), 1..4),
        pieces in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut bytes = BytesMut::new();
        for frame in &frames {
            frame.encode(&mut bytes).unwrap();
        }
        let limit = frames.iter().map(Frame::encoded_len).max().unwrap();
        let (decoded, error) = decode_in_pieces(&bytes, &pieces, limit);
        prop_assert_eq!(error, None);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn frames_over_the_limit_are_refused(frame in frames(), short in 1usize..64) {
        let bytes = frame.to_bytes().unwrap();
        let limit = bytes.len().saturating_sub(short);
        let mut buf = BytesMut::from(&bytes[..4]);
        let refused = matches!(
            frame::decode(&mut buf, limit),
            Err(FrameError::TooLarge { size, .. }) if size == bytes.len() as u64
        );
        prop_assert!(refused);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        pieces in proptest::collection::vec(1usize..512, 1..8),
        limit in 0usize..8192,
    ) {
        let (frames, _) = decode_in_pieces(&bytes, &pieces, limit);
        for frame in frames {
            prop_assert!(frame.encoded_len() <= limit);
            // What decodes re-encodes to the same bytes.
            let again = frame.to_bytes().unwrap();
            let mut buf = BytesMut::from(again.as_ref());
            prop_assert_eq!(frame::decode(&mut buf, limit).unwrap(), Some(frame));
        }
    }

    /// Mostly-valid frames with one byte changed: the decoder returns a
    /// frame or an error, never panics.
    #[test]
    fn corrupted_frames_never_panic(frame in frames(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = frame.to_bytes().unwrap().to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        let _ = decode_in_pieces(&bytes, &[7], 1 << 20);
    }
}

/// Inputs kept from fuzzing and from bugs: each must decode or fail cleanly.
#[test]
fn regression_inputs_never_panic() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/frame_decode");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("regression directory") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for limit in [0, 16, 1024, 1 << 24] {
            let _ = decode_in_pieces(&bytes, &[1, 3, 64], limit);
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
