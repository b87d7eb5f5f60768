use super::*;
use crate::v1::{ErrorDetail, FetchRequest};

fn traceparent() -> Headers {
    Headers::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )])
}

/// The bytes of a frame, pinned: deployed peers depend on them.
#[test]
fn frame_bytes_are_stable() {
    let frame = Frame {
        kind: MessageKind::ListTopicsRequest,
        headers: Headers::from([("k".to_owned(), "v1".to_owned())]),
        payload: Bytes::from_static(&[0xaa, 0xbb]),
    };
    let bytes = frame.to_bytes().unwrap();
    assert_eq!(
        bytes.as_ref(),
        &[
            0, 0, 0, 10, // length after the prefix
            5,  // ListTopicsRequest
            1,  // one header
            1, b'k', 0, 2, b'v', b'1', // key, value
            0xaa, 0xbb, // payload
        ]
    );
    assert_eq!(frame.encoded_len(), bytes.len());
}

#[test]
fn round_trips_a_message_with_trace_context() {
    let request = FetchRequest {
        topic: "orders".into(),
        partition: 3,
        offset: 42,
        max_bytes: 1024,
        max_wait_ms: 5,
    };
    let frame = Frame::from_message(&request, traceparent());
    let mut buf = BytesMut::from(frame.to_bytes().unwrap().as_ref());
    let decoded = decode(&mut buf, 1 << 20).unwrap().unwrap();
    assert!(buf.is_empty());
    assert_eq!(decoded, frame);
    assert_eq!(decoded.message::<FetchRequest>().unwrap(), request);
    assert_eq!(
        decoded.message::<ErrorDetail>().unwrap_err(),
        FrameError::UnexpectedKind {
            expected: MessageKind::Error,
            got: MessageKind::FetchRequest
        }
    );
}

#[test]
fn partial_buffers_wait_for_more() {
    let bytes = Frame::error(5, "topic \"x\" not found").to_bytes().unwrap();
    for cut in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(decode(&mut buf, 1 << 20), Ok(None), "cut at {cut}");
        assert_eq!(buf.len(), cut, "a partial frame is left in place");
    }
    // Two frames back to back come off one at a time.
    let mut buf = BytesMut::from(&bytes[..]);
    buf.extend_from_slice(&bytes);
    assert!(decode(&mut buf, 1 << 20).unwrap().is_some());
    let second = decode(&mut buf, 1 << 20).unwrap().unwrap();
    assert_eq!(second.message::<ErrorDetail>().unwrap().code, 5);
    assert!(buf.is_empty());
}

#[test]
fn oversized_frames_are_refused_from_the_prefix_alone() {
    let mut buf = BytesMut::from(&[0u8, 0, 4, 0][..]);
    assert_eq!(
        decode(&mut buf, 1024),
        Err(FrameError::TooLarge {
            size: 4 + 1024,
            limit: 1024
        })
    );
    let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
    assert!(matches!(
        decode(&mut buf, usize::MAX),
        Ok(None) // within a limit this large, it simply waits
    ));
}

#[test]
fn unknown_kinds_are_refused_from_their_byte() {
    let mut buf = BytesMut::from(&[0u8, 0, 0, 100, 200][..]);
    assert_eq!(decode(&mut buf, 1024), Err(FrameError::UnknownKind(200)));
    let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 0, 0][..]);
    assert_eq!(decode(&mut buf, 1024), Err(FrameError::UnknownKind(0)));
}

#[test]
fn malformed_frames_say_what_is_wrong() {
    let cases: Vec<(&[u8], FrameError)> = vec![
        (&[0, 0, 0, 1, 9], FrameError::TooShort(1)),
        (
            &[0, 0, 0, 3, 9, 1, 5],
            FrameError::HeaderOverrun { index: 0 },
        ),
        (
            &[0, 0, 0, 7, 9, 1, 1, b'k', 0, 9, b'v'],
            FrameError::HeaderOverrun { index: 0 },
        ),
        (
            &[0, 0, 0, 2, 9, 17],
            FrameError::TooManyHeaders { count: 17 },
        ),
        (
            &[0, 0, 0, 6, 9, 1, 1, b'K', 0, 0],
            FrameError::InvalidHeaderKey { key: "K".into() },
        ),
        (
            &[0, 0, 0, 7, 9, 1, 1, b'k', 0, 1, 0x07],
            FrameError::InvalidHeaderValue { key: "k".into() },
        ),
        (
            &[0, 0, 0, 10, 9, 2, 1, b'k', 0, 0, 1, b'k', 0, 0],
            FrameError::DuplicateHeader { key: "k".into() },
        ),
    ];
    for (bytes, expected) in cases {
        let mut buf = BytesMut::from(bytes);
        assert_eq!(decode(&mut buf, 1024), Err(expected), "{bytes:?}");
    }
}

#[test]
fn bad_payloads_are_errors_not_panics() {
    let frame = Frame {
        kind: MessageKind::ProduceRequest,
        headers: Headers::new(),
        payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
    };
    let err = frame
        .message::<crate::v1::ProduceRequest>()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("malformed ProduceRequest (9) payload"),
        "{err}"
    );
}

#[test]
fn encode_refuses_what_decode_would() {
    let mut frame = Frame::error(2, "x");
    frame.headers.insert("Bad Key".into(), "v".into());
    let mut buf = BytesMut::new();
    assert!(matches!(
        frame.encode(&mut buf),
        Err(FrameError::InvalidHeaderKey { .. })
    ));
    assert!(buf.is_empty(), "nothing written on error");
    let mut frame = Frame::error(2, "x");
    frame.headers.insert("k".into(), "é".into());
    assert!(matches!(
        frame.encode(&mut buf),
        Err(FrameError::InvalidHeaderValue { .. })
    ));
    let mut frame = Frame::error(2, "x");
    frame.headers = (0..=MAX_HEADERS)
        .map(|i| (format!("h{i}"), String::new()))
        .collect();
    assert!(matches!(
        frame.encode(&mut buf),
        Err(FrameError::TooManyHeaders { count: 17 })
    ));
}
