//! The server side of a SCRAM exchange (RFC 5802 §5): client-first →
//! server-first, client-final → server-final. No I/O: the caller looks the
//! credential up and supplies the server nonce, so the exchange is
//! deterministic under test (RFC 7677's vector below).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::messages::{ClientFirst, MalformedSasl, parse_client_final};
use super::scram::{ScramCredential, ScramMechanism};

/// The exchange after the server-first message, waiting for client-final.
#[derive(Debug)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    user: String,
    gs2_header: String,
    nonce: String,
    /// `client-first-message-bare "," server-first-message`.
    auth_prefix: String,
    /// `None`: the user has no credential; the exchange runs on a made-up
    /// salt and fails at the proof, so the answer does not tell whether the
    /// user exists.
    credential: Option<ScramCredential>,
}

/// How a client-final message ended the exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// The proof holds: the user, and the server-final message to send.
    Authenticated {
        /// The authenticated user.
        user: String,
        /// `v=ServerSignature`.
        server_final: Vec<u8>,
    },
    /// The password is wrong (or the user unknown).
    WrongCredentials {
        /// The user the client named.
        user: String,
    },
}

impl ScramServer {
    /// Answers `first` with the server-first message. `credential` is the
    /// user's, or `None` with `decoy` (salt and iterations) standing in.
    pub fn start(
        mechanism: ScramMechanism,
        first: ClientFirst,
        credential: Option<ScramCredential>,
        decoy: (Vec<u8>, u32),
        server_nonce: &str,
    ) -> (Self, Vec<u8>) {
        let (salt, iterations) = match &credential {
            Some(c) => (c.salt.clone(), c.iterations),
            None => decoy,
        };
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!("r={nonce},s={},i={iterations}", STANDARD.encode(&salt));
        let auth_prefix = format!("{},{server_first}", first.bare);
        (
            Self {
                mechanism,
                user: first.user,
                gs2_header: first.gs2_header,
                nonce,
                auth_prefix,
                credential,
            },
            server_first.into_bytes(),
        )
    }

    /// The user the client named.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Checks the client-final message.
    pub fn finish(self, client_final: &[u8]) -> Result<Finished, MalformedSasl> {
        let last = parse_client_final(client_final)?;
        if last.channel_binding != self.gs2_header.as_bytes() {
            return Err(MalformedSasl {
                mechanism: "SCRAM",
                reason: "the channel binding does not repeat the client-first GS2 header".into(),
            });
        }
        if last.nonce != self.nonce {
            return Err(MalformedSasl {
                mechanism: "SCRAM",
                reason: "the nonce is not the one the server sent".into(),
            });
        }
        let auth_message = format!("{},{}", self.auth_prefix, last.without_proof);
        match self.credential {
            Some(credential)
                if credential.verifies_proof(
                    self.mechanism,
                    auth_message.as_bytes(),
                    &last.proof,
                ) =>
            {
                let signature =
                    credential.server_signature(self.mechanism, auth_message.as_bytes());
                Ok(Finished::Authenticated {
                    user: self.user,
                    server_final: format!("v={}", STANDARD.encode(signature)).into_bytes(),
                })
            }
            _ => Ok(Finished::WrongCredentials { user: self.user }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::messages::parse_client_first;
    use super::*;

    /// RFC 7677 §3: user "user", password "pencil".
    const CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_credential(password: &str) -> ScramCredential {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramCredential::derive(ScramMechanism::Sha256, password, &salt, 4096).unwrap()
    }

    fn start(credential: Option<ScramCredential>) -> (ScramServer, Vec<u8>) {
        let first = parse_client_first(CLIENT_FIRST).unwrap();
        let decoy = (b"decoy-salt".to_vec(), 4096);
        ScramServer::start(
            ScramMechanism::Sha256,
            first,
            credential,
            decoy,
            SERVER_NONCE,
        )
    }

    #[test]
    fn rfc_7677_test_vector() {
        let (server, server_first) = start(Some(rfc_credential("pencil")));
        assert_eq!(String::from_utf8(server_first).unwrap(), SERVER_FIRST);
        assert_eq!(
            server.finish(CLIENT_FINAL).unwrap(),
            Finished::Authenticated {
                user: "user".into(),
                server_final: SERVER_FINAL.as_bytes().to_vec(),
            }
        );
    }

    #[test]
    fn a_wrong_password_fails_the_proof() {
        let (server, _) = start(Some(rfc_credential("pen")));
        assert_eq!(
            server.finish(CLIENT_FINAL).unwrap(),
            Finished::WrongCredentials {
                user: "user".into()
            }
        );
    }

    #[test]
    fn an_unknown_user_gets_a_decoy_salt_and_fails_the_same_way() {
        let (server, server_first) = start(None);
        let text = String::from_utf8(server_first).unwrap();
        assert!(
            text.contains(&format!("s={}", STANDARD.encode("decoy-salt"))),
            "{text}"
        );
        assert_eq!(
            server.finish(CLIENT_FINAL).unwrap(),
            Finished::WrongCredentials {
                user: "user".into()
            }
        );
    }

    #[test]
    fn a_replayed_nonce_or_binding_is_malformed() {
        let (server, _) = start(Some(rfc_credential("pencil")));
        let err = server
            .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap_err();
        assert!(err.reason.contains("nonce"), "{err}");
        let (server, _) = start(Some(rfc_credential("pencil")));
        let err = server
            .finish(b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap_err();
        assert!(err.reason.contains("channel binding"), "{err}");
    }

    #[test]
    fn sha_512_round_trips_with_a_client_computed_proof() {
        let m = ScramMechanism::Sha512;
        let credential = ScramCredential::derive(m, "secret", b"NaCl-salt", 4096).unwrap();
        let first = parse_client_first(b"n,,n=alice,r=cnonce").unwrap();
        let (server, server_first) =
            ScramServer::start(m, first, Some(credential), (Vec::new(), 4096), "snonce");
        let server_first = String::from_utf8(server_first).unwrap();
        // The client's side, from the password.
        let salted = m.salted_password(b"secret", b"NaCl-salt", 4096);
        let client_key = m.hmac(&salted, b"Client Key");
        let without_proof = "c=biws,r=cnoncesnonce";
        let auth = format!("n=alice,r=cnonce,{server_first},{without_proof}");
        let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let client_final = format!("{without_proof},p={}", STANDARD.encode(proof));
        let Finished::Authenticated { user, server_final } =
            server.finish(client_final.as_bytes()).unwrap()
        else {
            panic!("the proof should hold");
        };
        assert_eq!(user, "alice");
        let expected = m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(
            server_final,
            format!("v={}", STANDARD.encode(expected)).into_bytes()
        );
    }
}
