//! [`Broker`] over a running gateway: Kafka requests reach the same produce
//! path, fetch path and topic administration as gRPC and QUIC, so a record
//! produced over one protocol is read over the other. Translation only:
//! every rule (validation, durability, idempotence) is the gateway's.

use std::sync::Arc;

use async_trait::async_trait;
use stratus_gateway::{
    Admission, Fetch, FetchPartition as GatewayFetchPartition, GatewayCore, PartitionData,
    PartitionProduce, Produce, ProducerFields,
};
use stratus_storage::log::{DeleteRecordsTo, OffsetQuery};
use stratus_storage::registry::Membership;
use stratus_storage::topic::{TopicConfig, TopicRecord};
use uuid::Uuid;

use stratus_storage::log::now_ms;

use super::membership::Member;
use super::{consumer_groups, credentials, groups, topic_config};
use crate::sasl::{ScramCredential, ScramMechanism, ScramUser};
use crate::{
    Appended, Broker, BrokerError, BrokerNode, ClassicDescription, ClassicJoin, ClassicSync,
    ClusterView, CommitOffset, Committed, ConfigChange, ConfigEntry, ConfigResource,
    ConsumerAssignment, ConsumerHeartbeat, DeleteBefore, DeletedTopic, FetchQuery,
    FetchedPartition, GroupDescription, JoinedGeneration, Leaving, ListedGroup, ListedOffset,
    NewTopic, OffsetSpec, PartitionInfo, PendingAppend, ProduceBatch, ProducerIdentity, SyncStep,
    TopicInfo, TopicQuery, TopicRef,
};
use stratus_storage::credentials::ScramCredentials;

use super::topic_names::TopicNames;

/// Byte offsets of the RecordBatch v2 fields checked before submitting.
const MAGIC_AT: usize = 16;
const ATTRIBUTES_AT: usize = 21;
const ATTR_TRANSACTIONAL: u8 = 1 << 4;
const ATTR_CONTROL: u8 = 1 << 5;

/// The gateway as a Kafka broker.
#[derive(Debug)]
pub struct GatewayBroker {
    core: GatewayCore,
    member: Arc<Member>,
    cluster_id: String,
    credentials: ScramCredentials,
    topic_names: TopicNames,
}

impl GatewayBroker {
    pub(super) fn new(
        core: GatewayCore,
        member: Arc<Member>,
        cluster_id: String,
        credentials: ScramCredentials,
    ) -> Self {
        Self {
            core,
            member,
            cluster_id,
            credentials,
            topic_names: TopicNames::default(),
        }
    }

    async fn membership(&self) -> Result<Arc<Membership>, BrokerError> {
        self.member
            .membership()
            .await
            .map_err(|e| BrokerError::StorageUnavailable(e.to_string()))
    }

    fn topic_info(
        &self,
        topic: &TopicRecord,
        membership: &Membership,
        zone: Option<&str>,
    ) -> TopicInfo {
        let epoch = i32::try_from(membership.generation).unwrap_or(i32::MAX);
        let partitions = (0..topic.partitions)
            .map(|p| {
                let leader = membership
                    .leader(zone, topic.id, p)
                    .map_or(self.member.id(), |g| g.id);
                PartitionInfo {
                    index: p as i32,
                    leader_id: leader as i32,
                    leader_epoch: epoch,
                }
            })
            .collect();
        TopicInfo {
            name: topic.name.clone(),
            id: Uuid::from_u128(topic.id),
            partitions,
        }
    }

    async fn topic(&self, name: &str) -> Result<Arc<TopicRecord>, BrokerError> {
        Ok(self.core.topics().cached(name).await?)
    }

    async fn topic_by_ref(&self, topic: &TopicRef) -> Result<TopicRecord, BrokerError> {
        match topic {
            TopicRef::Name(name) => Ok(self.core.topics().describe(name).await?),
            TopicRef::Id(id) => self
                .core
                .topics()
                .list()
                .await?
                .into_iter()
                .find(|t| t.id == id.as_u128())
                .ok_or(BrokerError::UnknownTopicId(*id)),
        }
    }
}

fn partition_index(partition: i32) -> Result<u32, BrokerError> {
    u32::try_from(partition).map_err(|_| {
        BrokerError::UnknownTopicOrPartition(format!("partition {partition} does not exist"))
    })
}

