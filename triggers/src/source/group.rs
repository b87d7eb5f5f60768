//! [`Source`] on the SDK's group consumer: manual commits only, so an offset
//! is committed only when the dispatcher says the function succeeded.

use std::time::Duration;

use async_trait::async_trait;
use stratus_format::trigger::{StartPosition, TriggerSpec};
use stratus_sdk::{Client, GroupConfig, GroupConsumer, GroupEvent, StartFrom, TopicPartition};

use super::{Source, SourceEvent};
use crate::limits::GROUP_FETCH_WAIT;
use crate::record::{Partition, Record};

#[derive(Debug)]
pub struct GroupSource {
    consumer: GroupConsumer,
}

impl GroupSource {
    /// Joins the trigger's group (`trigger-{name}`) on its topic.
    pub async fn join(
        client: &Client,
        spec: &TriggerSpec,
        session_timeout: Option<Duration>,
    ) -> Result<Self, String> {
        let mut config = GroupConfig::new(spec.group(), [spec.topic.clone()]);
        config.client_id = format!("stratus-dispatcher/{}", spec.name);
        config.auto_commit = None;
        config.start = match spec.start {
            StartPosition::Earliest => StartFrom::Earliest,
            StartPosition::Latest => StartFrom::Latest,
        };
        config.session_timeout = session_timeout;
        config.fetch_wait = GROUP_FETCH_WAIT;
        let consumer = client
            .group_consumer(config)
            .await
            .map_err(|e| format!("cannot join group {:?}: {e}", spec.group()))?;
        Ok(Self { consumer })
    }
}

fn tp(p: &Partition) -> TopicPartition {
    TopicPartition::new(p.topic.clone(), p.partition)
}

fn partition(tp: TopicPartition) -> Partition {
    Partition {
        topic: tp.topic,
        partition: tp.partition,
    }
}

#[async_trait]
impl Source for GroupSource {
    async fn poll(&mut self) -> Result<SourceEvent, String> {
        Ok(
            match self.consumer.poll().await.map_err(|e| e.to_string())? {
                GroupEvent::Assigned(tps) => {
                    SourceEvent::Assigned(tps.into_iter().map(partition).collect())
                }
                GroupEvent::Revoked(tps) => {
                    SourceEvent::Revoked(tps.into_iter().map(partition).collect())
                }
                GroupEvent::Records(records) => SourceEvent::Records(
                    records
                        .into_iter()
                        .map(|r| Record {
                            topic: r.topic,
                            partition: r.partition,
                            offset: r.offset,
                            timestamp_ms: r.timestamp_ms,
                            key: r.key,
                            value: r.value,
                            headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                        })
                        .collect(),
                ),
            },
        )
    }

    fn pause(&mut self, partitions: &[Partition]) {
        let tps: Vec<_> = partitions.iter().map(tp).collect();
        self.consumer.pause(&tps);
    }

    fn resume(&mut self, partitions: &[Partition]) {
        let tps: Vec<_> = partitions.iter().map(tp).collect();
        self.consumer.resume(&tps);
    }

    async fn commit(&mut self, partition: &Partition, next_offset: i64) -> Result<(), String> {
        self.consumer
            .commit_offsets(&[(tp(partition), next_offset)])
            .await
            .map_err(|e| e.to_string())
    }

    async fn close(self: Box<Self>) {
        if let Err(e) = self.consumer.close().await {
            tracing::debug!(error = %e, "leaving the group failed; its session will expire");
        }
    }
}
