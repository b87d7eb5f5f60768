//! Who a client certificate says the client is.

use rustls::pki_types::CertificateDer;

/// The subject distinguished name of a verified client certificate chain's
/// leaf, in RFC 4514 order as x509-parser prints it (`CN=alice, O=Acme`).
/// `None` without a certificate or when the leaf cannot be parsed (rustls
/// has verified the chain, so that does not happen for an accepted one).
pub fn peer_subject(chain: Option<&[CertificateDer<'_>]>) -> Option<String> {
    let leaf = chain?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    Some(cert.subject().to_string())
}
