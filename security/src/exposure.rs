//! A listener on an address other machines can reach must encrypt and
//! authenticate, or be explicitly marked insecure: a gateway that anyone on
//! the network can administer should never start by accident. Loopback
//! listeners (`stratus dev`, tests) are exempt, because only this machine's
//! users can reach them.

use std::net::SocketAddr;

/// One listener, as the exposure check sees it.
#[derive(Debug, Clone)]
pub struct Listener<'a> {
    /// The listen setting's name, e.g. `gateway.listen`.
    pub setting: &'a str,
    /// The address it binds.
    pub addr: SocketAddr,
    /// Whether it serves TLS.
    pub tls: bool,
    /// The setting that turns TLS on, e.g. `gateway.tls.cert`.
    pub tls_setting: &'a str,
    /// Whether clients must authenticate.
    pub authenticated: bool,
    /// The settings that turn authentication on, for the message.
    pub auth_settings: &'a str,
}

/// A non-loopback listener without TLS or authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to listen on {addr} (`{setting}`) {missing}: anyone who can reach it could read \
     and change every topic; set {fix}, listen on a loopback address, or set `insecure = true` \
     (STRATUS_INSECURE=true) if the network itself is trusted"
)]
pub struct ExposureError {
    /// The listen setting.
    pub setting: String,
    /// Its address.
    pub addr: SocketAddr,
    /// "without TLS", "without authentication" or both.
    pub missing: String,
    /// The settings to set.
    pub fix: String,
}

/// Refuses the first listener that is reachable beyond loopback without TLS
/// and authentication, unless `insecure`.
pub fn check_exposure(listeners: &[Listener<'_>], insecure: bool) -> Result<(), ExposureError> {
    if insecure {
        return Ok(());
    }
    for listener in listeners {
        if listener.addr.ip().is_loopback() || (listener.tls && listener.authenticated) {
            continue;
        }
        let (missing, fix) = match (listener.tls, listener.authenticated) {
            (false, false) => (
                "without TLS or client authentication",
                format!("`{}` and {}", listener.tls_setting, listener.auth_settings),
            ),
            (false, true) => ("without TLS", format!("`{}`", listener.tls_setting)),
            _ => (
                "without client authentication",
                listener.auth_settings.to_owned(),
            ),
        };
        return Err(ExposureError {
            setting: listener.setting.to_owned(),
            addr: listener.addr,
            missing: missing.to_owned(),
            fix,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(addr: &str, tls: bool, authenticated: bool) -> Listener<'static> {
        Listener {
            setting: "kafka.listen",
            addr: addr.parse().unwrap(),
            tls,
            tls_setting: "kafka.tls.cert",
            authenticated,
            auth_settings: "`kafka.tls.client_ca`",
        }
    }

    #[test]
    fn loopback_is_always_allowed() {
        check_exposure(&[listener("127.0.0.1:9092", false, false)], false).unwrap();
        check_exposure(&[listener("[::1]:9092", false, false)], false).unwrap();
    }

    #[test]
    fn an_exposed_listener_needs_tls_and_authentication() {
        check_exposure(&[listener("0.0.0.0:9092", true, true)], false).unwrap();
        for (tls, auth, missing) in [
            (false, false, "without TLS or client authentication"),
            (true, false, "without client authentication"),
            (false, true, "without TLS"),
        ] {
            let err = check_exposure(&[listener("0.0.0.0:9092", tls, auth)], false).unwrap_err();
            assert_eq!(err.missing, missing);
            let message = err.to_string();
            assert!(message.contains("`kafka.listen`"), "{message}");
            assert!(message.contains("insecure = true"), "{message}");
        }
        let err = check_exposure(&[listener("10.0.0.5:9092", false, false)], false).unwrap_err();
        assert!(err.to_string().contains("`kafka.tls.cert`"), "{err}");
    }

    #[test]
    fn insecure_allows_anything() {
        check_exposure(&[listener("0.0.0.0:9092", false, false)], true).unwrap();
    }
}
