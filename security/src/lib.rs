//! Security of Stratus listeners, shared by every transport.
//!
//! - [`tls`]: server TLS from PEM files (certificate chain, key, optional
//!   client CA for mutual TLS), reloaded when the files change, and the
//!   identity a client certificate carries.
//! - [`exposure`]: the rule that a listener reachable beyond loopback must
//!   use TLS and authenticate its clients, unless the operator says
//!   `insecure = true`.
//!
//! This crate holds no cryptography of its own: handshakes, certificate
//! verification and parsing are rustls's and x509-parser's. It never
//! decides what a principal may do; that is authorization's.

pub mod exposure;
#[cfg(feature = "test-certs")]
pub mod test_certs;
pub mod tls;

pub use exposure::{ExposureError, Listener, check_exposure};
pub use tls::{ReloadingTls, TlsConfig, TlsError, peer_subject};
