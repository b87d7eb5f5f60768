//! The QUIC endpoint against a raw quinn client: calls behave exactly as over
//! gRPC, and malformed, oversized, truncated and unknown frames get an error
//! frame that closes their stream only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quinn::{Connection, Endpoint};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use stratus_gateway::{
    Gateway, GatewayConfig, GatewayHandle, QuicConfig, StartError, self_signed_in,
};
use stratus_meta::memory::MemoryMetaStore;
use stratus_proto::frame::{self, ALPN, Frame, Headers, MessageKind, WireMessage};
use stratus_proto::v1::admin_client::AdminClient;
use stratus_proto::v1::{
    CreateTopicRequest, CreateTopicResponse, DescribeTopicRequest, ErrorDetail, FetchRequest,
    FetchResponse, ListTopicsRequest, ListTopicsResponse, PartitionRecords, ProduceRequest,
    ProduceResponse, Record,
};
use stratus_storage::log::{Log, LogConfig};
use tonic::Code;

struct Setup {
    gateway: GatewayHandle,
    cert: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn start(quic: QuicConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed_in(dir.path()).unwrap();
    let config = GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        quic: QuicConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            cert: files.cert.clone(),
            key: files.key,
            ..quic
        },
        ..GatewayConfig::default()
    };
    let wal = stratus_tier::open_tier("memory://").unwrap();
    let log = Log::new(Arc::new(MemoryMetaStore::new()), wal, &LogConfig::default());
    let gateway = Gateway::start(config, Arc::new(log)).await.unwrap();
    Setup {
        gateway,
        cert: files.cert,
        _dir: dir,
    }
}

fn client_config(cert: &std::path::Path, alpn: &[u8]) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    quinn::ClientConfig::new(Arc::new(crypto))
}

async fn connect_with(setup: &Setup, config: quinn::ClientConfig) -> Result<Connection, String> {
    let mut endpoint = Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    endpoint.set_default_client_config(config);
    let addr = setup.gateway.quic_addr().expect("QUIC is enabled");
    endpoint
        .connect(addr, "localhost")
        .unwrap()
        .await
        .map_err(|e| e.to_string())
}

async fn connect(setup: &Setup) -> Connection {
    connect_with(setup, client_config(&setup.cert, ALPN))
        .await
        .unwrap()
}

/// Sends raw bytes as one call and returns the one frame that answers it.
async fn call_raw(connection: &Connection, bytes: &[u8]) -> Frame {
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    // The gateway may refuse the request (STOP_SENDING) before all of it is
    // written; the answer still comes.
    let _ = send.write_all(bytes).await;
    let _ = send.finish();
    read_answer(&mut recv).await
}

async fn read_answer(recv: &mut quinn::RecvStream) -> Frame {
    let answer = recv.read_to_end(64 << 20).await.unwrap();
    let mut buf = BytesMut::from(&answer[..]);
    let frame = frame::decode(&mut buf, 64 << 20)
        .unwrap()
        .expect("a whole frame");
    assert!(buf.is_empty(), "one frame per answer");
    frame
}

async fn call<Req: WireMessage, Resp: WireMessage>(
    connection: &Connection,
    request: &Req,
) -> Result<Resp, ErrorDetail> {
    let bytes = Frame::from_message(request, Headers::new())
        .to_bytes()
        .unwrap();
    let answer = call_raw(connection, &bytes).await;
    match answer.kind {
        MessageKind::Error => Err(answer.message().unwrap()),
        _ => Ok(answer.message().unwrap()),
    }
}

fn produce_request(topic: &str, values: &[&str]) -> ProduceRequest {
    ProduceRequest {
        topic: topic.to_owned(),
        partitions: vec![PartitionRecords {
            base_sequence: None,
            record_batch: Default::default(),
            partition: 0,
            records: values
                .iter()
                .map(|v| Record {
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                    ..Record::default()
                })
                .collect(),
        }],
        ..ProduceRequest::default()
    }
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: u32) -> FetchRequest {
    FetchRequest {
        topic: topic.to_owned(),
        partition: 0,
        offset,
        max_bytes: 1 << 20,
        max_wait_ms,
    }
}

