//! A gateway whose S3 WAL tier is unusable fails at start naming the setting;
//! a bucket that disappears at run time produces retryable errors, not
//! panics or silent loss, and the gateway recovers when it returns.

use std::process::Command;
use std::time::Duration;

use crate::common::{DevServer, S3Server, WAL_BUCKET, create_topic};
use bytes::Bytes;
use stratus_proto::v1::{DescribeTopicRequest, PartitionRecords, ProduceRequest, Record};
use tonic::Code;

/// Runs `stratus dev` expecting it to refuse to start; returns its stderr.
fn refused_start(data_dir: &std::path::Path, env: &[(String, String)]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("STRATUS_WAL_RETRY__MAX_ATTEMPTS", "2")
        .env("STRATUS_WAL_RETRY__CALL_TIMEOUT", "2s")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run stratus dev");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("stratus dev started with a broken WAL tier");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    stderr
}

fn with_wal(mut env: Vec<(String, String)>, wal: &str) -> Vec<(String, String)> {
    env.push(("STRATUS_WAL".into(), wal.into()));
    env
}

#[test]
fn unusable_s3_tiers_fail_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);

    let missing = refused_start(
        dir.path(),
        &with_wal(s3.client_env(), "s3://no-such-bucket/wal"),
    );
    assert!(missing.contains("invalid setting `wal`"), "{missing}");
    assert!(missing.contains("no-such-bucket"), "{missing}");

    let mut unreachable = s3.client_env();
    unreachable.retain(|(k, _)| k != "AWS_ENDPOINT");
    unreachable.push(("AWS_ENDPOINT".into(), "http://127.0.0.1:1".into()));
    let refused = refused_start(
        dir.path(),
        &with_wal(unreachable, &format!("s3://{WAL_BUCKET}/wal")),
    );
    assert!(refused.contains("invalid setting `wal`"), "{refused}");

    let mut wrong_key = s3.client_env();
    wrong_key.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    wrong_key.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let denied = refused_start(
        dir.path(),
        &with_wal(wrong_key, &format!("s3://{WAL_BUCKET}/wal")),
    );
    assert!(denied.contains("invalid setting `wal`"), "{denied}");

    let bad_query = refused_start(
        dir.path(),
        &with_wal(s3.client_env(), &format!("s3://{WAL_BUCKET}/wal?bogus=1")),
    );
    assert!(
        bad_query.contains("unknown S3 setting \"bogus\""),
        "{bad_query}"
    );
}

fn one_record(value: &'static str) -> ProduceRequest {
    ProduceRequest {
        topic: "vanishing".into(),
        partitions: vec![PartitionRecords {
            base_sequence: None,
            partition: 0,
            records: vec![Record {
                key: None,
                value: Some(Bytes::from_static(value.as_bytes())),
                headers: vec![],
                timestamp_ms: None,
            }],
            record_batch: Default::default(),
        }],
        ..ProduceRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_disappears_gives_retryable_errors_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), &[WAL_BUCKET]);
    let bucket = s3.bucket_dir(WAL_BUCKET);
    let mut env = with_wal(s3.client_env(), &format!("s3://{WAL_BUCKET}/wal"));
    env.push(("STRATUS_WAL_RETRY__MAX_ATTEMPTS".into(), "2".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = DevServer::start_with_env(&dir.path().join("gateway"), &env);
    create_topic(&server, "vanishing", 1, None).await;
    let mut producer = server.producer().await;
    producer.produce(one_record("before")).await.unwrap();

    // The bucket goes away. (s3s-fs would quietly recreate a missing bucket
    // directory on PUT, so a plain file takes its place and every write fails.)
    std::fs::rename(&bucket, dir.path().join("moved-away")).unwrap();
    std::fs::write(&bucket, b"not a bucket").unwrap();
    let status = producer
        .produce(one_record("during"))
        .await
        .expect_err("a produce into a missing bucket cannot be acknowledged");
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    assert!(status.message().contains("retry"), "{}", status.message());

    // The gateway is alive and has not moved the log.
    let topic = server
        .admin()
        .await
        .describe_topic(DescribeTopicRequest {
            name: "vanishing".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .topic
        .unwrap();
    assert_eq!(topic.partitions[0].next_offset, 1);

    std::fs::remove_file(&bucket).unwrap();
    std::fs::rename(dir.path().join("moved-away"), &bucket).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ack = producer
        .produce(one_record("after"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ack.partitions[0].base_offset, 1,
        "the failed produce took no offset"
    );
}