/// Refuses what the gateway would store but Kafka clients must be told
/// precisely: other record formats and transactional batches.
fn check_batch_kind(records: &[u8]) -> Result<(), BrokerError> {
    if let Some(&magic) = records.get(MAGIC_AT)
        && magic != 2
    {
        return Err(BrokerError::UnsupportedForMessageFormat(format!(
            "records use message format v{magic}; Stratus stores RecordBatch v2 only: \
             use a client from Kafka 0.11 or later"
        )));
    }
    if let Some(&attributes) = records.get(ATTRIBUTES_AT + 1)
        && attributes & (ATTR_TRANSACTIONAL | ATTR_CONTROL) != 0
    {
        return Err(BrokerError::TransactionsUnsupported);
    }
    Ok(())
}

/// Gateways take their settings from their config file, environment and
/// flags at start; nothing of them changes at run time.
fn broker_configs_are_static(id: &str, changes: &[ConfigChange]) -> BrokerError {
    let names: Vec<&str> = changes
        .iter()
        .map(|c| match c {
            ConfigChange::Set(name, _)
            | ConfigChange::Delete(name)
            | ConfigChange::Append(name, _)
            | ConfigChange::Subtract(name, _) => name.as_str(),
        })
        .collect();
    let broker = if id.is_empty() {
        "the cluster default".to_owned()
    } else {
        format!("broker {id}")
    };
    BrokerError::InvalidConfig(format!(
        "configs of {broker} ({}) cannot be changed: a Stratus gateway reads its settings from \
         its config file, STRATUS_ environment variables and flags at start; alter topic \
         configs instead",
        names.join(", ")
    ))
}

#[async_trait]
impl Broker for GatewayBroker {
    async fn cluster(&self) -> Result<ClusterView, BrokerError> {
        let membership = self.membership().await?;
        let brokers = membership
            .gateways
            .iter()
            .filter(|g| g.endpoint.kafka_port != 0)
            .map(|g| BrokerNode {
                id: g.id as i32,
                host: g.endpoint.kafka_host.clone(),
                port: g.endpoint.kafka_port,
                rack: g.endpoint.zone.clone(),
            })
            .collect();
        Ok(ClusterView {
            cluster_id: self.cluster_id.clone(),
            controller_id: self.member.id() as i32,
            brokers,
        })
    }

    async fn topics(&self, query: TopicQuery) -> Result<Vec<TopicInfo>, BrokerError> {
        self.topics_in_zone(query, None).await
    }

    async fn topics_in_zone(
        &self,
        query: TopicQuery,
        zone: Option<&str>,
    ) -> Result<Vec<TopicInfo>, BrokerError> {
        let membership = self.membership().await?;
        let topics = match query {
            TopicQuery::All => self.core.topics().list().await?,
            TopicQuery::Only(refs) => {
                let mut found = Vec::with_capacity(refs.len());
                for r in &refs {
                    match self.topic_by_ref(r).await {
                        Ok(topic) => found.push(topic),
                        Err(
                            BrokerError::UnknownTopicOrPartition(_)
                            | BrokerError::UnknownTopicId(_),
                        ) => {}
                        Err(other) => return Err(other),
                    }
                }
                found
            }
        };
        Ok(topics
            .iter()
            .map(|t| self.topic_info(t, &membership, zone))
            .collect())
    }

    async fn produce(&self, batch: ProduceBatch) -> Result<PendingAppend, BrokerError> {
        check_batch_kind(&batch.records)?;
        let produce = Produce {
            topic: batch.topic,
            partitions: vec![PartitionProduce {
                partition: partition_index(batch.partition)?,
                data: PartitionData::Batch(batch.records),
                base_sequence: None,
            }],
            unrouted: Vec::new(),
            producer: ProducerFields::BatchHeaders,
        };
        // Kafka clients pipeline and expect the broker to hold them: wait
        // for budget rather than refuse.
        let pending = self.core.produce().submit(produce, Admission::Wait).await?;
        Ok(PendingAppend::new(async move {
            let acks = pending.acknowledged().await?;
            let ack = acks.first().ok_or_else(|| {
                BrokerError::Internal("a produce was answered without offsets".into())
            })?;
            Ok(Appended {
                base_offset: ack.base_offset,
                log_append_time_ms: None,
                log_start_offset: -1,
            })
        }))
    }

