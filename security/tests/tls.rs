//! Real TLS handshakes against `ReloadingTls`: a client of the right CA gets
//! in, one of another CA or without a certificate is refused, and replaced
//! files are served to the next connection without a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use stratus_security::test_certs::{PemFiles, TestCa};
use stratus_security::{ReloadingTls, TlsConfig, peer_subject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn client_config(ca: &Path, client: Option<&PemFiles>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match client {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let chain = CertificateDer::pem_file_iter(&files.cert)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(&files.key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    }
}

/// Serves `tls` on a loopback port: each connection gets the client
/// certificate's subject written back, then is closed.
async fn serve(tls: ReloadingTls) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = tls.acceptor();
            tokio::spawn(async move {
                if let Ok(mut stream) = acceptor.accept(stream).await {
                    let subject = peer_subject(stream.get_ref().1.peer_certificates());
                    let _ = stream
                        .write_all(subject.unwrap_or_default().as_bytes())
                        .await;
                    let _ = stream.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Handshakes and reads what the server writes; `Err` when refused.
async fn connect(
    addr: std::net::SocketAddr,
    config: rustls::ClientConfig,
) -> Result<(String, Vec<CertificateDer<'static>>), std::io::Error> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let presented = stream
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .to_vec();
    Ok((text, presented))
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_of_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "trusted");
    let other = TestCa::new(dir.path(), "other");
    let server = ca.server("server");
    let config = TlsConfig {
        cert: Some(server.cert.clone()),
        key: Some(server.key.clone()),
        client_ca: Some(ca.cert.clone()),
        ..TlsConfig::default()
    };
    let tls = ReloadingTls::start(config, "kafka.tls", &[]).unwrap();
    assert!(tls.mutual());
    let addr = serve(tls).await;

    let alice = ca.client("alice");
    let (subject, _) = connect(addr, client_config(&ca.cert, Some(&alice)))
        .await
        .expect("a client of the trusted CA is admitted");
    assert_eq!(subject, "CN=alice");

    let mallory = other.client("mallory");
    assert!(
        connect(addr, client_config(&ca.cert, Some(&mallory)))
            .await
            .is_err(),
        "a client certificate from another CA must be refused"
    );
    assert!(
        connect(addr, client_config(&ca.cert, None)).await.is_err(),
        "a client without a certificate must be refused"
    );
}

#[tokio::test]
async fn replaced_certificate_files_are_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "rotating");
    let first = ca.server("first");
    let second = ca.server("second");
    let live = PemFiles {
        cert: dir.path().join("live-cert.pem"),
        key: dir.path().join("live-key.pem"),
    };
    std::fs::copy(&first.cert, &live.cert).unwrap();
    std::fs::copy(&first.key, &live.key).unwrap();
    let config = TlsConfig {
        cert: Some(live.cert.clone()),
        key: Some(live.key.clone()),
        reload_interval: Duration::from_secs(1),
        ..TlsConfig::default()
    };
    let tls = ReloadingTls::start(config, "gateway.tls", &[]).unwrap();
    assert!(!tls.mutual());
    let addr = serve(tls).await;
    let leaf = |path: &Path| {
        CertificateDer::pem_file_iter(path)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    };
    let (_, presented) = connect(addr, client_config(&ca.cert, None)).await.unwrap();
    assert_eq!(presented[0], leaf(&first.cert));

    // A half-done rotation (new certificate, old key) keeps the old pair.
    std::fs::copy(&second.cert, &live.cert).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, presented) = connect(addr, client_config(&ca.cert, None)).await.unwrap();
    assert_eq!(presented[0], leaf(&first.cert));

    std::fs::copy(&second.key, &live.key).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, presented) = connect(addr, client_config(&ca.cert, None)).await.unwrap();
        if presented[0] == leaf(&second.cert) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not served within 5 s of replacing the files"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn unreadable_files_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = TlsConfig {
        cert: Some(dir.path().join("missing.pem")),
        key: Some(dir.path().join("missing-key.pem")),
        ..TlsConfig::default()
    };
    let err = stratus_security::tls::server_config(&config, "kafka.tls", &[]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`kafka.tls.cert`"), "{message}");
    assert!(message.contains("missing.pem"), "{message}");
}
