//! Parsers of the SASL messages clients send: SCRAM's client-first and
//! client-final messages (RFC 5802 §7) and PLAIN's single message (RFC 4616).
//! Pure functions over bytes; every refusal says what was wrong. The fuzz
//! target `sasl_messages` feeds them arbitrary bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::limits::{MAX_SASL_NAME_BYTES, MAX_SCRAM_NONCE_BYTES};

/// Client bytes that are not a message of the mechanism.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {mechanism} message: {reason}")]
pub struct MalformedSasl {
    /// The mechanism whose message it should have been.
    pub mechanism: &'static str,
    /// What was wrong.
    pub reason: String,
}

fn malformed(mechanism: &'static str, reason: impl Into<String>) -> MalformedSasl {
    MalformedSasl {
        mechanism,
        reason: reason.into(),
    }
}

const SCRAM: &str = "SCRAM";

/// A parsed SCRAM client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The GS2 header (`n,,` or `y,,`, or with `a=` an authorization id) as
    /// sent: the client-final message's channel binding must repeat it.
    pub gs2_header: String,
    /// The user, unescaped (`=2C` is `,`, `=3D` is `=`).
    pub user: String,
    /// The client's nonce.
    pub nonce: String,
    /// `client-first-message-bare`, the start of the AuthMessage.
    pub bare: String,
    /// Kafka's `tokenauth=true` extension (delegation tokens).
    pub token_auth: bool,
}

/// A parsed SCRAM client-final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The decoded channel binding (`c=`): the GS2 header again, since
    /// channel binding is not supported.
    pub channel_binding: Vec<u8>,
    /// The combined client and server nonce (`r=`).
    pub nonce: String,
    /// `client-final-message-without-proof`, the end of the AuthMessage.
    pub without_proof: String,
    /// The decoded `ClientProof` (`p=`).
    pub proof: Vec<u8>,
}

/// A parsed PLAIN message: `[authzid] NUL authcid NUL passwd`.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainMessage {
    /// The authorization id; empty or the user.
    pub authzid: String,
    /// The user.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for PlainMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainMessage")
            .field("authzid", &self.authzid)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Parses a SCRAM client-first message.
pub fn parse_client_first(bytes: &[u8]) -> Result<ClientFirst, MalformedSasl> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed(SCRAM, "the client-first message is not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed(
            SCRAM,
            "the client-first message must start with a GS2 header such as \"n,,\"",
        ));
    };
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => {
            return Err(malformed(
                SCRAM,
                "channel binding (SCRAM-...-PLUS) is not supported; use a mechanism without -PLUS",
            ));
        }
        _ => {
            return Err(malformed(
                SCRAM,
                format!("the GS2 channel-binding flag must be \"n\" or \"y\", not {flag:?}"),
            ));
        }
    }
    let authzid = match authzid {
        "" => None,
        a => Some(sasl_name(a.strip_prefix("a=").ok_or_else(|| {
            malformed(SCRAM, "the authorization id must start with \"a=\"")
        })?)?),
    };
    let mut fields = bare.split(',');
    let user = match fields.next() {
        Some(f) if f.starts_with("m=") => {
            return Err(malformed(
                SCRAM,
                "mandatory extensions (m=) are not supported",
            ));
        }
        Some(f) => sasl_name(f.strip_prefix("n=").ok_or_else(|| {
            malformed(
                SCRAM,
                "the client-first message must name the user with \"n=\"",
            )
        })?)?,
        None => unreachable!("split yields at least one field"),
    };
    if user.is_empty() {
        return Err(malformed(SCRAM, "the user name is empty"));
    }
    if let Some(authzid) = authzid
        && authzid != user
    {
        return Err(malformed(
            SCRAM,
            format!("the authorization id {authzid:?} must be empty or the user {user:?}"),
        ));
    }
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed(SCRAM, "the client-first message has no nonce (\"r=\")"))?;
    check_nonce(nonce)?;
    let mut token_auth = false;
    for extension in fields {
        let Some((key, value)) = extension.split_once('=') else {
            return Err(malformed(
                SCRAM,
                format!("extension {extension:?} is not KEY=VALUE"),
            ));
        };
        if key.is_empty() {
            return Err(malformed(SCRAM, "an extension has an empty name"));
        }
        if key == "tokenauth" {
            token_auth = value.eq_ignore_ascii_case("true");
        }
    }
    Ok(ClientFirst {
        gs2_header: text[..text.len() - bare.len()].to_owned(),
        user,
        nonce: nonce.to_owned(),
        bare: bare.to_owned(),
        token_auth,
    })
}

/// Parses a SCRAM client-final message.
pub fn parse_client_final(bytes: &[u8]) -> Result<ClientFinal, MalformedSasl> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed(SCRAM, "the client-final message is not UTF-8"))?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(|| {
        malformed(
            SCRAM,
            "the client-final message ends without a proof (\"p=\")",
        )
    })?;
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| malformed(SCRAM, "the proof is not base64"))?;
    let mut fields = without_proof.split(',');
    let binding = fields
        .next()
        .and_then(|f| f.strip_prefix("c="))
        .ok_or_else(|| {
            malformed(
                SCRAM,
                "the client-final message must start with the channel binding (\"c=\")",
            )
        })?;
    let channel_binding = STANDARD
        .decode(binding)
        .map_err(|_| malformed(SCRAM, "the channel binding is not base64"))?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed(SCRAM, "the client-final message has no nonce (\"r=\")"))?;
    check_nonce(nonce)?;
    Ok(ClientFinal {
        channel_binding,
        nonce: nonce.to_owned(),
        without_proof: without_proof.to_owned(),
        proof,
    })
}

