//! One connection's SASL authentication: which requests it may send now, the
//! exchange in progress, and when its session runs out (KIP-368).
//!
//! Before a connection authenticates it may send ApiVersions, SaslHandshake
//! and SaslAuthenticate only; anything else closes it, as Kafka does. After
//! SaslHandshake v0 the next frames are bare SASL tokens (Kafka's
//! unframed exchange) until the exchange ends. Once the session expires only
//! a re-authentication (same user) is served.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kafka_protocol::messages::ApiKey;
use rand::RngCore;
use tokio::time::Instant;

use super::exchange::{Finished, ScramServer};
use super::messages::{parse_client_first, parse_plain};
use super::{FailureThrottle, Mechanism, SaslConfig, ScramMechanism};
use crate::limits::{
    DEFAULT_SCRAM_ITERATIONS, MAX_SASL_TOKEN_BYTES, MAX_UNAUTHENTICATED_FRAME_BYTES,
    SCRAM_SALT_BYTES, SCRAM_SERVER_NONCE_BYTES,
};
use crate::{Broker, BrokerError};

/// What a listener's connections share: the settings, the failure
/// throttle, and the key that makes unknown users' decoy salts.
#[derive(Debug)]
pub struct SaslContext {
    config: SaslConfig,
    throttle: FailureThrottle,
    decoy_key: [u8; 32],
}

impl SaslContext {
    /// The context of `config`; `None` when SASL is off.
    pub fn new(config: &SaslConfig) -> Option<Arc<Self>> {
        if !config.enabled() {
            return None;
        }
        let mut decoy_key = [0; 32];
        rand::rng().fill_bytes(&mut decoy_key);
        Some(Arc::new(Self {
            config: config.clone(),
            throttle: FailureThrottle::new(config.failure_delay),
            decoy_key,
        }))
    }

    fn names(&self) -> Vec<&'static str> {
        self.config.mechanisms.iter().map(|m| m.name()).collect()
    }
}

/// What to do with the next frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Decode and serve it.
    Serve,
    /// It is a bare SASL token (after SaslHandshake v0).
    RawToken,
    /// Close the connection without answering.
    Refuse(String),
}

/// The outcome of one SaslAuthenticate.
#[derive(Debug)]
pub(crate) enum AuthStep {
    /// Send this challenge; the exchange goes on.
    Continue(Vec<u8>),
    /// Authenticated: send this last token; the session lasts this long
    /// (0: forever).
    Done {
        token: Vec<u8>,
        session_lifetime_ms: i64,
    },
    /// Answer with this error, then close the connection.
    Failed(BrokerError),
}

#[derive(Debug, Default)]
enum Step {
    #[default]
    Idle,
    Handshaken {
        mechanism: Mechanism,
        raw: bool,
    },
    Scram {
        mechanism: ScramMechanism,
        server: ScramServer,
        raw: bool,
    },
}

#[derive(Debug, Clone)]
struct Principal {
    user: String,
    expires: Option<Instant>,
}

/// The authentication of one connection.
#[derive(Debug)]
pub(crate) struct SaslState {
    context: Option<Arc<SaslContext>>,
    peer: Option<IpAddr>,
    step: Step,
    principal: Option<Principal>,
}

const PRE_AUTH: [ApiKey; 3] = [
    ApiKey::ApiVersions,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
];

impl SaslState {
    pub(crate) fn new(context: Option<Arc<SaslContext>>, peer: Option<IpAddr>) -> Self {
        Self {
            context,
            peer,
            step: Step::Idle,
            principal: None,
        }
    }

    /// The authenticated user, if any.
    pub(crate) fn user(&self) -> Option<&str> {
        self.principal.as_ref().map(|p| p.user.as_str())
    }

    /// Largest frame to read next, when tighter than the listener's.
    pub(crate) fn frame_limit(&self) -> Option<u32> {
        (self.context.is_some() && self.principal.is_none())
            .then_some(MAX_UNAUTHENTICATED_FRAME_BYTES)
    }

