//! The QUIC framing: a pure codec over bytes, no I/O, shared by the gateway
//! and the SDK so both ends agree byte for byte.
//!
//! A QUIC call is one bidirectional stream carrying one request frame from the
//! client and one response (or error) frame back. A frame is (big-endian):
//!
//! ```text
//! u32  length of everything after this field
//! u8   message kind (`MessageKind`; the numbers are forever)
//! u8   header count (at most `MAX_HEADERS`)
//! per header:
//!   u8   key length, key: 1..=64 bytes of [a-z0-9-_.] (gRPC metadata keys)
//!   u16  value length, value: printable ASCII (0x20..=0x7e), at most 4096 bytes
//! payload: the protobuf message, to the end of the frame
//! ```
//!
//! Headers carry call metadata such as W3C trace context (`traceparent`,
//! `tracestate`); the gateway hands them to the services as gRPC metadata,
//! so both transports look the same to the code behind them.
//!
//! The decoder works on partial buffers and refuses a frame as early as it
//! can: an oversized length as soon as the prefix arrives, an unknown kind as
//! soon as its byte does, so a peer can never make the other end buffer more
//! than the limit. It never panics on any input.

mod kind;

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use kind::{MessageKind, WireMessage};

use crate::v1::ErrorDetail;

/// Bytes of the length prefix.
pub const LENGTH_BYTES: usize = 4;
pub use crate::limits::{MAX_HEADER_KEY_BYTES, MAX_HEADER_VALUE_BYTES, MAX_HEADERS};
/// ALPN protocol both ends of a Stratus QUIC connection require.
pub const ALPN: &[u8] = b"stratus/1";

/// Call metadata: header keys to values, sorted, unique.
pub type Headers = BTreeMap<String, String>;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: MessageKind,
    pub headers: Headers,
    /// The protobuf-encoded message.
    pub payload: Bytes,
}

/// Why bytes are not a valid frame, or a frame cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error(
        "frame of {size} bytes exceeds the limit of {limit} bytes; send a smaller request \
         or raise the gateway's quic.max_frame_bytes"
    )]
    TooLarge { size: u64, limit: u64 },
    #[error("unknown message type {0}; the peer speaks a newer protocol or sent garbage")]
    UnknownKind(u8),
    #[error(
        "malformed frame: declared length {0} is too short to hold a message type and header count"
    )]
    TooShort(u32),
    #[error("malformed frame: header {index} runs past the end of the frame")]
    HeaderOverrun { index: usize },
    #[error("malformed frame: {count} headers, at most {MAX_HEADERS} allowed")]
    TooManyHeaders { count: usize },
    #[error(
        "malformed frame: header key {key:?} must be 1 to {MAX_HEADER_KEY_BYTES} bytes of lowercase letters, digits, '-', '_' or '.'"
    )]
    InvalidHeaderKey { key: String },
    #[error(
        "malformed frame: header {key:?} has a value that is not printable ASCII of at most {MAX_HEADER_VALUE_BYTES} bytes"
    )]
    InvalidHeaderValue { key: String },
    #[error("malformed frame: header {key:?} appears twice")]
    DuplicateHeader { key: String },
    #[error("malformed {kind} payload: {reason}")]
    BadPayload { kind: MessageKind, reason: String },
    #[error("expected a {expected} frame, got {got}")]
    UnexpectedKind {
        expected: MessageKind,
        got: MessageKind,
    },
}

impl Frame {
    /// A frame carrying `message`.
    pub fn from_message<M: WireMessage>(message: &M, headers: Headers) -> Self {
        Self {
            kind: M::KIND,
            headers,
            payload: message.encode_to_vec().into(),
        }
    }

    /// An error frame with a gRPC status code and a message saying what to do.
    pub fn error(code: i32, message: impl Into<String>) -> Self {
        Self::from_message(
            &ErrorDetail {
                code,
                message: message.into(),
            },
            Headers::new(),
        )
    }

    /// A frame carrying `message` on an ordered produce stream; `None` for a
    /// message that does not travel on one.
    pub fn from_stream_message<M: WireMessage>(message: &M, headers: Headers) -> Option<Self> {
        Some(Self {
            kind: M::STREAM_KIND?,
            headers,
            payload: message.encode_to_vec().into(),
        })
    }

    /// The payload decoded as `M`; refuses a frame of another kind (a frame of
    /// `M`'s stream kind is `M` too).
    pub fn message<M: WireMessage>(&self) -> Result<M, FrameError> {
        if self.kind != M::KIND && Some(self.kind) != M::STREAM_KIND {
            return Err(FrameError::UnexpectedKind {
                expected: M::KIND,
                got: self.kind,
            });
        }
        M::decode(self.payload.as_ref()).map_err(|e| FrameError::BadPayload {
            kind: self.kind,
            reason: e.to_string(),
        })
    }

