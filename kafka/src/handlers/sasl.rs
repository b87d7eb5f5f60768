//! SaslHandshake and SaslAuthenticate: Kafka's framing of a SASL exchange,
//! over the connection's [`SaslState`]. Run at admission (one request at a
//! time), so the next request is gated by what this one established.

use bytes::Bytes;
use kafka_protocol::messages::{
    ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};

use super::str_bytes;
use crate::sasl::state::{AuthStep, SaslState};
use crate::{Broker, BrokerError};

/// SaslHandshake v0-1: the mechanisms offered, and whether the client's is one.
pub(crate) fn handshake(
    state: &mut SaslState,
    version: i16,
    request: &SaslHandshakeRequest,
) -> ResponseKind {
    let (mechanisms, outcome) = state.handshake(version, &request.mechanism);
    let code = outcome.as_ref().err().map_or(0, BrokerError::code);
    if let Err(e) = &outcome {
        tracing::debug!(error = %e, "SaslHandshake refused");
    }
    ResponseKind::SaslHandshake(
        SaslHandshakeResponse::default()
            .with_error_code(code)
            .with_mechanisms(mechanisms.into_iter().map(str_bytes).collect()),
    )
}

/// What SaslAuthenticate answers, and whether the connection closes after it.
pub(crate) struct Authenticated {
    pub(crate) response: ResponseKind,
    pub(crate) close: Option<String>,
}

/// SaslAuthenticate v0-2: one step of the exchange. A failure is answered
/// (SASL_AUTHENTICATION_FAILED with the reason) and closes the connection,
/// as Kafka does.
pub(crate) async fn authenticate<B: Broker + ?Sized>(
    state: &mut SaslState,
    broker: &B,
    version: i16,
    request: &SaslAuthenticateRequest,
) -> Authenticated {
    let out = SaslAuthenticateResponse::default();
    match state.authenticate(broker, &request.auth_bytes).await {
        AuthStep::Continue(token) => Authenticated {
            response: ResponseKind::SaslAuthenticate(out.with_auth_bytes(Bytes::from(token))),
            close: None,
        },
        AuthStep::Done {
            token,
            session_lifetime_ms,
        } => {
            let mut out = out.with_auth_bytes(Bytes::from(token));
            if version >= 1 {
                out.session_lifetime_ms = session_lifetime_ms;
            }
            Authenticated {
                response: ResponseKind::SaslAuthenticate(out),
                close: None,
            }
        }
        AuthStep::Failed(e) => Authenticated {
            response: ResponseKind::SaslAuthenticate(
                out.with_error_code(e.code())
                    .with_error_message(e.message()),
            ),
            close: Some(e.to_string()),
        },
    }
}

/// A bare token after SaslHandshake v0: the answer is a bare token too, and
/// a failure closes the connection without one (Kafka's unframed exchange).
pub(crate) async fn raw_token<B: Broker + ?Sized>(
    state: &mut SaslState,
    broker: &B,
    token: &[u8],
) -> Result<Vec<u8>, String> {
    match state.authenticate(broker, token).await {
        AuthStep::Continue(token) | AuthStep::Done { token, .. } => Ok(token),
        AuthStep::Failed(e) => Err(e.to_string()),
    }
}
