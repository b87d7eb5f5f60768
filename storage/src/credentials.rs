//! SASL/SCRAM credentials, kept in metadata so every gateway's Kafka
//! listener authenticates the same users ([`Tag::ScramCredential`]).
//!
//! A credential is what RFC 5802 lets a server keep: the salt, the iteration
//! count, StoredKey and ServerKey. It never holds a password, and this module
//! never sees one: deriving the keys is the Kafka listener's (and the CLI's)
//! work. This module stores bytes and checks only their shape.
//!
//! [`Tag::ScramCredential`]: crate::keys::Tag::ScramCredential

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stratus_meta::{MetaError, MetaStore, RangeOptions, RetryPolicy, run};

use crate::keys::KeySpace;

/// Longest user name stored, in bytes.
pub const MAX_USER_BYTES: usize = 256;

/// Fewest PBKDF2 iterations a credential may have (Kafka's and RFC 7677's
/// minimum).
pub const MIN_ITERATIONS: u32 = 4096;

/// Most PBKDF2 iterations a credential may have (Kafka's maximum).
pub const MAX_ITERATIONS: u32 = 16384;

/// Bytes of StoredKey and ServerKey for Kafka's mechanism number
/// (1 SCRAM-SHA-256, 2 SCRAM-SHA-512); `None` for any other.
pub fn key_len(mechanism: u16) -> Option<usize> {
    match mechanism {
        1 => Some(32),
        2 => Some(64),
        _ => None,
    }
}

/// One user's credential for one mechanism. Persisted as JSON: field names
/// are part of the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramRecord {
    /// The salt the password was hashed with.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

/// A stored credential with whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// The user (unescaped, as the client names it).
    pub user: String,
    /// Kafka's number of the mechanism (1 SCRAM-SHA-256, 2 SCRAM-SHA-512).
    pub mechanism: u16,
    /// The credential.
    pub record: ScramRecord,
}

/// Why a credential operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("user names must be 1 to {MAX_USER_BYTES} bytes, not {0}")]
    BadUser(usize),
    #[error("{0}")]
    BadCredential(String),
    #[error("user {user:?} has no SCRAM credentials; list users with `stratus user list`")]
    NotFound { user: String },
    #[error("SCRAM credential of user {user:?} is corrupt: {reason}")]
    Corrupt { user: String, reason: String },
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

/// The SCRAM credentials of one cluster. Cheap to share.
#[derive(Debug, Clone)]
pub struct ScramCredentials {
    meta: Arc<dyn MetaStore>,
    keys: KeySpace,
    retry: RetryPolicy,
}

impl ScramCredentials {
    pub fn new(meta: Arc<dyn MetaStore>, keys: KeySpace) -> Self {
        Self {
            meta,
            keys,
            retry: RetryPolicy::default(),
        }
    }

    /// The credential of `user` for `mechanism`, if there is one.
    pub async fn get(
        &self,
        user: &str,
        mechanism: u16,
    ) -> Result<Option<ScramRecord>, CredentialError> {
        check_user(user)?;
        let mut tx = self.meta.begin().await?;
        match tx.get(&self.keys.scram_credential(user, mechanism)).await? {
            Some(bytes) => decode(user, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every credential of `user`, by mechanism.
    pub async fn of_user(&self, user: &str) -> Result<Vec<StoredCredential>, CredentialError> {
        check_user(user)?;
        let (begin, end) = self.keys.scram_user_range(user);
        self.read_range(&begin, &end).await
    }

    /// Every credential of every user, ordered by user then mechanism.
    pub async fn list(&self) -> Result<Vec<StoredCredential>, CredentialError> {
        let (begin, end) = self.keys.scram_credentials_range();
        self.read_range(&begin, &end).await
    }

    async fn read_range(
        &self,
        begin: &[u8],
        end: &[u8],
    ) -> Result<Vec<StoredCredential>, CredentialError> {
        let mut tx = self.meta.begin().await?;
        let pairs = tx.get_range(begin, end, RangeOptions::default()).await?;
        pairs
            .iter()
            .map(|(key, value)| {
                let (user, mechanism) =
                    self.keys.scram_credential_decode(key).ok_or_else(|| {
                        CredentialError::Corrupt {
                            user: String::new(),
                            reason: "a key in the credential range does not decode".into(),
                        }
                    })?;
                let record = decode(&user, value)?;
                Ok(StoredCredential {
                    user,
                    mechanism,
                    record,
                })
            })
            .collect()
    }

    /// Creates or replaces the credential of `user` for `mechanism`.
    pub async fn put(
        &self,
        user: &str,
        mechanism: u16,
        record: &ScramRecord,
    ) -> Result<(), CredentialError> {
        check_user(user)?;
        check_record(mechanism, record)?;
        let key = self.keys.scram_credential(user, mechanism);
        let value = serde_json::to_vec(record).map_err(|e| CredentialError::Corrupt {
            user: user.to_owned(),
            reason: e.to_string(),
        })?;
        run(self.meta.as_ref(), &self.retry, |tx| {
            let (key, value) = (&key, &value);
            Box::pin(async move { tx.set(key, value) })
        })
        .await?;
        Ok(())
    }

    /// Deletes the credential of `user` for `mechanism`; `false` when there
    /// was none.
    pub async fn delete(&self, user: &str, mechanism: u16) -> Result<bool, CredentialError> {
        check_user(user)?;
        let key = self.keys.scram_credential(user, mechanism);
        let existed = run(self.meta.as_ref(), &self.retry, |tx| {
            let key = &key;
            Box::pin(async move {
                let existed = tx.get(key).await?.is_some();
                if existed {
                    tx.clear(key)?;
                }
                Ok(existed)
            })
        })
        .await?;
        Ok(existed)
    }
}

fn check_user(user: &str) -> Result<(), CredentialError> {
    if user.is_empty() || user.len() > MAX_USER_BYTES {
        return Err(CredentialError::BadUser(user.len()));
    }
    Ok(())
}

fn check_record(mechanism: u16, record: &ScramRecord) -> Result<(), CredentialError> {
    let bad = |s: String| Err(CredentialError::BadCredential(s));
    let Some(len) = key_len(mechanism) else {
        return bad(format!(
            "unknown SCRAM mechanism {mechanism}; use 1 (SCRAM-SHA-256) or 2 (SCRAM-SHA-512)"
        ));
    };
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&record.iterations) {
        return bad(format!(
            "{} iterations is outside {MIN_ITERATIONS} to {MAX_ITERATIONS}",
            record.iterations
        ));
    }
    if record.salt.is_empty() || record.stored_key.len() != len || record.server_key.len() != len {
        return bad(format!(
            "a credential needs a salt and {len}-byte StoredKey and ServerKey for this mechanism"
        ));
    }
    Ok(())
}

fn decode(user: &str, bytes: &[u8]) -> Result<ScramRecord, CredentialError> {
    serde_json::from_slice(bytes).map_err(|e| CredentialError::Corrupt {
        user: user.to_owned(),
        reason: e.to_string(),
    })
}
