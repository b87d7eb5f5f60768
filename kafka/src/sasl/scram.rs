//! SCRAM credentials (RFC 5802, with the SHA-2 hashes of RFC 7677): deriving
//! them from a password, checking a password against one, and the key
//! arithmetic of a proof. Hashes, HMAC and PBKDF2 are the `sha2`, `hmac` and
//! `pbkdf2` crates'; comparisons of secrets are constant-time (`subtle`).
//!
//! Passwords are used as their UTF-8 bytes, without SASLprep, as Kafka's
//! brokers and clients do: a credential made here verifies against every
//! Kafka client.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::limits::{
    DEFAULT_SCRAM_ITERATIONS, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, SCRAM_SALT_BYTES,
};

/// A SCRAM mechanism: the hash it is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramMechanism {
    /// Both, in Kafka's order.
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Sha512];

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism of a SASL name (case-insensitive, `-` or `_`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(&name))
    }

    /// Kafka's number for it (AlterUserScramCredentials, and the stored key).
    pub fn kafka_code(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    /// The mechanism of Kafka's number.
    pub fn from_kafka_code(code: i8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.kafka_code() == code)
    }

    /// Bytes of a hash (and of every key).
    pub fn hash_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail.
        match self {
            Self::Sha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Sha512 => {
                let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0; self.hash_len()];
        match self {
            Self::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out),
            Self::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out),
        }
        out
    }
}

impl std::fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a server keeps of a password for one mechanism (RFC 5802 §2.2):
/// enough to verify a client's proof and to prove itself, not enough to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are secrets: never in logs.
        f.debug_struct("ScramCredential")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A credential that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "{iterations} iterations are too few for {mechanism}; use at least {MIN_SCRAM_ITERATIONS}"
    )]
    TooFewIterations {
        mechanism: ScramMechanism,
        iterations: i64,
    },
    #[error(
        "{iterations} iterations are too many for {mechanism}; use at most {MAX_SCRAM_ITERATIONS}"
    )]
    TooManyIterations {
        mechanism: ScramMechanism,
        iterations: i64,
    },
    #[error("a salted password for {mechanism} must be {expected} bytes, not {len}")]
    SaltedPasswordLength {
        mechanism: ScramMechanism,
        expected: usize,
        len: usize,
    },
    #[error("the salt must not be empty")]
    EmptySalt,
    #[error("the password must not be empty")]
    EmptyPassword,
}

impl ScramCredential {
    /// The credential of `password` with a fresh random salt and the default
    /// iteration count.
    pub fn new(mechanism: ScramMechanism, password: &str) -> Result<Self, CredentialError> {
        Self::with_iterations(mechanism, password, DEFAULT_SCRAM_ITERATIONS)
    }

    /// The credential of `password` with a fresh random salt.
    pub fn with_iterations(
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        let mut salt = vec![0; SCRAM_SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        Self::derive(mechanism, password, &salt, iterations)
    }

    /// The credential of `password` with the given salt and iterations.
    pub fn derive(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        if password.is_empty() {
            return Err(CredentialError::EmptyPassword);
        }
        check_iterations(mechanism, i64::from(iterations))?;
        let salted = mechanism.salted_password(password.as_bytes(), salt, iterations);
        Self::from_salted_password(mechanism, salt, iterations, &salted)
    }

    /// The credential of a salted password (what AlterUserScramCredentials
    /// sends: the client ran PBKDF2, the password never left it).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        iterations: u32,
        salted_password: &[u8],
    ) -> Result<Self, CredentialError> {
        check_iterations(mechanism, i64::from(iterations))?;
        if salt.is_empty() {
            return Err(CredentialError::EmptySalt);
        }
        if salted_password.len() != mechanism.hash_len() {
            return Err(CredentialError::SaltedPasswordLength {
                mechanism,
                expected: mechanism.hash_len(),
                len: salted_password.len(),
            });
        }
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        Ok(Self {
            salt: salt.to_vec(),
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
        })
    }