    /// Whether a frame of `key` (`None`: too short to tell) may be served.
    pub(crate) fn gate(&self, key: Option<i16>) -> Gate {
        let Some(context) = &self.context else {
            return Gate::Serve;
        };
        if matches!(
            self.step,
            Step::Handshaken { raw: true, .. } | Step::Scram { raw: true, .. }
        ) {
            return Gate::RawToken;
        }
        let key = key.and_then(|k| ApiKey::try_from(k).ok());
        if key.is_some_and(|k| PRE_AUTH.contains(&k)) {
            return Gate::Serve;
        }
        let what = key.map_or_else(|| "a request".to_owned(), |k| format!("{k:?}"));
        match &self.principal {
            Some(p) if p.expires.is_none_or(|at| Instant::now() < at) => Gate::Serve,
            Some(p) => Gate::Refuse(format!(
                "{what} after the SASL session of user {:?} expired; the client must \
                 re-authenticate within kafka.sasl.max_session_lifetime (KIP-368)",
                p.user
            )),
            None => Gate::Refuse(format!(
                "{what} before SASL authentication; this listener requires SASL ({}): set \
                 security.protocol=SASL_SSL (or SASL_PLAINTEXT) and sasl.mechanism",
                context.names().join(", ")
            )),
        }
    }

    /// SaslHandshake: the mechanisms offered, and whether `mechanism` is one.
    pub(crate) fn handshake(
        &mut self,
        version: i16,
        mechanism: &str,
    ) -> (Vec<&'static str>, Result<(), BrokerError>) {
        let Some(context) = &self.context else {
            return (
                Vec::new(),
                Err(BrokerError::IllegalSaslState(
                    "SASL is not enabled on this listener; connect without SASL or set \
                     kafka.sasl.mechanisms"
                        .into(),
                )),
            );
        };
        let names = context.names();
        if !matches!(self.step, Step::Idle) {
            return (
                names,
                Err(BrokerError::IllegalSaslState(
                    "SaslHandshake in the middle of an authentication; finish it first".into(),
                )),
            );
        }
        let offered =
            Mechanism::from_name(mechanism).filter(|m| context.config.mechanisms.contains(m));
        let Some(mechanism) = offered else {
            let err = BrokerError::UnsupportedSaslMechanism(format!(
                "SASL mechanism {mechanism:?} is not enabled on this listener; it offers {}",
                names.join(", ")
            ));
            return (names, Err(err));
        };
        self.step = Step::Handshaken {
            mechanism,
            raw: version == 0,
        };
        (names, Ok(()))
    }

    /// One SaslAuthenticate (or bare token): the next step of the exchange.
    pub(crate) async fn authenticate<B: Broker + ?Sized>(
        &mut self,
        broker: &B,
        token: &[u8],
    ) -> AuthStep {
        let Some(context) = self.context.clone() else {
            return AuthStep::Failed(BrokerError::IllegalSaslState(
                "SASL is not enabled on this listener; connect without SASL".into(),
            ));
        };
        if token.len() > MAX_SASL_TOKEN_BYTES {
            self.step = Step::Idle;
            return AuthStep::Failed(BrokerError::SaslAuthenticationFailed(format!(
                "a SASL token of {} bytes exceeds the {MAX_SASL_TOKEN_BYTES}-byte limit",
                token.len()
            )));
        }
        match std::mem::take(&mut self.step) {
            Step::Idle => AuthStep::Failed(BrokerError::IllegalSaslState(
                "SaslAuthenticate before SaslHandshake; send SaslHandshake first".into(),
            )),
            Step::Handshaken {
                mechanism: Mechanism::Plain,
                ..
            } => self.plain(&context, broker, token).await,
            Step::Handshaken {
                mechanism: Mechanism::Scram(mechanism),
                raw,
            } => {
                self.scram_first(&context, broker, mechanism, raw, token)
                    .await
            }
            Step::Scram {
                mechanism, server, ..
            } => {
                context.throttle.wait(self.peer).await;
                match server.finish(token) {
                    Ok(Finished::Authenticated { user, server_final }) => {
                        self.establish(&context, &user, server_final)
                    }
                    Ok(Finished::WrongCredentials { user }) => {
                        self.fail(&context, &user, Mechanism::Scram(mechanism))
                    }
                    Err(malformed) => self.malformed(&context, malformed.to_string()),
                }
            }
        }
    }

