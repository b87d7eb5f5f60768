//! A peer from another ecosystem: Python grpcio with stubs generated from
//! proto/ at test time produces (plain and idempotent) and consumes against
//! `stratus dev`. Proves the schema works with any gRPC code generator.

use std::path::PathBuf;
use std::process::Command;

use crate::common::DevServer;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv scripts/install-python-grpc makes; installed here if missing.
/// Without python3 the test fails (it never passes by skipping).
fn python() -> PathBuf {
    assert!(
        Command::new("python3").arg("--version").output().is_ok(),
        "python3 is not installed: install Python 3.9+ (Debian: apt-get install python3 python3-venv), \
         then scripts/install-python-grpc"
    );
    let root = repo_root();
    let python = root.join("target/py-venv/grpc/bin/python");
    if !python.exists() {
        let status = Command::new(root.join("scripts/install-python-grpc"))
            .status()
            .expect("run scripts/install-python-grpc");
        assert!(status.success(), "scripts/install-python-grpc failed");
    }
    python
}

#[tokio::test]
async fn python_grpcio_client_produces_and_consumes() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let stubs = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let address = server.url.trim_start_matches("http://").to_owned();
    let root = repo_root();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("cli/tests/python/peer.py"))
            .arg(root.join("proto/proto"))
            .arg(stubs.path())
            .arg(&address)
            .arg("python-peer")
            .output()
            .expect("run peer.py")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "peer.py failed: {stdout}\n{stderr}"
    );
    assert!(stdout.contains(r#""ok": true"#), "{stdout}");
    assert!(stdout.contains(r#""produced": 53"#), "{stdout}");
    assert!(stdout.contains(r#""consumed": 53"#), "{stdout}");
}