    /// Whether `password` is this credential's (for SASL/PLAIN): derived with
    /// the stored salt and iterations, compared in constant time. CPU-heavy
    /// (PBKDF2): run it off the async threads.
    pub fn matches_password(&self, mechanism: ScramMechanism, password: &str) -> bool {
        let salted = mechanism.salted_password(password.as_bytes(), &self.salt, self.iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        bool::from(mechanism.hash(&client_key).ct_eq(&self.stored_key))
    }

    /// Whether a client's proof over `auth_message` shows it knows the
    /// password (RFC 5802 §3): `ClientKey = ClientProof XOR
    /// HMAC(StoredKey, AuthMessage)` must hash to StoredKey.
    pub fn verifies_proof(
        &self,
        mechanism: ScramMechanism,
        auth_message: &[u8],
        proof: &[u8],
    ) -> bool {
        if proof.len() != mechanism.hash_len() || self.stored_key.len() != mechanism.hash_len() {
            return false;
        }
        let signature = mechanism.hmac(&self.stored_key, auth_message);
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        bool::from(mechanism.hash(&client_key).ct_eq(&self.stored_key))
    }

    /// `ServerSignature = HMAC(ServerKey, AuthMessage)`, the server's proof.
    pub fn server_signature(&self, mechanism: ScramMechanism, auth_message: &[u8]) -> Vec<u8> {
        mechanism.hmac(&self.server_key, auth_message)
    }
}

/// Kafka's bounds on iterations (4096 to 16384).
pub fn check_iterations(mechanism: ScramMechanism, iterations: i64) -> Result<(), CredentialError> {
    if iterations < i64::from(MIN_SCRAM_ITERATIONS) {
        return Err(CredentialError::TooFewIterations {
            mechanism,
            iterations,
        });
    }
    if iterations > i64::from(MAX_SCRAM_ITERATIONS) {
        return Err(CredentialError::TooManyIterations {
            mechanism,
            iterations,
        });
    }
    Ok(())
}

/// Conversions to and from the stored record.
impl ScramCredential {
    /// As stored in metadata.
    pub fn to_record(&self) -> stratus_storage::credentials::ScramRecord {
        stratus_storage::credentials::ScramRecord {
            salt: self.salt.clone(),
            iterations: self.iterations,
            stored_key: self.stored_key.clone(),
            server_key: self.server_key.clone(),
        }
    }

    /// From metadata.
    pub fn from_record(record: stratus_storage::credentials::ScramRecord) -> Self {
        Self {
            salt: record.salt,
            iterations: record.iterations,
            stored_key: record.stored_key,
            server_key: record.server_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for m in ScramMechanism::ALL {
            assert_eq!(ScramMechanism::from_name(m.name()), Some(m));
            assert_eq!(ScramMechanism::from_kafka_code(m.kafka_code()), Some(m));
        }
        assert_eq!(
            ScramMechanism::from_name("scram_sha_512"),
            Some(ScramMechanism::Sha512)
        );
        assert_eq!(ScramMechanism::from_name("SCRAM-SHA-1"), None);
        assert_eq!(ScramMechanism::from_kafka_code(0), None);
    }

    #[test]
    fn a_password_matches_only_its_credential() {
        for m in ScramMechanism::ALL {
            let credential = ScramCredential::new(m, "pencil").unwrap();
            assert_eq!(credential.stored_key.len(), m.hash_len());
            assert!(credential.matches_password(m, "pencil"));
            assert!(!credential.matches_password(m, "pencil "));
            assert!(!credential.matches_password(m, ""));
        }
    }

    #[test]
    fn bad_credentials_are_refused() {
        let m = ScramMechanism::Sha256;
        assert!(matches!(
            ScramCredential::derive(m, "p", b"salt", 100),
            Err(CredentialError::TooFewIterations { .. })
        ));
        assert!(matches!(
            ScramCredential::derive(m, "p", b"salt", 100_000),
            Err(CredentialError::TooManyIterations { .. })
        ));
        assert_eq!(
            ScramCredential::derive(m, "", b"salt", 4096),
            Err(CredentialError::EmptyPassword)
        );
        assert!(matches!(
            ScramCredential::from_salted_password(m, b"salt", 4096, &[0; 64]),
            Err(CredentialError::SaltedPasswordLength { len: 64, .. })
        ));
        assert_eq!(
            ScramCredential::from_salted_password(m, b"", 4096, &[0; 32]),
            Err(CredentialError::EmptySalt)
        );
    }

    #[test]
    fn debug_shows_no_keys() {
        let credential = ScramCredential::new(ScramMechanism::Sha256, "pencil").unwrap();
        let shown = format!("{credential:?}");
        assert!(!shown.contains("stored_key") && !shown.contains("server_key"));
    }
}
