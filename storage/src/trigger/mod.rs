//! Trigger definitions, kept in metadata so any gateway can create, list and
//! delete them and any dispatcher can run them.
//!
//! Creating checks the topics inside the transaction that writes the
//! definition, so a trigger never names a topic that did not exist when it was
//! created. What a definition is and how it is checked lives in
//! `stratus-format` (so the dispatcher reads it without linking storage); this
//! module stores it. It never talks to the network or to functions; the
//! dispatcher (crate `stratus-triggers`) does.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::keys::KeySpace;
use crate::topic::TopicRecord;
use stratus_meta::{MetaError, MetaStore, RangeOptions, RetryPolicy, Transaction, run};

pub use stratus_format::trigger::{
    FunctionArn, MAX_BATCH_BYTES, MAX_BATCH_SIZE, MAX_BATCHING_WINDOW_MS, MAX_RECORD_AGE_MS,
    MAX_RETRIES, MAX_TIMEOUT_MS, StartPosition, Target, TriggerSpec, TriggerSpecError, group_of,
    validate_trigger_name,
};

/// Why a trigger operation was refused. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{0}")]
    Invalid(String),
    #[error("topic {name:?} not found; create it with `stratus topic create {name}`")]
    TopicNotFound { name: String },
    #[error(
        "partition {partition} does not exist: topic {topic:?} has partitions 0..{partitions}; \
         pass partitions in that range or none for all"
    )]
    PartitionNotFound {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    #[error(
        "trigger {name:?} already exists; pick another name or delete it with `stratus trigger delete {name}`"
    )]
    AlreadyExists { name: String },
    #[error("trigger {name:?} not found; list triggers with `stratus trigger list`")]
    NotFound { name: String },
    #[error("trigger metadata is corrupt: {0}")]
    Corrupt(String),
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

impl From<TriggerSpecError> for TriggerError {
    fn from(e: TriggerSpecError) -> Self {
        Self::Invalid(e.0)
    }
}

/// The trigger definitions of one cluster. Cheap to share.
#[derive(Debug, Clone)]
pub struct Triggers {
    meta: Arc<dyn MetaStore>,
    keys: KeySpace,
    retry: RetryPolicy,
}

impl Triggers {
    pub fn new(meta: Arc<dyn MetaStore>, keys: KeySpace) -> Self {
        Self {
            meta,
            keys,
            retry: RetryPolicy::default(),
        }
    }

    /// Stores a new trigger after checking it, its topic, partitions and
    /// on-failure topic. On any error nothing is written.
    pub async fn create(&self, spec: TriggerSpec) -> Result<TriggerSpec, TriggerError> {
        spec.validate()?;
        let key = self.keys.trigger(&spec.name);
        let value = serde_json::to_vec(&spec).map_err(|e| TriggerError::Corrupt(e.to_string()))?;
        let outcome = run(self.meta.as_ref(), &self.retry, |tx| {
            let (key, value, spec) = (&key, &value, &spec);
            Box::pin(async move {
                if tx.get(key).await?.is_some() {
                    return Ok(Err(TriggerError::AlreadyExists {
                        name: spec.name.clone(),
                    }));
                }
                if let Err(e) = self.check_topics(tx, spec).await? {
                    return Ok(Err(e));
                }
                tx.set(key, value)?;
                Ok(Ok(()))
            })
        })
        .await?;
        outcome.map(|()| spec)
    }

    async fn check_topics(
        &self,
        tx: &mut dyn Transaction,
        spec: &TriggerSpec,
    ) -> Result<Result<(), TriggerError>, MetaError> {
        let Some(topic) = self.read_topic(tx, &spec.topic).await? else {
            return Ok(Err(TriggerError::TopicNotFound {
                name: spec.topic.clone(),
            }));
        };
        if let Some(&partition) = spec.partitions.iter().find(|&&p| p >= topic.partitions) {
            return Ok(Err(TriggerError::PartitionNotFound {
                topic: spec.topic.clone(),
                partition,
                partitions: topic.partitions,
            }));
        }
        if let Some(failure) = &spec.on_failure_topic
            && self.read_topic(tx, failure).await?.is_none()
        {
            return Ok(Err(TriggerError::TopicNotFound {
                name: failure.clone(),
            }));
        }
        Ok(Ok(()))
    }

    async fn read_topic(
        &self,
        tx: &mut dyn Transaction,
        name: &str,
    ) -> Result<Option<TopicRecord>, MetaError> {
        match tx.get(&self.keys.topic_by_name(name)).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| MetaError::Backend(format!("topic record does not decode: {e}"))),
            None => Ok(None),
        }
    }

    /// One trigger by name.
    pub async fn get(&self, name: &str) -> Result<TriggerSpec, TriggerError> {
        let mut tx = self.meta.begin().await?;
        match tx.get(&self.keys.trigger(name)).await? {
            Some(bytes) => decode(&bytes),
            None => Err(TriggerError::NotFound {
                name: name.to_owned(),
            }),
        }
    }

    /// Every trigger, ordered by name.
    pub async fn list(&self) -> Result<Vec<TriggerSpec>, TriggerError> {
        let (begin, end) = self.keys.triggers_range();
        let mut tx = self.meta.begin().await?;
        let pairs = tx.get_range(&begin, &end, RangeOptions::default()).await?;
        pairs.iter().map(|(_, v)| decode(v)).collect()
    }

    /// Deletes a trigger; dispatchers stop it at their next refresh. Its
    /// group's committed offsets stay (delete them with `stratus group delete`).
    pub async fn delete(&self, name: &str) -> Result<TriggerSpec, TriggerError> {
        let key = self.keys.trigger(name);
        let deleted = run(self.meta.as_ref(), &self.retry, |tx| {
            let key = &key;
            Box::pin(async move {
                let Some(bytes) = tx.get(key).await? else {
                    return Ok(None);
                };
                tx.clear(key)?;
                Ok(Some(bytes))
            })
        })
        .await?;
        match deleted {
            Some(bytes) => decode(&bytes),
            None => Err(TriggerError::NotFound {
                name: name.to_owned(),
            }),
        }
    }
}

fn decode(bytes: &[u8]) -> Result<TriggerSpec, TriggerError> {
    serde_json::from_slice(bytes)
        .map_err(|e| TriggerError::Corrupt(format!("trigger record does not decode: {e}")))
}