    /// Bytes this frame takes on the wire, length prefix included.
    pub fn encoded_len(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| 1 + k.len() + 2 + v.len())
            .sum();
        LENGTH_BYTES + 2 + headers + self.payload.len()
    }

    /// Appends the frame to `dst`. Fails, writing nothing, on headers the
    /// decoder would refuse or a frame whose length does not fit the prefix.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), FrameError> {
        if self.headers.len() > MAX_HEADERS {
            return Err(FrameError::TooManyHeaders {
                count: self.headers.len(),
            });
        }
        for (key, value) in &self.headers {
            check_header(key, value)?;
        }
        let body = self.encoded_len() - LENGTH_BYTES;
        let length = u32::try_from(body).map_err(|_| FrameError::TooLarge {
            size: self.encoded_len() as u64,
            limit: u64::from(u32::MAX),
        })?;
        dst.reserve(self.encoded_len());
        dst.put_u32(length);
        dst.put_u8(self.kind as u8);
        dst.put_u8(self.headers.len() as u8);
        for (key, value) in &self.headers {
            dst.put_u8(key.len() as u8);
            dst.put_slice(key.as_bytes());
            dst.put_u16(value.len() as u16);
            dst.put_slice(value.as_bytes());
        }
        dst.put_slice(&self.payload);
        Ok(())
    }

    /// The frame's bytes.
    pub fn to_bytes(&self) -> Result<Bytes, FrameError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }
}

/// Takes one frame off the front of `buf` if it is complete.
///
/// `Ok(None)` means more bytes are needed (and `buf` is untouched). A frame
/// whose total size, prefix included, exceeds `max_frame_bytes`, or whose kind
/// is unknown, is refused as soon as enough bytes are present to tell. After
/// an error the stream is out of sync: the caller must abandon it.
pub fn decode(buf: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<Frame>, FrameError> {
    if buf.len() < LENGTH_BYTES {
        return Ok(None);
    }
    let length = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let size = LENGTH_BYTES as u64 + u64::from(length);
    if size > max_frame_bytes as u64 {
        return Err(FrameError::TooLarge {
            size,
            limit: max_frame_bytes as u64,
        });
    }
    if length < 2 {
        return Err(FrameError::TooShort(length));
    }
    let kind_byte = match buf.get(LENGTH_BYTES) {
        Some(byte) => *byte,
        None => return Ok(None),
    };
    let kind = MessageKind::from_u8(kind_byte).ok_or(FrameError::UnknownKind(kind_byte))?;
    if (buf.len() as u64) < size {
        return Ok(None);
    }
    let mut body = buf.split_to(size as usize).freeze();
    body.advance(LENGTH_BYTES + 1);
    let headers = decode_headers(&mut body)?;
    Ok(Some(Frame {
        kind,
        headers,
        payload: body,
    }))
}

/// Reads the header count and headers off the front of `body`.
fn decode_headers(body: &mut Bytes) -> Result<Headers, FrameError> {
    let count = usize::from(body.get_u8());
    if count > MAX_HEADERS {
        return Err(FrameError::TooManyHeaders { count });
    }
    let mut headers = Headers::new();
    for index in 0..count {
        let overrun = FrameError::HeaderOverrun { index };
        let key_len = usize::from(*body.first().ok_or_else(|| overrun.clone())?);
        if body.len() < 1 + key_len + 2 {
            return Err(overrun);
        }
        let key = String::from_utf8_lossy(&body[1..1 + key_len]).into_owned();
        let value_len = usize::from(u16::from_be_bytes([body[1 + key_len], body[2 + key_len]]));
        let start = 3 + key_len;
        if body.len() < start + value_len {
            return Err(overrun);
        }
        let value = String::from_utf8_lossy(&body[start..start + value_len]).into_owned();
        check_header(&key, &value)?;
        if headers.contains_key(&key) {
            return Err(FrameError::DuplicateHeader { key });
        }
        headers.insert(key, value);
        body.advance(start + value_len);
    }
    Ok(headers)
}

/// Keys are valid gRPC metadata keys (not `-bin`-suffixed binary ones) and
/// values printable ASCII, so every header can become gRPC metadata as is.
/// Lossy UTF-8 decoding above is safe because anything non-ASCII fails here.
fn check_header(key: &str, value: &str) -> Result<(), FrameError> {
    let key_ok = (1..=MAX_HEADER_KEY_BYTES).contains(&key.len())
        && key
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'))
        && !key.ends_with("-bin");
    if !key_ok {
        return Err(FrameError::InvalidHeaderKey {
            key: key.to_owned(),
        });
    }
    let value_ok =
        value.len() <= MAX_HEADER_VALUE_BYTES && value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !value_ok {
        return Err(FrameError::InvalidHeaderValue {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
