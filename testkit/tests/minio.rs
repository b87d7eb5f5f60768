//! The MinIO wrapper against a real MinIO process: it starts on a free port,
//! creates buckets, and lists what an S3 client signed with the test
//! credentials wrote. Fails, naming scripts/install-minio, when MinIO is not
//! installed.

use std::process::Command;

use stratus_testkit::{MinioServer, minio_binary};

#[test]
fn minio_is_installed() {
    if let Err(e) = minio_binary() {
        panic!("{e}");
    }
}

#[test]
fn minio_starts_creates_buckets_and_lists_keys() {
    let server = MinioServer::start(&["first", "second"]);
    assert!(server.list("first", "").is_empty());
    // A second server runs beside the first, on its own port and data.
    let other = MinioServer::start(&["first"]);
    assert_ne!(server.endpoint(), other.endpoint());
    // An object written through MinIO's own S3 API is listed, and only
    // under its bucket and prefix.
    put(&server, "first", "wal/a/1");
    put(&server, "first", "wal/b/2");
    put(&server, "first", "seg/3");
    assert_eq!(server.list("first", "wal/"), ["wal/a/1", "wal/b/2"]);
    assert_eq!(server.list("first", "").len(), 3);
    assert!(server.list("second", "").is_empty());
    assert!(other.list("first", "").is_empty());
}

/// PUTs an object with curl's SigV4 signing, an S3 client independent of
/// the wrapper's own.
fn put(server: &MinioServer, bucket: &str, key: &str) {
    let env = server.client_env();
    let get = |name: &str| env.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let status = Command::new("curl")
        .args(["-sSf", "-X", "PUT", "--data-binary", "payload"])
        // MinIO wants the payload hash header; curl signs it as given.
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .args(["--aws-sigv4", &format!("aws:amz:{}:s3", get("AWS_REGION"))])
        .args([
            "--user",
            &format!(
                "{}:{}",
                get("AWS_ACCESS_KEY_ID"),
                get("AWS_SECRET_ACCESS_KEY")
            ),
        ])
        .arg(format!("{}/{bucket}/{key}", server.endpoint()))
        .status()
        .expect("run curl (Debian's curl)");
    assert!(status.success(), "curl PUT {bucket}/{key}: {status}");
}