/// Parses a PLAIN message.
pub fn parse_plain(bytes: &[u8]) -> Result<PlainMessage, MalformedSasl> {
    const PLAIN: &str = "PLAIN";
    let text =
        std::str::from_utf8(bytes).map_err(|_| malformed(PLAIN, "the message is not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            PLAIN,
            "expected authorization id, user and password separated by NUL bytes",
        ));
    };
    if user.is_empty() || password.is_empty() {
        return Err(malformed(
            PLAIN,
            "the user and the password must not be empty",
        ));
    }
    if user.len() > MAX_SASL_NAME_BYTES || authzid.len() > MAX_SASL_NAME_BYTES {
        return Err(malformed(
            PLAIN,
            format!("user names are at most {MAX_SASL_NAME_BYTES} bytes"),
        ));
    }
    if !authzid.is_empty() && authzid != user {
        return Err(malformed(
            PLAIN,
            format!("the authorization id {authzid:?} must be empty or the user {user:?}"),
        ));
    }
    Ok(PlainMessage {
        authzid: authzid.to_owned(),
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

/// Unescapes a `saslname`: `=2C` is `,`, `=3D` is `=`, any other `=` is an
/// error (RFC 5802 §5.1).
fn sasl_name(escaped: &str) -> Result<String, MalformedSasl> {
    if escaped.len() > MAX_SASL_NAME_BYTES * 3 {
        return Err(malformed(
            SCRAM,
            format!("user names are at most {MAX_SASL_NAME_BYTES} bytes"),
        ));
    }
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => {
                return Err(malformed(
                    SCRAM,
                    "a name has \"=\" not followed by 2C or 3D; escape \",\" as =2C and \"=\" as =3D",
                ));
            }
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.len() > MAX_SASL_NAME_BYTES {
        return Err(malformed(
            SCRAM,
            format!("user names are at most {MAX_SASL_NAME_BYTES} bytes"),
        ));
    }
    Ok(out)
}

fn check_nonce(nonce: &str) -> Result<(), MalformedSasl> {
    if nonce.is_empty() || nonce.len() > MAX_SCRAM_NONCE_BYTES {
        return Err(malformed(
            SCRAM,
            format!("the nonce must be 1 to {MAX_SCRAM_NONCE_BYTES} bytes"),
        ));
    }
    if !nonce
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(malformed(
            SCRAM,
            "the nonce must be printable ASCII without commas",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_first_parses() {
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.gs2_header, "n,,");
        assert_eq!(first.user, "user");
        assert_eq!(first.nonce, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert!(!first.token_auth);
        let escaped = parse_client_first(b"y,a=a=2Cb=3D,n=a=2Cb=3D,r=x,tokenauth=true").unwrap();
        assert_eq!(escaped.user, "a,b=");
        assert_eq!(escaped.gs2_header, "y,a=a=2Cb=3D,");
        assert!(escaped.token_auth);
    }

    #[test]
    fn bad_client_first_messages_say_why() {
        for (bytes, says) in [
            (&b"p=tls-unique,,n=u,r=x"[..], "channel binding"),
            (b"q,,n=u,r=x", "flag"),
            (b"n,,m=ext,n=u,r=x", "mandatory extensions"),
            (b"n,,u,r=x", "\"n=\""),
            (b"n,,n=,r=x", "empty"),
            (b"n,,n=u=2X,r=x", "escape"),
            (b"n,,n=u", "nonce"),
            (b"n,,n=u,r=", "nonce"),
            (b"n,,n=u,r=a b", "printable"),
            (b"n,a=v,n=u,r=x", "authorization id"),
            (b"n,x,n=u,r=x", "a="),
            (b"n,,n=u,r=x,ext", "KEY=VALUE"),
            (b"n,", "GS2 header"),
            (b"\xff,,n=u,r=x", "UTF-8"),
        ] {
            let err = parse_client_first(bytes).unwrap_err();
            assert!(err.to_string().contains(says), "{bytes:?}: {err}");
        }
    }

    #[test]
    fn client_final_parses() {
        let last =
            parse_client_final(b"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
                .unwrap();
        assert_eq!(last.channel_binding, b"n,,");
        assert_eq!(last.nonce, "abc");
        assert_eq!(last.without_proof, "c=biws,r=abc");
        assert_eq!(last.proof.len(), 32);
        for (bytes, says) in [
            (&b"c=biws,r=abc"[..], "proof"),
            (b"c=biws,r=abc,p=***", "base64"),
            (b"r=abc,p=AAAA", "channel binding"),
            (b"c=***,r=abc,p=AAAA", "base64"),
            (b"c=biws,p=AAAA", "nonce"),
        ] {
            let err = parse_client_final(bytes).unwrap_err();
            assert!(err.to_string().contains(says), "{bytes:?}: {err}");
        }
    }

    #[test]
    fn plain_parses() {
        let plain = parse_plain(b"\0alice\0secret").unwrap();
        assert_eq!(
            (plain.user.as_str(), plain.password.as_str()),
            ("alice", "secret")
        );
        assert!(parse_plain(b"alice\0alice\0secret").is_ok());
        assert!(!format!("{plain:?}").contains("secret"));
        for (bytes, says) in [
            (&b"alice\0secret"[..], "NUL"),
            (b"\0alice\0secret\0", "NUL"),
            (b"\0\0secret", "empty"),
            (b"\0alice\0", "empty"),
            (b"bob\0alice\0secret", "authorization id"),
            (b"\0\xff\0secret", "UTF-8"),
        ] {
            let err = parse_plain(bytes).unwrap_err();
            assert!(err.to_string().contains(says), "{bytes:?}: {err}");
        }
    }
}
