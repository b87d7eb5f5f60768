//! DescribeUserScramCredentials and AlterUserScramCredentials: SCRAM users
//! administered with Kafka's admin tools (`kafka-configs --alter
//! --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users`,
//! AdminClient). With Kafka's rules: results per user, a credential named
//! twice in one request is DUPLICATE_RESOURCE and changes nothing for that
//! user, iterations outside 4096-16384 are UNACCEPTABLE_CREDENTIAL.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, ResponseKind,
};

use super::str_bytes;
use crate::error::code_of;
use crate::sasl::scram::check_iterations;
use crate::sasl::{CredentialError, ScramCredential, ScramMechanism, ScramUser};
use crate::{Broker, BrokerError};

pub(crate) async fn describe<B: Broker + ?Sized>(
    broker: &B,
    request: DescribeUserScramCredentialsRequest,
) -> ResponseKind {
    let out = DescribeUserScramCredentialsResponse::default();
    let asked: Option<Vec<String>> = request
        .users
        .filter(|u| !u.is_empty())
        .map(|u| u.iter().map(|n| n.name.to_string()).collect());
    let found = match broker.scram_users(asked.clone()).await {
        Ok(found) => found,
        Err(e) => {
            return ResponseKind::DescribeUserScramCredentials(
                out.with_error_code(e.code())
                    .with_error_message(e.message()),
            );
        }
    };
    let results = match asked {
        None => found
            .iter()
            .map(|u| described(u.user.as_str(), Ok(u)))
            .collect(),
        Some(asked) => asked
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let outcome = if asked[..i].contains(name) {
                    Err(BrokerError::DuplicateResource(format!(
                        "user {name:?} is named twice; describe each user once per request"
                    )))
                } else {
                    found.iter().find(|u| &u.user == name).ok_or_else(|| {
                        BrokerError::ResourceNotFound(format!(
                            "user {name:?} has no SCRAM credentials; create them with \
                             `stratus user create {name}`"
                        ))
                    })
                };
                described(name, outcome)
            })
            .collect(),
    };
    ResponseKind::DescribeUserScramCredentials(out.with_results(results))
}

fn described(
    name: &str,
    outcome: Result<&ScramUser, BrokerError>,
) -> DescribeUserScramCredentialsResult {
    let out = DescribeUserScramCredentialsResult::default().with_user(str_bytes(name));
    match outcome {
        Ok(user) => out.with_credential_infos(
            user.credentials
                .iter()
                .map(|(m, iterations)| {
                    CredentialInfo::default()
                        .with_mechanism(m.kafka_code())
                        .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                })
                .collect(),
        ),
        Err(e) => out
            .with_error_code(e.code())
            .with_error_message(e.message()),
    }
}

/// One requested change: a credential to store, or `None` to delete.
type Change = (String, i8, Option<Result<ScramCredential, BrokerError>>);

pub(crate) async fn alter<B: Broker + ?Sized>(
    broker: &B,
    request: AlterUserScramCredentialsRequest,
) -> ResponseKind {
    let mut changes: Vec<Change> = request
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism, None))
        .collect();
    for u in &request.upsertions {
        let credential = match ScramMechanism::from_kafka_code(u.mechanism) {
            None => Err(unknown_mechanism(u.mechanism)),
            Some(m) => upserted(m, u.iterations, &u.salt, &u.salted_password),
        };
        changes.push((u.name.to_string(), u.mechanism, Some(credential)));
    }
    let mut users: Vec<String> = Vec::new();
    for (user, ..) in &changes {
        if !users.contains(user) {
            users.push(user.clone());
        }
    }
    let mut results = Vec::with_capacity(users.len());
    for user in users {
        let mine: Vec<&Change> = changes.iter().filter(|c| c.0 == user).collect();
        let outcome = alter_user(broker, &user, &mine).await;
        results.push(
            AlterUserScramCredentialsResult::default()
                .with_user(str_bytes(&user))
                .with_error_code(code_of(&outcome))
                .with_error_message(outcome.err().and_then(|e| e.message())),
        );
    }
    ResponseKind::AlterUserScramCredentials(
        AlterUserScramCredentialsResponse::default().with_results(results),
    )
}

fn upserted(
    mechanism: ScramMechanism,
    iterations: i32,
    salt: &[u8],
    salted_password: &[u8],
) -> Result<ScramCredential, BrokerError> {
    let unacceptable = |e: CredentialError| BrokerError::UnacceptableCredential(e.to_string());
    check_iterations(mechanism, i64::from(iterations)).map_err(unacceptable)?;
    let iterations = u32::try_from(iterations).unwrap_or_default();
    ScramCredential::from_salted_password(mechanism, salt, iterations, salted_password)
        .map_err(unacceptable)
}

fn unknown_mechanism(code: i8) -> BrokerError {
    BrokerError::UnsupportedSaslMechanism(format!(
        "unknown SCRAM mechanism {code}; use 1 (SCRAM-SHA-256) or 2 (SCRAM-SHA-512)"
    ))
}

/// Checks all of one user's changes, then applies them in order.
async fn alter_user<B: Broker + ?Sized>(
    broker: &B,
    user: &str,
    changes: &[&Change],
) -> Result<(), BrokerError> {
    if user.is_empty() {
        return Err(BrokerError::UnacceptableCredential(
            "the user name must not be empty".into(),
        ));
    }
    for (i, (_, code, _)) in changes.iter().enumerate() {
        if changes[..i].iter().any(|(_, c, _)| c == code) {
            return Err(BrokerError::DuplicateResource(format!(
                "the {} credential of user {user:?} is changed twice; change each once per request",
                ScramMechanism::from_kafka_code(*code).map_or("same", ScramMechanism::name)
            )));
        }
    }
    let mut checked = Vec::with_capacity(changes.len());
    for (_, code, credential) in changes {
        let mechanism =
            ScramMechanism::from_kafka_code(*code).ok_or_else(|| unknown_mechanism(*code))?;
        let credential = match credential {
            None => None,
            Some(Ok(c)) => Some(c.clone()),
            Some(Err(e)) => return Err(e.clone()),
        };
        checked.push((mechanism, credential));
    }
    for (mechanism, credential) in checked {
        broker
            .alter_scram_credential(user, mechanism, credential)
            .await?;
    }
    Ok(())
}
