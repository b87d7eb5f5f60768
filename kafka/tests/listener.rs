//! The TCP listener: binds port 0 and reports the real address, serves
//! several connections, keeps serving the others when one sends garbage,
//! refuses connections beyond `max_connections`, and stops on shutdown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::*;
use stratus_kafka::{KafkaConfig, KafkaListener, ListenerError};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::timeout;

const SOON: Duration = Duration::from_secs(5);

async fn start(
    config: KafkaConfig,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = KafkaListener::bind(config).await.unwrap();
    let addr = listener.local_addr();
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 2)]));
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(listener.serve(broker, async move {
        let _ = stopped.await;
    }));
    (addr, stop, serving)
}

fn local(port: u16) -> KafkaConfig {
    KafkaConfig {
        listen: ([127, 0, 0, 1], port).into(),
        ..Default::default()
    }
}

async fn metadata_round_trip(stream: &mut TcpStream, correlation_id: i32) {
    send(
        stream,
        &request_frame(
            ApiKey::Metadata,
            12,
            correlation_id,
            &metadata(Some(&["orders"])),
        ),
    )
    .await;
    let frame = timeout(SOON, read_frame(stream))
        .await
        .unwrap()
        .expect("answer");
    let (id, ResponseKind::Metadata(m)) = parse_response(ApiKey::Metadata, 12, &frame) else {
        unreachable!()
    };
    assert_eq!(id, correlation_id);
    assert_eq!(m.topics[0].partitions.len(), 2);
}

#[tokio::test]
async fn binds_port_zero_and_reports_the_address() {
    let listener = KafkaListener::bind(local(0)).await.unwrap();
    let addr = listener.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(
        listener.advertised(),
        ("127.0.0.1".to_string(), addr.port())
    );
    let advertised = KafkaListener::bind(KafkaConfig {
        advertised_host: Some("gw-1.example".into()),
        advertised_port: Some(19092),
        ..local(0)
    })
    .await
    .unwrap();
    assert_eq!(advertised.advertised(), ("gw-1.example".to_string(), 19092));
    // The same port twice: the error says what to do.
    let err = KafkaListener::bind(local(addr.port())).await.unwrap_err();
    assert!(matches!(err, ListenerError::Bind { .. }));
    assert!(err.to_string().contains("pick a free port"), "{err}");
    // A bad setting is refused before binding.
    let err = KafkaListener::bind(KafkaConfig {
        max_frame_bytes: 1,
        ..local(0)
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("kafka.max_frame_bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn garbage_on_one_connection_leaves_the_others_alone() {
    let (addr, stop, serving) = start(local(0)).await;
    let mut good = TcpStream::connect(addr).await.unwrap();
    metadata_round_trip(&mut good, 1).await;
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(&[0, 0, 0, 12, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    assert!(
        timeout(SOON, read_frame(&mut bad)).await.unwrap().is_none(),
        "closed"
    );
    let mut huge = TcpStream::connect(addr).await.unwrap();
    huge.write_all(&i32::MAX.to_be_bytes()).await.unwrap();
    assert!(
        timeout(SOON, read_frame(&mut huge))
            .await
            .unwrap()
            .is_none(),
        "closed"
    );
    metadata_round_trip(&mut good, 2).await;
    stop.send(()).unwrap();
    timeout(SOON, serving).await.unwrap().unwrap();
    // Shutdown closed the remaining connection.
    assert!(
        timeout(SOON, read_frame(&mut good))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let (addr, stop, serving) = start(KafkaConfig {
        max_connections: 1,
        ..local(0)
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    metadata_round_trip(&mut first, 1).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let _ = second
        .write_all(&request_frame(ApiKey::Metadata, 12, 2, &metadata(None)))
        .await;
    assert!(
        timeout(SOON, read_frame(&mut second))
            .await
            .unwrap()
            .is_none()
    );
    // Once the first goes away its slot is free again.
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s
            .write_all(&request_frame(ApiKey::Metadata, 12, 3, &metadata(None)))
            .await;
        if timeout(SOON, read_frame(&mut s)).await.unwrap().is_some() {
            third = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(third.is_some(), "a freed slot is reused");
    stop.send(()).unwrap();
    timeout(SOON, serving).await.unwrap().unwrap();
}
