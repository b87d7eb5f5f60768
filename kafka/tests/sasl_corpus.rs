//! Replays the SASL fuzz corpus (kafka/fuzz/corpus/sasl_messages) through
//! the parsers of client SASL messages, with the fuzz target's checks: no
//! panic on any seed or any prefix of one, and every `bad-*` seed refused
//! by every parser with a message that names the mechanism.

use std::path::PathBuf;

use stratus_kafka::sasl::exchange::ScramServer;
use stratus_kafka::sasl::messages::{parse_client_final, parse_client_first, parse_plain};
use stratus_kafka::sasl::{ScramCredential, ScramMechanism};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/sasl_messages")
}

/// The fuzz target's property; `true` when some parser accepted `data`.
fn check(data: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(first) = parse_client_first(data) {
        assert!(!first.user.is_empty() && !first.nonce.contains(','));
        accepted = true;
    }
    accepted |= parse_client_final(data).is_ok();
    if let Ok(plain) = parse_plain(data) {
        assert!(!plain.user.is_empty() && !plain.password.is_empty());
        accepted = true;
    }
    let first = parse_client_first(b"n,,n=user,r=fuzz").unwrap();
    let credential =
        ScramCredential::from_salted_password(ScramMechanism::Sha256, b"salt", 4096, &[7; 32])
            .unwrap();
    let (server, _) = ScramServer::start(
        ScramMechanism::Sha256,
        first,
        Some(credential),
        (Vec::new(), 4096),
        "server",
    );
    let _ = server.finish(data);
    accepted
}

#[test]
fn corpus_replays_and_bad_seeds_are_refused() {
    let mut seen = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let accepted = check(&bytes);
        if name.starts_with("bad-") {
            assert!(!accepted, "{name} was accepted");
            for err in [
                parse_client_first(&bytes).err(),
                parse_client_final(&bytes).err(),
                parse_plain(&bytes).err(),
            ] {
                let err = err.expect("refused").to_string();
                assert!(err.starts_with("malformed "), "{name}: {err}");
            }
        } else {
            assert!(accepted, "{name} should parse");
        }
        for cut in 0..bytes.len() {
            check(&bytes[..cut]);
        }
        seen += 1;
    }
    assert!(
        seen >= 15,
        "only {seen} seeds in {}",
        corpus_dir().display()
    );
}