/// Creates `topic` with `partitions` partitions over `connection`.
async fn create_topic(
    connection: &Connection,
    topic: &str,
    partitions: u32,
) -> CreateTopicResponse {
    call(
        connection,
        &CreateTopicRequest {
            name: topic.into(),
            partitions,
            config: None,
        },
    )
    .await
    .unwrap()
}

/// Opens a stream holding a long poll at the start of `topic`'s empty
/// partition 0; its answer comes once something is produced there.
async fn open_long_poll(connection: &Connection, topic: &str) -> quinn::RecvStream {
    let (mut send, recv) = connection.open_bi().await.unwrap();
    let bytes = Frame::from_message(&fetch_request(topic, 0, 30_000), Headers::new())
        .to_bytes()
        .unwrap();
    send.write_all(&bytes).await.unwrap();
    send.finish().unwrap();
    recv
}

#[tokio::test]
async fn calls_behave_as_over_grpc() {
    let setup = start(QuicConfig::default()).await;
    let connection = connect(&setup).await;
    let created = create_topic(&connection, "orders", 2).await;
    assert_eq!(created.topic.unwrap().partitions.len(), 2);
    let acked: ProduceResponse = call(&connection, &produce_request("orders", &["a", "b"]))
        .await
        .unwrap();
    assert_eq!(acked.partitions[0].base_offset, 0);
    assert_eq!(acked.partitions[0].record_count, 2);
    let fetched: FetchResponse = call(&connection, &fetch_request("orders", 0, 0))
        .await
        .unwrap();
    let values: Vec<_> = fetched
        .records
        .iter()
        .map(|r| r.value.clone().unwrap())
        .collect();
    assert_eq!(values, [Bytes::from("a"), Bytes::from("b")]);
    let topics: ListTopicsResponse = call(&connection, &ListTopicsRequest {}).await.unwrap();
    assert_eq!(topics.topics.len(), 1);

    // The same error, code and message, as the gRPC server gives.
    let missing = DescribeTopicRequest {
        name: "nope".into(),
    };
    let over_quic = call::<_, stratus_proto::v1::DescribeTopicResponse>(&connection, &missing)
        .await
        .unwrap_err();
    let url = format!("http://{}", setup.gateway.local_addr());
    let over_grpc = AdminClient::connect(url)
        .await
        .unwrap()
        .describe_topic(missing)
        .await
        .unwrap_err();
    assert_eq!(over_quic.code, Code::NotFound as i32);
    assert_eq!(over_quic.code, over_grpc.code() as i32);
    assert_eq!(over_quic.message, over_grpc.message());
    setup.gateway.shutdown().await;
}

