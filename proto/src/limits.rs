//! Every bound of the wire schema's own codecs, in one table. The QUIC frame's
//! header bounds are part of the frame format (both ends must agree, so none
//! is a setting); the largest frame is the caller's setting
//! (`quic.max_frame_bytes` on the gateway), passed to the decoder.
//!
//! The tests at the bottom check each bound fits the field that carries it.
//! This module imports nothing of the crate.

/// Most headers a frame may carry: trace context and a few call settings,
/// not a key-value store.
pub const MAX_HEADERS: usize = 16;
/// Longest header key, as long as gRPC metadata keys usefully get.
pub const MAX_HEADER_KEY_BYTES: usize = 64;
/// Longest header value: a `tracestate` with its 32 list members fits.
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bound_fits_its_length_field() {
        // The header count and the key length are one byte, the value length two.
        const { assert!(MAX_HEADERS <= u8::MAX as usize) };
        const { assert!(MAX_HEADER_KEY_BYTES <= u8::MAX as usize) };
        const { assert!(MAX_HEADER_VALUE_BYTES <= u16::MAX as usize) };
    }

    #[test]
    fn a_frame_carries_trace_context() {
        // `traceparent` is 55 characters; W3C bounds `tracestate` at 512.
        const { assert!(MAX_HEADERS >= 2) };
        const { assert!(MAX_HEADER_VALUE_BYTES >= 512) };
        const { assert!(MAX_HEADER_KEY_BYTES >= "traceparent".len()) };
    }
}
