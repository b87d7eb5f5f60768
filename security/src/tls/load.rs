//! PEM files into a rustls server configuration. Every failure names the
//! setting and file, so an operator knows which file to fix.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::TlsConfig;

/// Why a listener's TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A setting is missing or out of range.
    #[error("invalid setting `{setting}`: expected {expected}")]
    Setting {
        /// Its full name.
        setting: String,
        /// What would be accepted.
        expected: String,
    },
    /// A file could not be read or holds no usable PEM.
    #[error("cannot read `{setting}` {path}: {reason}")]
    File {
        /// The setting naming the file.
        setting: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The files do not fit together (a key that is not the certificate's).
    #[error("`{prefix}.cert` and `{prefix}.key` do not make a TLS configuration: {reason}")]
    Config {
        /// The section.
        prefix: String,
        /// Why.
        reason: String,
    },
}

fn file_error(
    prefix: &str,
    setting: &str,
    path: &Path,
    reason: impl std::fmt::Display,
) -> TlsError {
    TlsError::File {
        setting: format!("{prefix}.{setting}"),
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn certificates(
    prefix: &str,
    setting: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect())
        .map_err(|e| file_error(prefix, setting, path, e))?;
    if certs.is_empty() {
        return Err(file_error(
            prefix,
            setting,
            path,
            "no CERTIFICATE block found; give PEM certificates",
        ));
    }
    Ok(certs)
}

/// The rustls configuration `config` describes, offering `alpn` (e.g.
/// `h2` for gRPC; empty for Kafka). TLS 1.2 and 1.3, aws-lc-rs crypto.
pub fn server_config(
    config: &TlsConfig,
    prefix: &str,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig, TlsError> {
    config.validate(prefix)?;
    let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
        return Err(TlsError::Setting {
            setting: format!("{prefix}.cert"),
            expected: "a PEM certificate chain (TLS is off without it)".to_owned(),
        });
    };
    let chain = certificates(prefix, "cert", cert)?;
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(prefix, "key", key, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config {
            prefix: prefix.to_owned(),
            reason: e.to_string(),
        })?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(prefix, "client_ca", ca)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error(prefix, "client_ca", ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| file_error(prefix, "client_ca", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Config {
            prefix: prefix.to_owned(),
            reason: e.to_string(),
        })?;
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(server)
}
