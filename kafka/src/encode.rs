//! Responses to frames: size prefix, response header at the version the API
//! and request version call for, then the body encoded by kafka-protocol.
//!
//! Pure functions over bytes; this module must never decide what a response
//! says, only how it is written.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::BrokerError;
use crate::limits::FRAME_PREFIX_BYTES;
use crate::versions::ADVERTISED;

/// Encodes one response frame, size prefix included. An error is a bug (a
/// field set that the version cannot carry); the caller closes the
/// connection, since the client cannot be answered correctly.
pub(crate) fn response_frame(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, String> {
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header
        .encode(&mut out, key.response_header_version(version))
        .map_err(|e| format!("encoding the {key:?} v{version} response header: {e:#}"))?;
    body.encode(&mut out, version)
        .map_err(|e| format!("encoding the {key:?} v{version} response: {e:#}"))?;
    let len = i32::try_from(out.len() - FRAME_PREFIX_BYTES).map_err(|_| {
        format!(
            "the {key:?} v{version} response of {} bytes is too large",
            out.len()
        )
    })?;
    out[..FRAME_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
    Ok(out.freeze())
}

/// A bare SASL token with its size prefix: the answer to a token sent after
/// SaslHandshake v0, which Kafka exchanges without request headers.
pub(crate) fn raw_token_frame(token: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_PREFIX_BYTES + token.len());
    // Tokens are bounded by `MAX_SASL_TOKEN_BYTES`-sized exchanges.
    out.put_u32(u32::try_from(token.len()).unwrap_or(u32::MAX));
    out.put_slice(token);
    out.freeze()
}

/// Every advertised API as ApiVersions lists it.
pub(crate) fn api_version_list() -> Vec<ApiVersion> {
    ADVERTISED
        .iter()
        .map(|a| {
            ApiVersion::default()
                .with_api_key(a.key as i16)
                .with_min_version(a.min)
                .with_max_version(a.max)
        })
        .collect()
}

/// The answer to ApiVersions at a version newer than we know: a v0 body (the
/// one layout every client can read) with UNSUPPORTED_VERSION and our ranges,
/// under response header v0, as Kafka answers it. Clients retry at the
/// highest ApiVersions version listed.
pub(crate) fn api_versions_fallback(correlation_id: i32) -> Result<Bytes, String> {
    let body = ApiVersionsResponse::default()
        .with_error_code(BrokerError::UnsupportedVersion(String::new()).code())
        .with_api_keys(api_version_list());
    response_frame(
        ApiKey::ApiVersions,
        0,
        correlation_id,
        &ResponseKind::ApiVersions(body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_a_v0_frame() {
        let frame = api_versions_fallback(7).unwrap();
        let len = i32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(len as usize, frame.len() - 4);
        // Header v0: just the correlation id; then error code 35.
        assert_eq!(&frame[4..8], &7i32.to_be_bytes());
        assert_eq!(&frame[8..10], &35i16.to_be_bytes());
        // Then an i32 array count (v0 is not flexible) of every advertised API.
        assert_eq!(&frame[10..14], &(ADVERTISED.len() as i32).to_be_bytes());
        assert_eq!(frame.len(), 14 + ADVERTISED.len() * 6);
    }
}
