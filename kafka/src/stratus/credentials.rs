//! SCRAM users of the running cluster: [`Broker`](crate::Broker)'s
//! credential methods over `stratus_storage::credentials`, so a user made on
//! one gateway (with `stratus user create` or AlterUserScramCredentials)
//! logs in on every other.

use stratus_storage::credentials::{CredentialError, ScramCredentials, StoredCredential};

use crate::BrokerError;
use crate::sasl::{ScramCredential, ScramMechanism, ScramUser};

fn code(mechanism: ScramMechanism) -> u16 {
    u16::from(mechanism.kafka_code().unsigned_abs())
}

/// The credential of `user`; an unstorable name has none.
pub(super) async fn get(
    store: &ScramCredentials,
    user: &str,
    mechanism: ScramMechanism,
) -> Result<Option<ScramCredential>, BrokerError> {
    match store.get(user, code(mechanism)).await {
        Ok(record) => Ok(record.map(ScramCredential::from_record)),
        Err(CredentialError::BadUser(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The users with credentials, grouped by user in name order.
pub(super) async fn users(
    store: &ScramCredentials,
    users: Option<Vec<String>>,
) -> Result<Vec<ScramUser>, BrokerError> {
    let stored = match users {
        None => store.list().await?,
        Some(names) => {
            let mut stored = Vec::new();
            for name in names {
                match store.of_user(&name).await {
                    Ok(mut of) => stored.append(&mut of),
                    Err(CredentialError::BadUser(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            stored
        }
    };
    let mut out: Vec<ScramUser> = Vec::new();
    for StoredCredential {
        user,
        mechanism,
        record,
    } in stored
    {
        let Some(mechanism) = i8::try_from(mechanism)
            .ok()
            .and_then(ScramMechanism::from_kafka_code)
        else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.user == user => {
                last.credentials.push((mechanism, record.iterations));
            }
            _ => out.push(ScramUser {
                user,
                credentials: vec![(mechanism, record.iterations)],
            }),
        }
    }
    Ok(out)
}

/// Stores or deletes one credential.
pub(super) async fn alter(
    store: &ScramCredentials,
    user: &str,
    mechanism: ScramMechanism,
    credential: Option<ScramCredential>,
) -> Result<(), BrokerError> {
    match credential {
        Some(credential) => {
            store
                .put(user, code(mechanism), &credential.to_record())
                .await?;
            tracing::info!(user, %mechanism, "SCRAM credential stored");
            Ok(())
        }
        None => {
            if store.delete(user, code(mechanism)).await? {
                tracing::info!(user, %mechanism, "SCRAM credential deleted");
                Ok(())
            } else {
                Err(BrokerError::ResourceNotFound(format!(
                    "user {user:?} has no {mechanism} credential to delete; list users with \
                     `stratus user list`"
                )))
            }
        }
    }
}