    async fn plain<B: Broker + ?Sized>(
        &mut self,
        context: &SaslContext,
        broker: &B,
        token: &[u8],
    ) -> AuthStep {
        let message = match parse_plain(token) {
            Ok(message) => message,
            Err(e) => return self.malformed(context, e.to_string()),
        };
        context.throttle.wait(self.peer).await;
        // The strongest credential the user has.
        let mut found = None;
        for mechanism in [ScramMechanism::Sha512, ScramMechanism::Sha256] {
            match broker.scram_credential(&message.user, mechanism).await {
                Ok(Some(credential)) => {
                    found = Some((mechanism, credential));
                    break;
                }
                Ok(None) => {}
                Err(e) => return AuthStep::Failed(e),
            }
        }
        let Some((mechanism, credential)) = found else {
            return self.fail(context, &message.user, Mechanism::Plain);
        };
        // PBKDF2 is CPU work: off the async threads.
        let password = message.password.clone();
        let matches =
            tokio::task::spawn_blocking(move || credential.matches_password(mechanism, &password))
                .await
                .unwrap_or(false);
        if matches {
            self.establish(context, &message.user, Vec::new())
        } else {
            self.fail(context, &message.user, Mechanism::Plain)
        }
    }

    async fn scram_first<B: Broker + ?Sized>(
        &mut self,
        context: &SaslContext,
        broker: &B,
        mechanism: ScramMechanism,
        raw: bool,
        token: &[u8],
    ) -> AuthStep {
        let first = match parse_client_first(token) {
            Ok(first) => first,
            Err(e) => return self.malformed(context, e.to_string()),
        };
        if first.token_auth {
            return self.malformed(
                context,
                "delegation tokens (tokenauth) are not supported; authenticate as a user".into(),
            );
        }
        let credential = match broker.scram_credential(&first.user, mechanism).await {
            Ok(credential) => credential,
            Err(e) => return AuthStep::Failed(e),
        };
        let mut salt = mechanism.hmac(&context.decoy_key, first.user.as_bytes());
        salt.truncate(SCRAM_SALT_BYTES);
        let mut nonce = [0; SCRAM_SERVER_NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let (server, server_first) = ScramServer::start(
            mechanism,
            first,
            credential,
            (salt, DEFAULT_SCRAM_ITERATIONS),
            &STANDARD.encode(nonce),
        );
        self.step = Step::Scram {
            mechanism,
            server,
            raw,
        };
        AuthStep::Continue(server_first)
    }

    fn establish(&mut self, context: &SaslContext, user: &str, token: Vec<u8>) -> AuthStep {
        if let Some(previous) = &self.principal
            && previous.user != user
        {
            let err = BrokerError::SaslAuthenticationFailed(format!(
                "re-authentication must be as the same user: this connection authenticated as \
                 {:?}, not {user:?}",
                previous.user
            ));
            return AuthStep::Failed(err);
        }
        context.throttle.succeeded(self.peer);
        let lifetime = context.config.max_session_lifetime;
        self.principal = Some(Principal {
            user: user.to_owned(),
            expires: (!lifetime.is_zero()).then(|| Instant::now() + lifetime),
        });
        tracing::debug!(peer = ?self.peer, user, "Kafka client authenticated");
        AuthStep::Done {
            token,
            session_lifetime_ms: i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn fail(&mut self, context: &SaslContext, user: &str, mechanism: Mechanism) -> AuthStep {
        context.throttle.failed(self.peer);
        tracing::info!(peer = ?self.peer, user, %mechanism, "Kafka SASL authentication failed");
        AuthStep::Failed(BrokerError::SaslAuthenticationFailed(format!(
            "authentication of user {user:?} with {mechanism} failed: invalid user name or password"
        )))
    }

    fn malformed(&mut self, context: &SaslContext, reason: String) -> AuthStep {
        context.throttle.failed(self.peer);
        tracing::info!(peer = ?self.peer, %reason, "Kafka SASL authentication refused");
        AuthStep::Failed(BrokerError::SaslAuthenticationFailed(reason))
    }
}
