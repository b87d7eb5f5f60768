//! Feeds arbitrary bytes to the Kafka request decoder as one frame (size
//! prefix removed). The decoder must never panic or abort (an allocation
//! sized by a hostile count aborts the process, which libFuzzer reports),
//! and every request it accepts must re-encode, at its version, to a frame
//! that decodes to the same request.

#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::Encodable;
use libfuzzer_sys::fuzz_target;
use stratus_kafka::{Decoded, decode_request};

fuzz_target!(|data: &[u8]| {
    let Ok(Decoded::Request(request)) = decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut frame = BytesMut::new();
    request
        .header
        .encode(
            &mut frame,
            request.api_key.request_header_version(request.version),
        )
        .expect("a decoded header re-encodes");
    request
        .body
        .encode(&mut frame, request.version)
        .expect("a decoded request re-encodes");
    let Ok(Decoded::Request(again)) = decode_request(frame.freeze()) else {
        panic!(
            "a re-encoded {:?} v{} does not decode",
            request.api_key, request.version
        );
    };
    assert_eq!(again.body, request.body);
});