    async fn fetch(
        &self,
        query: FetchQuery,
    ) -> Result<Vec<Result<FetchedPartition, BrokerError>>, BrokerError> {
        let mut partitions = Vec::with_capacity(query.partitions.len());
        for p in &query.partitions {
            partitions.push(GatewayFetchPartition {
                topic: p.topic.clone(),
                partition: partition_index(p.partition)?,
                offset: p.offset,
                max_bytes: p.max_bytes,
            });
        }
        let fetch = Fetch {
            partitions,
            max_bytes: query.max_bytes,
            min_bytes: query.min_bytes,
            max_wait: query.max_wait,
        };
        let answers = self.core.fetch().fetch_batches(fetch).await?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.map_err(BrokerError::from).map(|f| FetchedPartition {
                    high_watermark: f.read.state.high_watermark,
                    log_start_offset: f.read.state.log_start_offset,
                    batches: f.read.batches,
                })
            })
            .collect())
    }

    async fn list_offsets(
        &self,
        topic: &str,
        partition: i32,
        spec: OffsetSpec,
    ) -> Result<Option<ListedOffset>, BrokerError> {
        let record = self.topic(topic).await?;
        let query = match spec {
            OffsetSpec::Earliest => OffsetQuery::Earliest,
            OffsetSpec::Latest => OffsetQuery::Latest,
            OffsetSpec::Timestamp(t) => OffsetQuery::Timestamp(t),
            OffsetSpec::MaxTimestamp => OffsetQuery::MaxTimestamp,
        };
        let found = self
            .core
            .topics()
            .resolve_offset(&record, partition_index(partition)?, query)
            .await?;
        let epoch = i32::try_from(self.membership().await?.generation).ok();
        Ok(found.map(|(offset, timestamp_ms)| ListedOffset {
            offset,
            timestamp_ms,
            leader_epoch: epoch,
        }))
    }

    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicInfo, BrokerError> {
        if let Some(factor) = topic.replication_factor
            && factor != -1
            && factor < 1
        {
            return Err(BrokerError::InvalidReplicationFactor(format!(
                "replication factor {factor} is invalid; pass -1 or at least 1 (Stratus keeps \
                 every record in object storage, whatever the factor)"
            )));
        }
        let config = topic_config::topic_config(&topic.configs)?;
        let membership = self.membership().await?;
        if validate_only {
            stratus_storage::topic::validate_topic_name(&topic.name)
                .map_err(|e| BrokerError::InvalidTopic(e.to_string()))?;
            stratus_storage::topic::validate_partitions(topic.partitions)
                .map_err(|e| BrokerError::InvalidPartitions(e.to_string()))?;
            if self.core.topics().describe(&topic.name).await.is_ok() {
                return Err(BrokerError::TopicAlreadyExists(format!(
                    "topic {:?} already exists",
                    topic.name
                )));
            }
            let record = TopicRecord {
                id: 1,
                name: topic.name,
                partitions: topic.partitions,
                config,
                created_at_ms: 0,
            };
            return Ok(self.topic_info(&record, &membership, None));
        }
        let record = self
            .core
            .topics()
            .create(&topic.name, topic.partitions, config)
            .await?;
        Ok(self.topic_info(&record, &membership, None))
    }

    async fn delete_topic(&self, topic: TopicRef) -> Result<DeletedTopic, BrokerError> {
        let record = self.topic_by_ref(&topic).await?;
        let deleted = self.core.topics().delete(&record.name).await?;
        Ok(DeletedTopic {
            name: deleted.name,
            id: Uuid::from_u128(deleted.id),
        })
    }

    async fn create_partitions(
        &self,
        topic: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        self.core
            .topics()
            .create_partitions(topic, total, validate_only)
            .await?;
        Ok(())
    }

    async fn describe_configs(
        &self,
        resource: ConfigResource,
        keys: Option<Vec<String>>,
    ) -> Result<Vec<ConfigEntry>, BrokerError> {
        match resource {
            ConfigResource::Topic(name) => {
                let record = self.core.topics().describe(&name).await?;
                Ok(topic_config::describe(&record.config, keys.as_deref()))
            }
            // Gateways have no per-broker configs a Kafka tool could change.
            ConfigResource::Broker(_) => Ok(Vec::new()),
        }
    }

    async fn alter_configs(
        &self,
        resource: ConfigResource,
        changes: Vec<ConfigChange>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        match resource {
            ConfigResource::Topic(name) => {
                let edit = |config: &TopicConfig| topic_config::apply(config, &changes);
                self.core
                    .topics()
                    .alter_config(&name, validate_only, &edit)
                    .await??;
                Ok(())
            }
            ConfigResource::Broker(id) => Err(broker_configs_are_static(&id, &changes)),
        }
    }

    async fn init_producer_id(
        &self,
        existing: Option<ProducerIdentity>,
    ) -> Result<ProducerIdentity, BrokerError> {
        let (id, epoch) = self
            .core
            .produce()
            .init_producer_id(existing.map(|p| (p.id, p.epoch)))
            .await
            .map_err(BrokerError::from)?;
        Ok(ProducerIdentity { id, epoch })
    }

    async fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        before: DeleteBefore,
    ) -> Result<i64, BrokerError> {
        let record = self.core.topics().describe(topic).await?;
        let to = match before {
            DeleteBefore::Offset(offset) => DeleteRecordsTo::Offset(offset),
            DeleteBefore::HighWatermark => DeleteRecordsTo::HighWatermark,
        };
        Ok(self
            .core
            .topics()
            .delete_records(&record, partition_index(partition)?, to)
            .await?)
    }

    async fn find_coordinator(&self, group: &str) -> Result<BrokerNode, BrokerError> {
        stratus_storage::group::validate_group_id(group)?;
        groups::coordinator(&*self.membership().await?, group)
    }

    async fn join_group(
        &self,
        group: &str,
        join: ClassicJoin,
    ) -> Result<JoinedGeneration, BrokerError> {
        Ok(self.core.groups().classic_join(group, &join).await?)
    }

    async fn sync_group(&self, group: &str, sync: ClassicSync) -> Result<SyncStep, BrokerError> {
        Ok(self.core.groups().classic_sync(group, &sync).await?)
    }

    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i64,
    ) -> Result<(), BrokerError> {
        Ok(self
            .core
            .groups()
            .classic_heartbeat(group, member_id, group_instance_id, generation, now_ms())
            .await?)
    }

    async fn leave_group(
        &self,
        group: &str,
        leaving: Vec<Leaving>,
    ) -> Result<Vec<Result<String, BrokerError>>, BrokerError> {
        let outcomes = self
            .core
            .groups()
            .classic_leave(group, &leaving, now_ms())
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map_err(groups::error))
            .collect())
    }

    async fn commit_offsets(
        &self,
        group: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i64,
        offsets: Vec<CommitOffset>,
    ) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
        let committer = groups::Committer {
            member_id,
            group_instance_id,
            generation,
        };
        groups::commit(self.core.groups(), group, committer, offsets).await
    }

    async fn fetch_offsets(
        &self,
        group: &str,
        topics: Vec<String>,
    ) -> Result<Vec<Committed>, BrokerError> {
        Ok(self.core.groups().committed(group, &topics).await?)
    }

    async fn describe_group(&self, group: &str) -> Result<Option<ClassicDescription>, BrokerError> {
        Ok(self.core.groups().classic_describe(group, now_ms()).await?)
    }

    async fn list_groups(&self) -> Result<Vec<ListedGroup>, BrokerError> {
        Ok(self.core.groups().classic_list(now_ms()).await?)
    }

    async fn consumer_heartbeat(
        &self,
        group: &str,
        heartbeat: ConsumerHeartbeat,
    ) -> Result<ConsumerAssignment, BrokerError> {
        let (groups, limits) = (self.core.groups(), self.core.group_limits());
        let topic_names = || {
            self.topic_names.get(|| async {
                let topics = self.core.topics().list().await?;
                Ok(topics.into_iter().map(|t| t.name).collect())
            })
        };
        consumer_groups::heartbeat(groups, limits, group, heartbeat, topic_names).await
    }

    async fn describe_consumer_group(
        &self,
        group: &str,
    ) -> Result<Option<GroupDescription>, BrokerError> {
        consumer_groups::describe(self.core.groups(), group).await
    }

    async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
        groups::delete_offsets(self.core.groups(), group, partitions).await
    }

    async fn delete_group(&self, group: &str) -> Result<(), BrokerError> {
        Ok(self.core.groups().classic_delete(group, now_ms()).await?)
    }

    async fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<Option<ScramCredential>, BrokerError> {
        credentials::get(&self.credentials, user, mechanism).await
    }

    async fn scram_users(&self, users: Option<Vec<String>>) -> Result<Vec<ScramUser>, BrokerError> {
        credentials::users(&self.credentials, users).await
    }

    async fn alter_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: Option<ScramCredential>,
    ) -> Result<(), BrokerError> {
        credentials::alter(&self.credentials, user, mechanism, credential).await
    }
}
