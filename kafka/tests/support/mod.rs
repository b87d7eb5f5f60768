//! What the listener's tests share: the in-memory broker, and a client side
//! that encodes requests and decodes responses with kafka-protocol.

#![allow(dead_code, unreachable_pub)]

pub mod fake;
pub mod requests;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use stratus_kafka::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub use fake::FakeBroker;

/// A request frame, size prefix included.
pub fn request_frame(key: ApiKey, version: i16, correlation_id: i32, body: &RequestKind) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("stratus-test")));
    let mut out = BytesMut::new();
    out.put_i32(0);
    header
        .encode(&mut out, key.request_header_version(version))
        .unwrap();
    body.encode(&mut out, version)
        .unwrap_or_else(|e| panic!("encoding {key:?} v{version}: {e:#}"));
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// The body of a frame: size prefix removed.
pub fn body(frame: &Bytes) -> Bytes {
    let len = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4, "size prefix does not match the frame");
    frame.slice(4..)
}

/// Decodes a response frame (size prefix included): correlation id, body.
pub fn parse_response(key: ApiKey, version: i16, frame: &Bytes) -> (i32, ResponseKind) {
    let mut rest = body(frame);
    let header = ResponseHeader::decode(&mut rest, key.response_header_version(version))
        .unwrap_or_else(|e| panic!("{key:?} v{version} response header: {e:#}"));
    let response = ResponseKind::decode(key, &mut rest, version)
        .unwrap_or_else(|e| panic!("{key:?} v{version} response: {e:#}"));
    assert!(
        !rest.has_remaining(),
        "{key:?} v{version}: {} bytes left over",
        rest.remaining()
    );
    (header.correlation_id, response)
}

pub fn session(broker: &Arc<FakeBroker>) -> Session<FakeBroker> {
    Session::new(
        Arc::clone(broker),
        SessionOptions {
            auto_create_topics: false,
            default_partitions: 3,
            client_zone: None,
        },
    )
}

/// Sends one request through a session (no sockets) and returns its reply.
pub async fn call(session: &mut Session<FakeBroker>, frame: &Bytes) -> Reply {
    let call = session.handle_frame(body(frame)).expect("request decodes");
    call.admit().await.await
}

/// One request, one decoded response.
pub async fn ask(
    session: &mut Session<FakeBroker>,
    key: ApiKey,
    version: i16,
    request: RequestKind,
) -> ResponseKind {
    let frame = request_frame(key, version, 42, &request);
    match call(session, &frame).await {
        Reply::Frame(frame) => {
            let (correlation_id, response) = parse_response(key, version, &frame);
            assert_eq!(correlation_id, 42);
            response
        }
        other => panic!("{key:?} v{version}: expected a response, got {other:?}"),
    }
}

pub fn limits() -> ConnectionLimits {
    ConnectionLimits {
        max_frame_bytes: 1024 * 1024,
        max_in_flight_requests: 8,
        max_in_flight_bytes: 8 * 1024 * 1024,
        idle_timeout: Duration::from_secs(5),
    }
}

/// A connection served over an in-memory pipe: the client's end, and the
/// task that reports how the connection ended.
pub fn connect(
    broker: &Arc<FakeBroker>,
    limits: ConnectionLimits,
) -> (DuplexStream, tokio::task::JoinHandle<ConnectionEnd>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let served = tokio::spawn(serve_connection(server, session(broker), limits));
    (client, served)
}

/// Reads one response frame (size prefix included); `None` at EOF.
pub async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> Option<Bytes> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix).await.ok()?;
    let len = i32::from_be_bytes(prefix) as usize;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&prefix);
    reader.read_exact(&mut frame[4..]).await.ok()?;
    Some(Bytes::from(frame))
}

pub async fn send<W: AsyncWriteExt + Unpin>(writer: &mut W, frame: &[u8]) {
    writer.write_all(frame).await.unwrap();
}

/// A Metadata request for these topics (None: all).
pub fn metadata(topics: Option<&[&str]>) -> RequestKind {
    RequestKind::Metadata(MetadataRequest::default().with_topics(topics.map(|names| {
        names
            .iter()
            .map(|n| {
                metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string((*n).into()))))
            })
            .collect()
    })))
}

/// A Produce request: one batch of `count` records per (topic, partition).
pub fn produce(acks: i16, parts: &[(&str, i32, i32)]) -> RequestKind {
    let mut topics: Vec<produce_request::TopicProduceData> = Vec::new();
    for (topic, partition, count) in parts {
        let data = produce_request::PartitionProduceData::default()
            .with_index(*partition)
            .with_records(Some(fake::batch(*count)));
        match topics.iter_mut().find(|t| &*t.name == *topic) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(
                produce_request::TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string((*topic).into())))
                    .with_partition_data(vec![data]),
            ),
        }
    }
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(30_000)
            .with_topic_data(topics),
    )
}

pub fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.into()))
}
