//! Feeds arbitrary bytes to the QUIC frame decoder, split where the input
//! says, under a limit the input chooses. The decoder must never panic, never
//! return a frame over the limit, and every frame it returns must re-encode
//! to bytes that decode to the same frame.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use stratus_proto::frame;

fuzz_target!(|data: &[u8]| {
    let Some((&[limit_hi, limit_lo, split], bytes)) = data.split_first_chunk::<3>() else {
        return;
    };
    let limit = usize::from(u16::from_be_bytes([limit_hi, limit_lo]));
    let split = usize::from(split).max(1);
    let mut buf = BytesMut::new();
    for piece in bytes.chunks(split) {
        buf.extend_from_slice(piece);
        loop {
            match frame::decode(&mut buf, limit) {
                Ok(Some(frame)) => {
                    assert!(frame.encoded_len() <= limit);
                    let again = frame.to_bytes().expect("a decoded frame re-encodes");
                    let mut copy = BytesMut::from(again.as_ref());
                    assert_eq!(frame::decode(&mut copy, limit), Ok(Some(frame)));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
