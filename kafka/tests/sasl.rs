//! SASL through a session: SaslHandshake and SaslAuthenticate with PLAIN
//! and SCRAM (the client side computed here from the password), requests
//! refused before authentication, failures answered and closed, KIP-368
//! expiry and re-authentication, the unframed exchange after SaslHandshake
//! v0, and users administered with Describe/AlterUserScramCredentials.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use stratus_kafka::sasl::{Mechanism, SaslConfig, SaslContext, ScramCredential, ScramMechanism};
use stratus_kafka::{Broker, Reply, Session};
use support::*;

const SASL_AUTHENTICATION_FAILED: i16 = 58;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;

fn config(mechanisms: &[Mechanism], lifetime: Duration) -> SaslConfig {
    SaslConfig {
        mechanisms: mechanisms.to_vec(),
        max_session_lifetime: lifetime,
        failure_delay: Duration::ZERO,
    }
}

async fn broker_with_user(user: &str, password: &str) -> Arc<FakeBroker> {
    let broker = Arc::new(FakeBroker::with_topics(&[("orders", 1)]));
    for m in ScramMechanism::ALL {
        let credential = ScramCredential::derive(m, password, b"salt-of-the-test", 4096).unwrap();
        broker
            .alter_scram_credential(user, m, Some(credential))
            .await
            .unwrap();
    }
    broker
}

fn sasl_session(broker: &Arc<FakeBroker>, config: &SaslConfig) -> Session<FakeBroker> {
    session(broker).with_sasl(SaslContext::new(config), Some([10, 0, 0, 1].into()))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

async fn handshake(session: &mut Session<FakeBroker>, mechanism: &str) -> SaslHandshakeResponse {
    let request = SaslHandshakeRequest::default().with_mechanism(s(mechanism));
    match ask(
        session,
        ApiKey::SaslHandshake,
        1,
        RequestKind::SaslHandshake(request),
    )
    .await
    {
        ResponseKind::SaslHandshake(r) => r,
        other => panic!("{other:?}"),
    }
}

/// One SaslAuthenticate v2; the response and whether the connection closes.
async fn authenticate(
    session: &mut Session<FakeBroker>,
    token: &[u8],
) -> (SaslAuthenticateResponse, bool) {
    let request = RequestKind::SaslAuthenticate(
        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token)),
    );
    let frame = request_frame(ApiKey::SaslAuthenticate, 2, 7, &request);
    let (frame, closes) = match call(session, &frame).await {
        Reply::Frame(frame) => (frame, false),
        Reply::FrameThenClose(frame, _) => (frame, true),
        other => panic!("{other:?}"),
    };
    match parse_response(ApiKey::SaslAuthenticate, 2, &frame).1 {
        ResponseKind::SaslAuthenticate(r) => (r, closes),
        other => panic!("{other:?}"),
    }
}

/// The client side of SCRAM: client-final for `server_first`, and the
/// server signature the server must answer with.
fn client_final(
    m: ScramMechanism,
    password: &str,
    client_first_bare: &str,
    server_first: &str,
) -> (String, String) {
    let mut salt = None;
    let mut iterations = 0;
    let mut nonce = "";
    for field in server_first.split(',') {
        match field.split_at(2) {
            ("r=", v) => nonce = v,
            ("s=", v) => salt = Some(STANDARD.decode(v).unwrap()),
            ("i=", v) => iterations = v.parse().unwrap(),
            _ => {}
        }
    }
    let salted = m.salted_password(password.as_bytes(), &salt.unwrap(), iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let server_signature = m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes());
    (
        format!("{without_proof},p={}", STANDARD.encode(proof)),
        format!("v={}", STANDARD.encode(server_signature)),
    )
}

