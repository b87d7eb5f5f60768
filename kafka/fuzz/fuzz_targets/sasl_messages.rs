//! Feeds arbitrary bytes to the parsers of client SASL messages (SCRAM
//! client-first and client-final, PLAIN) and to a SCRAM exchange waiting for
//! its client-final message. None may panic; whatever a parser accepts must
//! hold what its grammar promises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stratus_kafka::sasl::exchange::ScramServer;
use stratus_kafka::sasl::messages::{parse_client_final, parse_client_first, parse_plain};
use stratus_kafka::sasl::{ScramCredential, ScramMechanism};

fuzz_target!(|data: &[u8]| {
    if let Ok(first) = parse_client_first(data) {
        assert!(!first.user.is_empty() && !first.nonce.contains(','));
    }
    let _ = parse_client_final(data);
    if let Ok(plain) = parse_plain(data) {
        assert!(!plain.user.is_empty() && !plain.password.is_empty());
    }
    let first = parse_client_first(b"n,,n=user,r=fuzz").expect("a valid client-first");
    let credential = ScramCredential::from_salted_password(
        ScramMechanism::Sha256,
        b"salt",
        4096,
        &[7; 32],
    )
    .expect("a valid credential");
    let (server, _) = ScramServer::start(
        ScramMechanism::Sha256,
        first,
        Some(credential),
        (Vec::new(), 4096),
        "server",
    );
    let _ = server.finish(data);
});