#[tokio::test]
async fn bad_frames_close_only_their_stream() {
    let setup = start(QuicConfig {
        max_frame_bytes: 4096,
        ..QuicConfig::default()
    })
    .await;
    let connection = connect(&setup).await;
    create_topic(&connection, "t", 1).await;
    // A call in flight on the same connection while bad frames arrive: a
    // long poll at the end of the log.
    let mut poll_recv = open_long_poll(&connection, "t").await;

    let error = |frame: Frame| -> ErrorDetail {
        assert_eq!(frame.kind, MessageKind::Error);
        frame.message().unwrap()
    };
    // Oversized: refused from the length prefix, before the body is read.
    let mut oversized = vec![0u8, 0x10, 0, 0, MessageKind::ProduceRequest as u8, 0];
    oversized.resize(64 * 1024, 0);
    let err = error(call_raw(&connection, &oversized).await);
    assert_eq!(err.code, Code::InvalidArgument as i32);
    assert!(
        err.message.contains("exceeds the limit of 4096 bytes"),
        "{}",
        err.message
    );
    assert!(err.message.contains("max_frame_bytes"), "{}", err.message);
    // Unknown message type.
    let err = error(call_raw(&connection, &[0, 0, 0, 2, 200, 0]).await);
    assert_eq!(err.code, Code::Unimplemented as i32);
    assert!(
        err.message.contains("unknown message type 200"),
        "{}",
        err.message
    );
    // A response kind sent as a request.
    let not_a_request = Frame::from_message(&ListTopicsResponse::default(), Headers::new());
    let err = error(call_raw(&connection, &not_a_request.to_bytes().unwrap()).await);
    assert_eq!(err.code, Code::Unimplemented as i32);
    assert!(err.message.contains("is not a request"), "{}", err.message);
    // Malformed header.
    let err = error(call_raw(&connection, &[0, 0, 0, 3, 5, 1, 9]).await);
    assert_eq!(err.code, Code::InvalidArgument as i32);
    assert!(
        err.message.contains("header 0 runs past the end"),
        "{}",
        err.message
    );
    // A payload that is not the protobuf message its type says.
    let err = error(call_raw(&connection, &[0, 0, 0, 5, 9, 0, 0xff, 0xff, 0xff]).await);
    assert_eq!(err.code, Code::InvalidArgument as i32);
    assert!(
        err.message.contains("malformed ProduceRequest (9) payload"),
        "{}",
        err.message
    );
    // A stream finished halfway through its frame.
    let err = error(call_raw(&connection, &[0, 0, 0, 20, 5, 0]).await);
    assert_eq!(err.code, Code::InvalidArgument as i32);
    assert!(
        err.message.contains("before a complete request frame"),
        "{}",
        err.message
    );

    // The connection still serves: a produce wakes the long poll opened
    // before the bad frames.
    let _: ProduceResponse = call(&connection, &produce_request("t", &["x"]))
        .await
        .unwrap();
    let woken: FetchResponse = read_answer(&mut poll_recv).await.message().unwrap();
    assert_eq!(woken.records.len(), 1);
    assert!(connection.close_reason().is_none());
    setup.gateway.shutdown().await;
}

#[tokio::test]
async fn streams_per_connection_are_limited() {
    let setup = start(QuicConfig {
        max_concurrent_streams: 2,
        ..QuicConfig::default()
    })
    .await;
    let connection = connect(&setup).await;
    create_topic(&connection, "t", 1).await;
    let mut polls = Vec::new();
    for _ in 0..2 {
        polls.push(open_long_poll(&connection, "t").await);
    }
    // Both streams are taken by long polls: a third cannot open.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), connection.open_bi())
            .await
            .is_err(),
        "a third stream opened past max_concurrent_streams = 2"
    );
    // A second connection has its own streams: it produces and frees both.
    let other = connect(&setup).await;
    let _: ProduceResponse = call(&other, &produce_request("t", &["x"])).await.unwrap();
    for mut recv in polls {
        let woken: FetchResponse = read_answer(&mut recv).await.message().unwrap();
        assert_eq!(woken.records.len(), 1);
    }
    let _: ListTopicsResponse = call(&connection, &ListTopicsRequest {}).await.unwrap();
    setup.gateway.shutdown().await;
}

#[tokio::test]
async fn tls_is_required_and_checked() {
    let setup = start(QuicConfig::default()).await;
    // A certificate the client does not trust.
    let other_dir = tempfile::tempdir().unwrap();
    let stranger = self_signed_in(other_dir.path()).unwrap();
    let err = connect_with(&setup, client_config(&stranger.cert, ALPN))
        .await
        .unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // A client that does not speak stratus/1.
    let err = connect_with(&setup, client_config(&setup.cert, b"h3"))
        .await
        .unwrap_err();
    assert!(
        err.contains("no_application_protocol") || err.contains("120"),
        "{err}"
    );
    setup.gateway.shutdown().await;
}