/// A whole SCRAM login; the last response and whether the connection closes.
async fn scram_login(
    session: &mut Session<FakeBroker>,
    m: ScramMechanism,
    user: &str,
    password: &str,
) -> (SaslAuthenticateResponse, bool) {
    let hs = handshake(session, m.name()).await;
    assert_eq!(hs.error_code, 0);
    let bare = format!("n={user},r=client-nonce-1");
    let (first, closes) = authenticate(session, format!("n,,{bare}").as_bytes()).await;
    assert_eq!(first.error_code, 0, "{:?}", first.error_message);
    assert!(!closes);
    let server_first = std::str::from_utf8(&first.auth_bytes).unwrap().to_owned();
    assert!(
        server_first.starts_with("r=client-nonce-1"),
        "{server_first}"
    );
    let (last, server_signature) = client_final(m, password, &bare, &server_first);
    let (done, closes) = authenticate(session, last.as_bytes()).await;
    if done.error_code == 0 {
        assert_eq!(&done.auth_bytes[..], server_signature.as_bytes());
    }
    (done, closes)
}

async fn metadata_reply(session: &mut Session<FakeBroker>) -> Reply {
    call(
        session,
        &request_frame(ApiKey::Metadata, 12, 9, &metadata(None)),
    )
    .await
}

