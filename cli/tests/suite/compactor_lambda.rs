//! `stratus compactor --lambda` is an unmodified AWS Lambda function: run
//! against a Lambda Runtime API served by this test, each invocation runs
//! one compaction pass and answers with its report.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{DevServer, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{ProduceRequest, Record};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_runs_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    create_topic(&server, "events", 2, None).await;
    let mut producer = server.producer().await;
    for i in 0..5 {
        producer
            .produce(ProduceRequest {
                topic: "events".into(),
                records: vec![Record {
                    key: Some(Bytes::from(format!("k{i}"))),
                    value: Some(Bytes::from(format!("v{i}"))),
                    headers: vec![],
                    timestamp_ms: None,
                }],
                ..ProduceRequest::default()
            })
            .await
            .unwrap();
    }
    // The embedded metadata store belongs to one process at a time.
    server.terminate();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    let (responses, mut received) = mpsc::unbounded_channel();
    tokio::spawn(serve_runtime_api(listener, responses));
    let mut function = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["compactor", "--lambda", "--data-dir"])
        .arg(dir.path())
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "stratus-compactor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("STRATUS_COMPACTOR__WAL_MAX_AGE", "0s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(60), received.recv())
        .await
        .expect("the function answered its invocation")
        .unwrap();
    let _ = function.kill();
    let _ = function.wait();
    let report: serde_json::Value = serde_json::from_str(&body).expect("a JSON pass report");
    assert!(
        report["wal_rewrites"].as_u64().unwrap() >= 1,
        "the pass compacted the WAL chunks: {report}"
    );
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
}

/// A minimal Lambda Runtime API: one invocation, then `next` blocks (as the
/// real API does when no event is queued). Response bodies go to `responses`.
async fn serve_runtime_api(listener: TcpListener, responses: mpsc::UnboundedSender<String>) {
    let invoked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (responses, invoked) = (responses.clone(), invoked.clone());
        tokio::spawn(async move {
            let _ = serve_connection(stream, &responses, &invoked).await;
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    responses: &mpsc::UnboundedSender<String>,
    invoked: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).await?;
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if path.ends_with("/invocation/next") {
            if invoked.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let event = br#"{"source":"aws.events","detail-type":"Scheduled Event"}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: req-1\r\n\
                 lambda-runtime-deadline-ms: {}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:stratus-compactor\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                 content-length: {}\r\n\r\n",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 600_000,
                event.len()
            );
            write.write_all(head.as_bytes()).await?;
            write.write_all(event).await?;
        } else {
            if path.ends_with("/response") || path.ends_with("/error") {
                let _ = responses.send(String::from_utf8_lossy(&body).into_owned());
            }
            write
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
                .await?;
        }
        write.flush().await?;
    }
}
