//! The listeners a server process is about to open, checked against
//! `stratus_security::check_exposure` before any of them binds: one
//! reachable beyond loopback without TLS and client authentication stops
//! the start unless `insecure = true`. On the Kafka listener, SASL
//! (`kafka.sasl.mechanisms`) counts as client authentication, as client
//! certificates do: SASL_SSL is protected, SASL_PLAINTEXT is not.

use stratus_security::{Listener, check_exposure};

use crate::settings::ServerSettings;

/// Fails naming the first exposed, unprotected listener and its settings.
pub(crate) fn check(settings: &ServerSettings) -> anyhow::Result<()> {
    let gateway = &settings.gateway;
    let mut listeners = vec![Listener {
        setting: "gateway.listen",
        addr: gateway.listen,
        tls: gateway.tls.enabled(),
        tls_setting: "gateway.tls.cert",
        authenticated: gateway.tls.mutual(),
        auth_settings: "`gateway.tls.client_ca`",
    }];
    if settings.kafka.enabled {
        listeners.push(Listener {
            setting: "kafka.listen",
            addr: settings.kafka.listen,
            tls: settings.kafka.tls.enabled(),
            tls_setting: "kafka.tls.cert",
            authenticated: settings.kafka.tls.mutual() || settings.kafka.sasl.enabled(),
            auth_settings: "`kafka.tls.client_ca` or `kafka.sasl.mechanisms`",
        });
    }
    if gateway.quic.enabled {
        // QUIC always encrypts, but has no client authentication yet.
        listeners.push(Listener {
            setting: "gateway.quic.listen",
            addr: gateway.quic.listen,
            tls: true,
            tls_setting: "gateway.quic.cert",
            authenticated: false,
            auth_settings: "`gateway.quic.enabled = false` (QUIC has no client authentication yet)",
        });
    }
    check_exposure(&listeners, settings.insecure)?;
    Ok(())
}
