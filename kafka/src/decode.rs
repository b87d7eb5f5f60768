//! Request frames to typed requests: header, version check against
//! [`crate::versions`], body decoded by kafka-protocol through the count
//! guard ([`guard`]).
//!
//! Pure functions over bytes: no I/O, no broker, no allocation sized by the
//! frame's own claims. Anything this module refuses closes the connection,
//! as Kafka does; it never builds an error response itself.

pub(crate) mod guard;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

use crate::limits::{MAX_CONTROL_FRAME_BYTES, MIN_REQUEST_BYTES};
use crate::versions;
use guard::{Guarded, Pass};

/// A decoded request frame.
#[derive(Debug)]
pub enum Decoded {
    /// A request of an advertised API at an advertised version.
    Request(Box<Request>),
    /// ApiVersions at a version newer than any we know: answered in v0 with
    /// UNSUPPORTED_VERSION and our ranges, so the client can retry lower.
    /// Its body is not decoded (a newer version's layout is unknown).
    ApiVersionsFallback {
        /// Correlation id to answer with.
        correlation_id: i32,
    },
}

/// A request ready for its handler.
#[derive(Debug)]
pub struct Request {
    /// The request header as sent.
    pub header: RequestHeader,
    /// Its API.
    pub api_key: ApiKey,
    /// Its version, advertised by us.
    pub version: i16,
    /// The decoded body.
    pub body: RequestKind,
}

/// A frame that is not a request we answer. The connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Too short to hold the api key, version and correlation id.
    #[error("frame of {len} bytes is shorter than a request header ({MIN_REQUEST_BYTES} bytes)")]
    TooShort {
        /// Frame length.
        len: usize,
    },
    /// An api key Kafka does not define.
    #[error("unknown api key {key} (correlation id {correlation_id})")]
    UnknownApiKey {
        /// The key sent.
        key: i16,
        /// Correlation id sent.
        correlation_id: i32,
    },
    /// An API or version we do not advertise; clients must follow ApiVersions.
    #[error(
        "{key:?} v{version} is not served (correlation id {correlation_id}); the client must pick versions from ApiVersions"
    )]
    UnsupportedVersion {
        /// The API.
        key: ApiKey,
        /// The version sent.
        version: i16,
        /// Correlation id sent.
        correlation_id: i32,
    },
    /// A request other than Produce larger than any real one.
    #[error(
        "{key:?} request of {len} bytes exceeds the {MAX_CONTROL_FRAME_BYTES}-byte limit of requests without records"
    )]
    ControlFrameTooLarge {
        /// The API.
        key: ApiKey,
        /// Frame length.
        len: usize,
    },
    /// The header or body does not decode.
    #[error("malformed {key:?} v{version} request (correlation id {correlation_id}): {reason}")]
    Malformed {
        /// The API.
        key: ApiKey,
        /// The version sent.
        version: i16,
        /// Correlation id sent.
        correlation_id: i32,
        /// What the codec or the guard refused.
        reason: String,
    },
}