#[tokio::test]
async fn quic_without_a_certificate_names_the_setting() {
    let wal = stratus_tier::open_tier("memory://").unwrap();
    let log = Log::new(Arc::new(MemoryMetaStore::new()), wal, &LogConfig::default());
    let config = GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..GatewayConfig::default()
    };
    let err = Gateway::start(config, Arc::new(log)).await.unwrap_err();
    assert!(matches!(err, StartError::Quic(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("gateway.quic.cert"), "{message}");
    assert!(
        message.contains("gateway.quic.enabled = false"),
        "{message}"
    );
}

/// Reads frames from `recv` until `count` have arrived.
async fn read_frames(recv: &mut quinn::RecvStream, buf: &mut BytesMut, count: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    while frames.len() < count {
        if let Some(frame) = frame::decode(buf, 64 << 20).unwrap() {
            frames.push(frame);
            continue;
        }
        let chunk = recv
            .read_chunk(usize::MAX, true)
            .await
            .unwrap()
            .expect("the stream ended early");
        buf.extend_from_slice(&chunk.bytes);
    }
    frames
}

fn stream_frame(request: &ProduceRequest) -> Bytes {
    Frame::from_stream_message(request, Headers::new())
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// One stream, many produce requests, answered in order; a frame that is not
/// a produce request ends the stream with an error frame after the requests
/// before it are answered; a finished stream ends after its last answer.
#[tokio::test]
async fn produce_streams_answer_in_order() {
    let setup = start(QuicConfig::default()).await;
    let connection = connect(&setup).await;
    create_topic(&connection, "ordered", 1).await;

    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let mut buf = BytesMut::new();
    for id in 1..=3u64 {
        let mut request = produce_request("ordered", &["x", "y"]);
        request.correlation_id = id;
        send.write_all(&stream_frame(&request)).await.unwrap();
    }
    let answers = read_frames(&mut recv, &mut buf, 3).await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.kind, MessageKind::ProduceStreamResponse);
        let response: ProduceResponse = answer.message().unwrap();
        assert_eq!(response.correlation_id, i as u64 + 1);
        assert_eq!(response.error, None);
        assert_eq!(response.partitions[0].base_offset, 2 * i as i64);
    }
    // Still open: more requests go through the same stream.
    let mut request = produce_request("missing-topic", &["z"]);
    request.correlation_id = 4;
    send.write_all(&stream_frame(&request)).await.unwrap();
    let answer = &read_frames(&mut recv, &mut buf, 1).await[0];
    let response: ProduceResponse = answer.message().unwrap();
    assert_eq!(response.correlation_id, 4);
    assert_eq!(
        response.error.map(|e| e.code),
        Some(Code::NotFound as i32),
        "a request's error comes inside its response"
    );
    // A frame of another kind ends the stream, with the reason.
    let wrong = Frame::from_message(&fetch_request("ordered", 0, 0), Headers::new())
        .to_bytes()
        .unwrap();
    let _ = send.write_all(&wrong).await;
    let answer = &read_frames(&mut recv, &mut buf, 1).await[0];
    assert_eq!(answer.kind, MessageKind::Error);
    let detail: ErrorDetail = answer.message().unwrap();
    assert_eq!(detail.code, Code::InvalidArgument as i32);
    assert!(
        detail.message.contains("ProduceStreamRequest"),
        "{}",
        detail.message
    );
    assert!(
        recv.read_to_end(1 << 20).await.unwrap().is_empty(),
        "then the stream ends"
    );

    // A client that finishes its side gets its answers, then the end.
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let mut request = produce_request("ordered", &["last"]);
    request.correlation_id = 9;
    send.write_all(&stream_frame(&request)).await.unwrap();
    send.finish().unwrap();
    let rest = recv.read_to_end(1 << 20).await.unwrap();
    let mut rest = BytesMut::from(&rest[..]);
    let answer = frame::decode(&mut rest, 1 << 20)
        .unwrap()
        .expect("one answer");
    let response: ProduceResponse = answer.message().unwrap();
    assert_eq!(response.partitions[0].base_offset, 6);
    assert!(rest.is_empty());
    setup.gateway.shutdown().await;
}