#[tokio::test]
async fn scram_logins_succeed_and_then_any_request_is_served() {
    let broker = broker_with_user("alice", "pencil").await;
    for m in ScramMechanism::ALL {
        let config = config(&Mechanism::ALL, Duration::from_secs(3600));
        let mut session = sasl_session(&broker, &config);
        // ApiVersions is allowed before authenticating.
        let versions = RequestKind::ApiVersions(ApiVersionsRequest::default());
        assert!(matches!(
            ask(&mut session, ApiKey::ApiVersions, 3, versions).await,
            ResponseKind::ApiVersions(_)
        ));
        let hs = handshake(&mut session, m.name()).await;
        assert_eq!(
            hs.mechanisms
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>(),
            vec!["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
        );
        let mut session = sasl_session(&broker, &config);
        let (done, closes) = scram_login(&mut session, m, "alice", "pencil").await;
        assert_eq!(done.error_code, 0, "{:?}", done.error_message);
        assert!(!closes);
        assert_eq!(done.session_lifetime_ms, 3_600_000);
        assert_eq!(session.user().as_deref(), Some("alice"));
        assert!(matches!(
            metadata_reply(&mut session).await,
            Reply::Frame(_)
        ));
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_a_message_and_closes() {
    let broker = broker_with_user("alice", "pencil").await;
    let config = config(&Mechanism::ALL, Duration::ZERO);
    for (user, password) in [("alice", "pen"), ("nobody", "pencil")] {
        let mut session = sasl_session(&broker, &config);
        let (done, closes) =
            scram_login(&mut session, ScramMechanism::Sha512, user, password).await;
        assert_eq!(done.error_code, SASL_AUTHENTICATION_FAILED);
        let message = done.error_message.unwrap().to_string();
        assert!(
            message.contains("invalid user name or password"),
            "{message}"
        );
        assert!(closes);
        assert!(matches!(
            metadata_reply(&mut session).await,
            Reply::Close(_)
        ));
    }
}

#[tokio::test]
async fn plain_checks_the_stored_scram_credential() {
    let broker = broker_with_user("alice", "pencil").await;
    let config = config(&[Mechanism::Plain], Duration::ZERO);
    let mut session = sasl_session(&broker, &config);
    assert_eq!(handshake(&mut session, "PLAIN").await.error_code, 0);
    let (done, closes) = authenticate(&mut session, b"\0alice\0pencil").await;
    assert_eq!(
        (done.error_code, closes),
        (0, false),
        "{:?}",
        done.error_message
    );
    assert_eq!(done.session_lifetime_ms, 0);
    assert!(matches!(
        metadata_reply(&mut session).await,
        Reply::Frame(_)
    ));

    for token in [&b"\0alice\0pen"[..], b"\0bob\0pencil", b"no separators"] {
        let mut session = sasl_session(&broker, &config);
        handshake(&mut session, "PLAIN").await;
        let (done, closes) = authenticate(&mut session, token).await;
        assert_eq!(done.error_code, SASL_AUTHENTICATION_FAILED, "{token:?}");
        assert!(done.error_message.is_some());
        assert!(closes);
    }
}

#[tokio::test]
async fn requests_before_authentication_close_the_connection() {
    let broker = broker_with_user("alice", "pencil").await;
    let config = config(&[Mechanism::Plain], Duration::ZERO);
    let mut session = sasl_session(&broker, &config);
    match metadata_reply(&mut session).await {
        Reply::Close(reason) => assert!(reason.contains("before SASL authentication"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Unauthenticated frames are bounded well below the listener's.
    assert!(session.frame_limit().unwrap() <= 512 * 1024);
    // A mechanism not offered is answered, and SaslAuthenticate without a
    // handshake is out of order.
    let mut session = sasl_session(&broker, &config);
    let hs = handshake(&mut session, "SCRAM-SHA-256").await;
    assert_eq!(hs.error_code, UNSUPPORTED_SASL_MECHANISM);
    assert_eq!(hs.mechanisms, vec![s("PLAIN")]);
    let (done, closes) = authenticate(&mut session, b"\0alice\0pencil").await;
    assert_eq!((done.error_code, closes), (ILLEGAL_SASL_STATE, true));
}

#[tokio::test]
async fn without_sasl_everything_is_served_and_handshakes_are_illegal() {
    let broker = broker_with_user("alice", "pencil").await;
    let mut session = session(&broker);
    assert!(matches!(
        metadata_reply(&mut session).await,
        Reply::Frame(_)
    ));
    assert_eq!(
        handshake(&mut session, "PLAIN").await.error_code,
        ILLEGAL_SASL_STATE
    );
    assert_eq!(session.frame_limit(), None);
}

#[tokio::test(start_paused = true)]
async fn an_expired_session_must_reauthenticate_as_the_same_user() {
    let broker = broker_with_user("alice", "pencil").await;
    let alice2 = ScramCredential::derive(ScramMechanism::Sha256, "other", b"salt-2", 4096).unwrap();
    broker
        .alter_scram_credential("bob", ScramMechanism::Sha256, Some(alice2))
        .await
        .unwrap();
    let config = config(&Mechanism::ALL, Duration::from_secs(10));
    let mut session = sasl_session(&broker, &config);
    let (done, _) = scram_login(&mut session, ScramMechanism::Sha256, "alice", "pencil").await;
    assert_eq!(done.session_lifetime_ms, 10_000);
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(matches!(
        metadata_reply(&mut session).await,
        Reply::Frame(_)
    ));
    // Re-authenticating before expiry extends the session.
    let (done, closes) = scram_login(&mut session, ScramMechanism::Sha512, "alice", "pencil").await;
    assert_eq!((done.error_code, closes), (0, false));
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(matches!(
        metadata_reply(&mut session).await,
        Reply::Frame(_)
    ));
    tokio::time::advance(Duration::from_secs(2)).await;
    match metadata_reply(&mut session).await {
        Reply::Close(reason) => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Another user cannot take an authenticated connection over.
    let mut session = sasl_session(&broker, &config);
    scram_login(&mut session, ScramMechanism::Sha256, "alice", "pencil").await;
    let (done, closes) = scram_login(&mut session, ScramMechanism::Sha256, "bob", "other").await;
    assert_eq!(
        (done.error_code, closes),
        (SASL_AUTHENTICATION_FAILED, true)
    );
    assert!(done.error_message.unwrap().contains("same user"));
}

#[tokio::test]
async fn handshake_v0_exchanges_bare_tokens() {
    let broker = broker_with_user("alice", "pencil").await;
    let config = config(&Mechanism::ALL, Duration::ZERO);
    let mut session = sasl_session(&broker, &config);
    let request = SaslHandshakeRequest::default().with_mechanism(s("SCRAM-SHA-256"));
    let response = ask(
        &mut session,
        ApiKey::SaslHandshake,
        0,
        RequestKind::SaslHandshake(request),
    )
    .await;
    assert!(matches!(response, ResponseKind::SaslHandshake(r) if r.error_code == 0));
    let bare = "n=alice,r=raw-nonce";
    let first = format!("n,,{bare}");
    let raw = |token: &[u8]| {
        let mut frame = (token.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(token);
        Bytes::from(frame)
    };
    let Reply::Frame(answer) = call(&mut session, &raw(first.as_bytes())).await else {
        panic!("server-first expected");
    };
    let server_first = std::str::from_utf8(&answer[4..]).unwrap().to_owned();
    let (last, signature) = client_final(ScramMechanism::Sha256, "pencil", bare, &server_first);
    let Reply::Frame(answer) = call(&mut session, &raw(last.as_bytes())).await else {
        panic!("server-final expected");
    };
    assert_eq!(&answer[4..], signature.as_bytes());
    assert!(matches!(
        metadata_reply(&mut session).await,
        Reply::Frame(_)
    ));
    // A wrong password in the unframed exchange closes without an answer.
    let mut session = sasl_session(&broker, &config);
    let request = SaslHandshakeRequest::default().with_mechanism(s("PLAIN"));
    ask(
        &mut session,
        ApiKey::SaslHandshake,
        0,
        RequestKind::SaslHandshake(request),
    )
    .await;
    assert!(matches!(
        call(&mut session, &raw(b"\0alice\0nope")).await,
        Reply::Close(_)
    ));
}

#[tokio::test]
async fn alter_then_describe_then_login() {
    let broker = Arc::new(FakeBroker::with_topics(&[]));
    let mut admin = session(&broker);
    let m = ScramMechanism::Sha512;
    let salted = m.salted_password(b"secret", b"the-salt", 4096);
    use alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
    let upsert = |name: &str, mechanism: i8, iterations: i32| {
        ScramCredentialUpsertion::default()
            .with_name(s(name))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(Bytes::from_static(b"the-salt"))
            .with_salted_password(Bytes::from(salted.clone()))
    };
    let request = AlterUserScramCredentialsRequest::default()
        .with_upsertions(vec![
            upsert("carol", 2, 4096),
            upsert("dave", 2, 100),
            upsert("erin", 9, 4096),
            upsert("frank", 2, 4096),
        ])
        .with_deletions(vec![
            ScramCredentialDeletion::default()
                .with_name(s("frank"))
                .with_mechanism(2),
            ScramCredentialDeletion::default()
                .with_name(s("gina"))
                .with_mechanism(1),
        ]);
    let ResponseKind::AlterUserScramCredentials(altered) = ask(
        &mut admin,
        ApiKey::AlterUserScramCredentials,
        0,
        RequestKind::AlterUserScramCredentials(request),
    )
    .await
    else {
        panic!("AlterUserScramCredentials response expected");
    };
    let codes: Vec<(String, i16)> = altered
        .results
        .iter()
        .map(|r| (r.user.to_string(), r.error_code))
        .collect();
    // frank: twice in one request; gina: nothing to delete; dave: too few
    // iterations; erin: no such mechanism.
    assert_eq!(
        codes,
        vec![
            ("frank".into(), 92),
            ("gina".into(), 91),
            ("carol".into(), 0),
            ("dave".into(), 93),
            ("erin".into(), 33),
        ]
    );
    let ResponseKind::DescribeUserScramCredentials(described) = ask(
        &mut admin,
        ApiKey::DescribeUserScramCredentials,
        0,
        RequestKind::DescribeUserScramCredentials(Default::default()),
    )
    .await
    else {
        panic!("DescribeUserScramCredentials response expected");
    };
    assert_eq!(described.results.len(), 1);
    assert_eq!(described.results[0].user, s("carol"));
    assert_eq!(described.results[0].credential_infos[0].mechanism, 2);
    assert_eq!(described.results[0].credential_infos[0].iterations, 4096);
    let request = DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
        describe_user_scram_credentials_request::UserName::default().with_name(s("zed")),
    ]));
    let ResponseKind::DescribeUserScramCredentials(missing) = ask(
        &mut admin,
        ApiKey::DescribeUserScramCredentials,
        0,
        RequestKind::DescribeUserScramCredentials(request),
    )
    .await
    else {
        panic!("DescribeUserScramCredentials response expected");
    };
    assert_eq!(missing.results[0].error_code, 91);

    let config = config(&Mechanism::ALL, Duration::ZERO);
    let mut session = sasl_session(&broker, &config);
    let (done, _) = scram_login(&mut session, m, "carol", "secret").await;
    assert_eq!(done.error_code, 0, "{:?}", done.error_message);
}