/// Decodes one request frame (size prefix already removed). Never panics and
/// never allocates more than the frame can back; see [`guard`].
pub fn decode_request(frame: Bytes) -> Result<Decoded, FrameError> {
    if frame.len() < MIN_REQUEST_BYTES {
        return Err(FrameError::TooShort { len: frame.len() });
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(raw_key).map_err(|()| FrameError::UnknownApiKey {
        key: raw_key,
        correlation_id,
    })?;
    if !versions::is_advertised(key, version) {
        let newer_api_versions = key == ApiKey::ApiVersions
            && versions::advertised(key).is_some_and(|r| version > r.max);
        if newer_api_versions {
            return Ok(Decoded::ApiVersionsFallback { correlation_id });
        }
        return Err(FrameError::UnsupportedVersion {
            key,
            version,
            correlation_id,
        });
    }
    if key != ApiKey::Produce && frame.len() > MAX_CONTROL_FRAME_BYTES as usize {
        return Err(FrameError::ControlFrameTooLarge {
            key,
            len: frame.len(),
        });
    }
    let malformed = |reason: String| FrameError::Malformed {
        key,
        version,
        correlation_id,
        reason,
    };
    // The header has no classic (i32-counted) lists, so one exact pass is safe.
    let mut buf = Guarded::new(frame, Pass::Exact);
    let header = RequestHeader::decode(&mut buf, key.request_header_version(version))
        .map_err(|e| malformed(explain("header", &e.to_string(), &buf)))?;
    let body = decode_body(key, version, buf.into_rest()).map_err(malformed)?;
    Ok(Decoded::Request(Box::new(Request {
        header,
        api_key: key,
        version,
        body,
    })))
}

/// Decodes a body in a screening pass, then (only if the screen replaced
/// anything) an exact pass; see [`guard`].
fn decode_body(key: ApiKey, version: i16, body: Bytes) -> Result<RequestKind, String> {
    let mut screen = Guarded::new(body.clone(), Pass::Screen);
    match decode_kind(key, version, &mut screen) {
        Ok(kind) if screen.replaced == 0 => return Ok(kind),
        Ok(_) => {}
        Err(e) => {
            let mut reason = explain("body", &e, &screen);
            if screen.replaced > 0 {
                reason.push_str("; or a count or length exceeds the bytes left");
            }
            return Err(reason);
        }
    }
    let mut exact = Guarded::new(body, Pass::Exact);
    decode_kind(key, version, &mut exact).map_err(|e| explain("body", &e, &exact))
}

fn explain(part: &str, codec: &str, buf: &Guarded) -> String {
    match &buf.violation {
        Some(v) => format!("{part}: {v}"),
        None => format!("{part}: {codec}"),
    }
}

fn decode_as<T: Decodable>(buf: &mut Guarded, version: i16) -> Result<T, String> {
    T::decode(buf, version).map_err(|e| format!("{e:#}"))
}

/// The body decoder of every advertised API. A key missing here fails the
/// versions test, so an advertised API always decodes.
fn decode_kind(key: ApiKey, version: i16, buf: &mut Guarded) -> Result<RequestKind, String> {
    use RequestKind as K;
    Ok(match key {
        ApiKey::Produce => K::Produce(decode_as(buf, version)?),
        ApiKey::Fetch => K::Fetch(decode_as(buf, version)?),
        ApiKey::ListOffsets => K::ListOffsets(decode_as(buf, version)?),
        ApiKey::Metadata => K::Metadata(decode_as(buf, version)?),
        ApiKey::ApiVersions => K::ApiVersions(decode_as(buf, version)?),
        ApiKey::CreateTopics => K::CreateTopics(decode_as(buf, version)?),
        ApiKey::DeleteTopics => K::DeleteTopics(decode_as(buf, version)?),
        ApiKey::DeleteRecords => K::DeleteRecords(decode_as(buf, version)?),
        ApiKey::InitProducerId => K::InitProducerId(decode_as(buf, version)?),
        ApiKey::OffsetForLeaderEpoch => K::OffsetForLeaderEpoch(decode_as(buf, version)?),
        ApiKey::DescribeConfigs => K::DescribeConfigs(decode_as(buf, version)?),
        ApiKey::CreatePartitions => K::CreatePartitions(decode_as(buf, version)?),
        ApiKey::IncrementalAlterConfigs => K::IncrementalAlterConfigs(decode_as(buf, version)?),
        ApiKey::DescribeCluster => K::DescribeCluster(decode_as(buf, version)?),
        ApiKey::FindCoordinator => K::FindCoordinator(decode_as(buf, version)?),
        ApiKey::JoinGroup => K::JoinGroup(decode_as(buf, version)?),
        ApiKey::SyncGroup => K::SyncGroup(decode_as(buf, version)?),
        ApiKey::Heartbeat => K::Heartbeat(decode_as(buf, version)?),
        ApiKey::LeaveGroup => K::LeaveGroup(decode_as(buf, version)?),
        ApiKey::OffsetCommit => K::OffsetCommit(decode_as(buf, version)?),
        ApiKey::OffsetFetch => K::OffsetFetch(decode_as(buf, version)?),
        ApiKey::DescribeGroups => K::DescribeGroups(decode_as(buf, version)?),
        ApiKey::ListGroups => K::ListGroups(decode_as(buf, version)?),
        ApiKey::DeleteGroups => K::DeleteGroups(decode_as(buf, version)?),
        ApiKey::OffsetDelete => K::OffsetDelete(decode_as(buf, version)?),
        ApiKey::ConsumerGroupHeartbeat => K::ConsumerGroupHeartbeat(decode_as(buf, version)?),
        ApiKey::ConsumerGroupDescribe => K::ConsumerGroupDescribe(decode_as(buf, version)?),
        ApiKey::SaslHandshake => K::SaslHandshake(decode_as(buf, version)?),
        ApiKey::SaslAuthenticate => K::SaslAuthenticate(decode_as(buf, version)?),
        ApiKey::DescribeUserScramCredentials => {
            K::DescribeUserScramCredentials(decode_as(buf, version)?)
        }
        ApiKey::AlterUserScramCredentials => K::AlterUserScramCredentials(decode_as(buf, version)?),
        other => return Err(format!("no decoder for {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_unknown_frames_are_refused() {
        assert_eq!(
            decode_request(Bytes::from_static(&[0, 18, 0])).unwrap_err(),
            FrameError::TooShort { len: 3 }
        );
        let unknown = Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 9]);
        assert_eq!(
            decode_request(unknown).unwrap_err(),
            FrameError::UnknownApiKey {
                key: 0x7f7f,
                correlation_id: 9
            }
        );
    }

    #[test]
    fn newer_api_versions_falls_back() {
        let frame = Bytes::from_static(&[0, 18, 0, 99, 0, 0, 0, 5, 0xff, 0xff]);
        assert!(matches!(
            decode_request(frame),
            Ok(Decoded::ApiVersionsFallback { correlation_id: 5 })
        ));
    }

    #[test]
    fn unadvertised_version_is_refused() {
        // Produce v2: older than we serve.
        let frame = Bytes::from_static(&[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff]);
        assert!(matches!(
            decode_request(frame),
            Err(FrameError::UnsupportedVersion { version: 2, .. })
        ));
    }
}
