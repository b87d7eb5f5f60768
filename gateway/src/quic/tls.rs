//! The QUIC endpoint's TLS: loading the configured certificate and key, and
//! the self-signed pair `stratus dev` makes for itself. TLS 1.3 only; this
//! module never offers a plaintext or older-TLS fallback.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use stratus_proto::frame::ALPN;

/// Why the endpoint's TLS could not be set up. Names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read quic.cert {path}: {reason}; give a PEM certificate chain")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read quic.key {path}: {reason}; give the certificate's PEM private key")]
    Key { path: PathBuf, reason: String },
    #[error("quic.cert and quic.key do not make a usable TLS 1.3 configuration: {0}")]
    Config(String),
    #[error("cannot write a self-signed certificate to {path}: {reason}")]
    Generate { path: PathBuf, reason: String },
}

/// Certificate and key files of a self-signed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes (or reuses, so clients that pinned it keep working across restarts)
/// a self-signed certificate for `localhost`, `127.0.0.1` and `::1` in `dir`.
pub fn self_signed_in(dir: &Path) -> Result<CertificateFiles, TlsError> {
    let files = CertificateFiles {
        cert: dir.join("quic-cert.pem"),
        key: dir.join("quic-key.pem"),
    };
    if files.cert.is_file() && files.key.is_file() {
        return Ok(files);
    }
    let fail = |path: &Path, reason: String| TlsError::Generate {
        path: path.to_owned(),
        reason,
    };
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| fail(dir, e.to_string()))?;
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes())
        .map_err(|e| fail(&files.key, e.to_string()))?;
    std::fs::write(&files.cert, certified.cert.pem())
        .map_err(|e| fail(&files.cert, e.to_string()))?;
    Ok(files)
}

/// Writes a key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// What a restarted gateway needs to reset its previous incarnation's
/// connections (RFC 9000 §10.3): the HMAC key of reset tokens, and the key
/// its connection IDs are made and checked with (a packet whose connection
/// ID fails the check is dropped, not reset).
pub(crate) struct StatelessReset {
    pub(crate) token_key: Arc<dyn quinn::crypto::HmacKey>,
    pub(crate) connection_id_key: u64,
}

/// Derives both from the TLS private key, so they stay secret and survive
/// restarts: a gateway restarted after a crash answers its previous
/// incarnation's clients with a reset they accept, and they reconnect at
/// once instead of sending into a dead connection until their idle timeout.
/// Gateways sharing a certificate share the keys, so any of them can reset
/// connections a load balancer moves to it.
pub(crate) fn stateless_reset(key: &Path) -> Result<StatelessReset, TlsError> {
    use aws_lc_rs::{digest, hmac};
    let pem = std::fs::read(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    // Domain separation: these keys are for resets, not for anything the
    // TLS key itself signs.
    let derive = |purpose: &[u8]| {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"stratus quic ");
        context.update(purpose);
        context.update(b"\0");
        context.update(&pem);
        context.finish()
    };
    let token = derive(b"stateless reset token key");
    let ids = derive(b"connection id key");
    let mut id_key = [0u8; 8];
    id_key.copy_from_slice(&ids.as_ref()[..8]);
    Ok(StatelessReset {
        token_key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, token.as_ref())),
        connection_id_key: u64::from_le_bytes(id_key),
    })
}

/// The rustls server configuration for `cert` and `key`: TLS 1.3 only (QUIC
/// requires it) and the Stratus ALPN protocol.
pub(crate) fn server_crypto(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| TlsError::Cert {
            path: cert.to_owned(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Cert {
            path: cert.to_owned(),
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| TlsError::Config(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}
