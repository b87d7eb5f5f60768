//! SASL on the Kafka listener: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
//! against SCRAM credentials kept in metadata, so every gateway knows every
//! user.
//!
//! - [`scram`]: credentials (derive, check a password, check a proof);
//! - [`messages`]: parsers of client SASL bytes, fuzzed;
//! - [`exchange`]: the server side of a SCRAM exchange, no I/O;
//! - `state`: one connection's authentication (which requests it may send,
//!   the exchange in progress, the session's expiry);
//! - `throttle`: repeated failures from one address slowed down;
//! - [`SaslConfig`], the settings of `[kafka.sasl]`.
//!
//! Kafka messages are the handlers' (`handlers/sasl.rs`); this module
//! speaks bytes and [`BrokerError`](crate::BrokerError)s, and never logs a
//! password or a key.

mod config;
pub mod exchange;
pub mod messages;
pub mod scram;
pub(crate) mod state;
mod throttle;

use std::fmt;

use serde::{Serialize, Serializer};

pub use config::SaslConfig;
pub use scram::{CredentialError, ScramCredential, ScramMechanism};
pub use state::SaslContext;
pub use throttle::FailureThrottle;

/// A SASL mechanism the listener can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): user and password in the clear, so over TLS only in
    /// practice; checked against the user's SCRAM credential.
    Plain,
    /// SCRAM with SHA-256 or SHA-512.
    Scram(ScramMechanism),
}

impl Mechanism {
    /// Every mechanism, in the order a listener offers them by default.
    pub const ALL: [Self; 3] = [
        Self::Scram(ScramMechanism::Sha512),
        Self::Scram(ScramMechanism::Sha256),
        Self::Plain,
    ];

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Scram(m) => m.name(),
        }
    }

    /// The mechanism of a SASL name (case-insensitive; `_` for `-`).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PLAIN") {
            return Some(Self::Plain);
        }
        ScramMechanism::from_name(name).map(Self::Scram)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Mechanism {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A user with SCRAM credentials, as DescribeUserScramCredentials lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramUser {
    /// The user.
    pub user: String,
    /// Each credential's mechanism and iteration count.
    pub credentials: Vec<(ScramMechanism, u32)>,
}
