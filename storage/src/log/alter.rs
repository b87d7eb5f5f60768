//! Changes to a topic after its creation: more partitions, another
//! configuration. Each is one metadata transaction that rewrites the topic
//! record, so every reader sees the old record or the new one, never a mix.
//!
//! The topic's id, name and creation time never change here, its partitions
//! only grow and its configuration passes the same checks as at creation.
//! Nothing here touches a partition's data or offsets: a new partition is
//! empty (no head key reads as next offset 0, no log start key as 0), and
//! appends, which check only that the topic id is live, never conflict with
//! these transactions.

use super::catalog::read_topic;
use super::{Log, LogError};
use crate::topic::{TopicConfig, TopicRecord, TopicSpecError, validate_partitions};
use stratus_meta::{MetaError, run};

/// What one attempt of [`Log::update_topic`]'s transaction found.
enum Outcome<E> {
    Missing,
    Refused(E),
    Invalid(TopicSpecError),
    Updated(TopicRecord),
}

impl Log {
    /// Grows topic `name` to `total` partitions; the new ones are empty and
    /// keys hash over the new count from then on. Asking for no more than it
    /// has is [`TopicSpecError::PartitionsNotIncreased`]; with
    /// `validate_only` everything is checked and nothing written. Returns the
    /// topic as it is (or would be) afterwards.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<TopicRecord, LogError> {
        validate_partitions(total)?;
        let grow = |topic: &TopicRecord| {
            if total <= topic.partitions {
                return Err(TopicSpecError::PartitionsNotIncreased {
                    topic: topic.name.clone(),
                    current: topic.partitions,
                    requested: total,
                });
            }
            Ok(TopicRecord {
                partitions: total,
                ..topic.clone()
            })
        };
        self.update_topic(name, validate_only, &grow)
            .await?
            .map_err(LogError::from)
    }

    /// Gives topic `name` the configuration `edit` makes of its current one,
    /// read in the same transaction (so concurrent changes both apply), and
    /// checked by [`TopicConfig::validate`] as at creation. `Ok(Err(_))`:
    /// `edit` refused and nothing changed. With `validate_only` nothing is
    /// written. Returns the topic as it is (or would be) afterwards.
    pub async fn alter_topic_config<E: Send>(
        &self,
        name: &str,
        validate_only: bool,
        edit: &(dyn Fn(&TopicConfig) -> Result<TopicConfig, E> + Sync),
    ) -> Result<Result<TopicRecord, E>, LogError> {
        let reconfigure = |topic: &TopicRecord| {
            Ok(TopicRecord {
                config: edit(&topic.config)?,
                ..topic.clone()
            })
        };
        self.update_topic(name, validate_only, &reconfigure).await
    }

    /// Rewrites topic `name`'s record as `edit` makes it, in one
    /// transaction, keeping its identity and refusing fewer partitions or an
    /// invalid configuration whatever `edit` returned.
    async fn update_topic<E: Send>(
        &self,
        name: &str,
        validate_only: bool,
        edit: &(dyn Fn(&TopicRecord) -> Result<TopicRecord, E> + Sync),
    ) -> Result<Result<TopicRecord, E>, LogError> {
        let by_name = self.keys.topic_by_name(name);
        let outcome = run(self.meta.as_ref(), &self.retry, |tx| {
            let by_name = &by_name;
            Box::pin(async move {
                let Some(current) = read_topic(tx, by_name).await? else {
                    return Ok(Outcome::Missing);
                };
                let updated = match edit(&current) {
                    Ok(updated) => TopicRecord {
                        id: current.id,
                        name: current.name.clone(),
                        created_at_ms: current.created_at_ms,
                        ..updated
                    },
                    Err(refused) => return Ok(Outcome::Refused(refused)),
                };
                if let Err(invalid) = check_update(&current, &updated) {
                    return Ok(Outcome::Invalid(invalid));
                }
                if !validate_only {
                    let json = serde_json::to_vec(&updated).map_err(|e| {
                        MetaError::Backend(format!("cannot encode topic record: {e}"))
                    })?;
                    tx.set(by_name, &json)?;
                }
                Ok(Outcome::Updated(updated))
            })
        })
        .await?;
        match outcome {
            Outcome::Missing => Err(LogError::TopicNotFound {
                name: name.to_owned(),
            }),
            Outcome::Refused(refused) => Ok(Err(refused)),
            Outcome::Invalid(invalid) => Err(invalid.into()),
            Outcome::Updated(updated) => Ok(Ok(updated)),
        }
    }
}

/// The rules every change of a topic record keeps.
fn check_update(current: &TopicRecord, updated: &TopicRecord) -> Result<(), TopicSpecError> {
    validate_partitions(updated.partitions)?;
    if updated.partitions < current.partitions {
        return Err(TopicSpecError::PartitionsNotIncreased {
            topic: current.name.clone(),
            current: current.partitions,
            requested: updated.partitions,
        });
    }
    updated.config.validate()
}
