//! Replays the fuzz corpus (kafka/fuzz/corpus/request_decode) through the
//! request decoder, with the fuzz target's checks: no panic, no abort, and
//! every accepted request re-encodes to a frame that decodes to the same
//! request. So the ordinary suite runs every seed and every committed crash.
//!
//! `write_seed_corpus` (ignored) rewrites the generated seeds.

mod support;

use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;
use stratus_kafka::versions::ADVERTISED;
use stratus_kafka::{Decoded, FrameError, decode_request};
use support::requests::requests;
use uuid::Uuid;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/request_decode")
}

/// The fuzz target's property, as a function.
fn check(data: &[u8]) -> Result<(), FrameError> {
    let Decoded::Request(request) = decode_request(Bytes::copy_from_slice(data))? else {
        return Ok(());
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
    let Decoded::Request(again) =
        decode_request(frame.freeze()).expect("a re-encoded request decodes")
    else {
        panic!("re-encoded request is not a request");
    };
    assert_eq!(again.body, request.body);
    Ok(())
}

#[test]
fn corpus_replays_without_panics() {
    let mut seen = 0;
    let mut accepted = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus directory") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if check(&bytes).is_ok() {
            accepted += 1;
        }
        // Every prefix too: truncation anywhere must be a clean error.
        for cut in 0..bytes.len() {
            let _ = check(&bytes[..cut]);
        }
        seen += 1;
    }
    assert!(
        seen >= 30,
        "only {seen} corpus files in {}",
        corpus_dir().display()
    );
    assert!(accepted >= 20, "only {accepted} corpus files decode");
}

#[test]
fn hostile_seeds_are_refused() {
    for (name, bytes) in hostile() {
        assert!(
            matches!(
                decode_request(Bytes::from(bytes)),
                Err(FrameError::Malformed { .. })
                    | Err(FrameError::TooShort { .. })
                    | Err(FrameError::UnknownApiKey { .. })
            ),
            "{name}"
        );
    }
}

/// A request header (api key, version, correlation id, client id, and the
/// tagged-field count of header v2).
fn header(key: ApiKey, version: i16) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_i16(key as i16);
    out.put_i16(version);
    out.put_i32(1);
    out.put_i16(4);
    out.put_slice(b"fuzz");
    if key.request_header_version(version) >= 2 {
        out.put_u8(0);
    }
    out
}

/// Frames that claim more than they hold.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let with = |key, version, body: &[u8]| {
        let mut h = header(key, version);
        h.put_slice(body);
        h.to_vec()
    };
    vec![
        // Metadata v12: a compact topic list of u32::MAX - 1 entries.
        (
            "compact-count-u32-max",
            with(ApiKey::Metadata, 12, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ),
        // Metadata v1: a classic topic list of i32::MAX entries.
        (
            "classic-count-i32-max",
            with(ApiKey::Metadata, 1, &i32::MAX.to_be_bytes()),
        ),
        // Produce v3: one topic, one partition, records of 2 GiB.
        ("produce-records-2gib", {
            let mut b = vec![
                0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1,
            ];
            b.extend_from_slice(&0i32.to_be_bytes());
            b.extend_from_slice(&i32::MAX.to_be_bytes());
            with(ApiKey::Produce, 3, &b)
        }),
        // Fetch v12: a compact topic list whose count never ends.
        ("varint-overlong", with(ApiKey::Fetch, 12, &[0x80; 12])),
        // DeleteTopics v4: a compact string of 2 GiB.
        (
            "compact-string-2gib",
            with(
                ApiKey::DeleteTopics,
                4,
                &[0x02, 0xff, 0xff, 0xff, 0xff, 0x07],
            ),
        ),
        // ApiVersions v3: a header claiming u32::MAX tagged fields.
        ("header-tagged-fields-huge", {
            let mut h = BytesMut::new();
            h.put_i16(ApiKey::ApiVersions as i16);
            h.put_i16(3);
            h.put_i32(1);
            h.put_i16(-1);
            h.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
            h.to_vec()
        }),
        // CreateTopics v2: one topic whose assignments claim i32::MAX entries.
        ("nested-count-i32-max", {
            let mut b = vec![0, 0, 0, 1, 0, 1, b'x', 0, 0, 0, 1, 0, 1];
            b.extend_from_slice(&i32::MAX.to_be_bytes());
            with(ApiKey::CreateTopics, 2, &b)
        }),
        (
            "negative-array",
            with(ApiKey::Metadata, 1, &(-7i32).to_be_bytes()),
        ),
        ("truncated-header", vec![0, 3, 0, 1, 0, 0, 0, 1, 0]),
        ("unknown-key", vec![0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
        ("empty", Vec::new()),
    ]
}

#[test]
#[ignore = "rewrites kafka/fuzz/corpus/request_decode; run when the seeds should change"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let orders = Uuid::from_u128(0x5712);
    for api in ADVERTISED {
        for version in [api.min, api.max] {
            for (i, request) in requests(api.key, version, orders).iter().enumerate() {
                let frame = support::request_frame(api.key, version, 7, request);
                let name = format!("{:?}-v{version}-{i}", api.key).to_lowercase();
                std::fs::write(dir.join(name), &frame[4..]).unwrap();
            }
        }
    }
    for (name, bytes) in hostile() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    // ApiVersions at a version we do not know: answered by the fallback.
    std::fs::write(
        dir.join("apiversions-v99"),
        [0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff, 0],
    )
    .unwrap();
}
