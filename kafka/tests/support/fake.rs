//! An in-memory `Broker` for the listener's tests: topics with logs of
//! batches, offsets assigned on produce, base offsets patched on fetch.
//!
//! Topics whose name starts with `slow` delay every produce's durability by
//! `SLOW_APPEND`; topics whose name starts with `broken` fail every produce.
//! Every `produce` call is recorded in order, so tests can check admission
//! order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use stratus_kafka::sasl::{ScramCredential, ScramMechanism, ScramUser};
use stratus_kafka::*;
use stratus_storage::group::{GroupLimits, Groups};
use stratus_storage::log::now_ms;
use uuid::Uuid;

pub const SLOW_APPEND: Duration = Duration::from_millis(300);

#[derive(Debug, Default)]
struct Log {
    start: i64,
    next: i64,
    batches: Vec<(i64, Bytes)>,
}

#[derive(Debug)]
struct Topic {
    id: Uuid,
    logs: Vec<Log>,
    configs: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    produce_calls: Vec<(String, i32, Acks)>,
    next_producer_id: i64,
    next_topic_id: u128,
}

#[derive(Debug, Default)]
pub struct FakeBroker {
    state: Mutex<State>,
    /// When set, the one broker Metadata lists (and every partition's
    /// leader): for real clients, which connect to what they are told.
    endpoint: Mutex<Option<(String, u16)>>,
    /// Consumer groups: storage's own, over an in-memory metadata store,
    /// beside a storage log on that store into which the fake's topics are
    /// mirrored before an offset is committed or deleted (storage checks a
    /// committed partition exists).
    groups: OnceLock<(Groups, stratus_storage::log::Log)>,
    /// SCRAM users, by name and mechanism.
    users: Mutex<BTreeMap<(String, ScramMechanism), ScramCredential>>,
}

impl FakeBroker {
    fn groups(&self) -> &Groups {
        &self.group_store().0
    }

    fn group_store(&self) -> &(Groups, stratus_storage::log::Log) {
        self.groups.get_or_init(|| {
            let meta: Arc<dyn stratus_meta::MetaStore> =
                Arc::new(stratus_meta::memory::MemoryMetaStore::new());
            let log = stratus_storage::log::Log::new(
                meta.clone(),
                Arc::new(object_store::memory::InMemory::new()),
                &stratus_storage::log::LogConfig::default(),
            );
            // No initial rebalance delay: a first join completes at once.
            let groups = Groups::new(meta, log.keys().clone(), GroupLimits::default())
                .with_initial_rebalance_delay_ms(0);
            (groups, log)
        })
    }

    /// Copies the fake's topics named in `topics` into the group store's
    /// catalog, once each, with their partition counts.
    async fn mirror_topics<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        let wanted: Vec<(String, u32)> = {
            let state = self.state.lock().unwrap();
            topics
                .into_iter()
                .filter_map(|t| {
                    let topic = state.topics.get(t)?;
                    Some((t.to_owned(), topic.logs.len() as u32))
                })
                .collect()
        };
        let log = &self.group_store().1;
        for (name, partitions) in wanted {
            match log
                .create_topic(&name, partitions, Default::default())
                .await
            {
                Ok(_) | Err(stratus_storage::log::LogError::TopicExists { .. }) => {}
                Err(e) => panic!("cannot mirror topic {name}: {e}"),
            }
        }
    }

    /// A broker with these topics and partition counts.
    pub fn with_topics(topics: &[(&str, u32)]) -> Self {
        let broker = Self::default();
        for (name, partitions) in topics {
            broker.add_topic(name, *partitions);
        }
        broker
    }

    pub fn add_topic(&self, name: &str, partitions: u32) -> Uuid {
        let mut state = self.state.lock().unwrap();
        state.next_topic_id += 1;
        let id = Uuid::from_u128(0x5712_0000_0000_0000_0000_0000_0000_0000 | state.next_topic_id);
        state.topics.insert(
            name.to_owned(),
            Topic {
                id,
                logs: (0..partitions).map(|_| Log::default()).collect(),
                configs: BTreeMap::new(),
            },
        );
        id
    }

    /// Tell clients that this one address is the whole cluster.
    pub fn advertise(&self, host: &str, port: u16) {
        *self.endpoint.lock().unwrap() = Some((host.to_owned(), port));
    }

    fn single(&self) -> bool {
        self.endpoint.lock().unwrap().is_some()
    }

    pub fn topic_id(&self, name: &str) -> Option<Uuid> {
        self.state.lock().unwrap().topics.get(name).map(|t| t.id)
    }

    pub fn has_topic(&self, name: &str) -> bool {
        self.state.lock().unwrap().topics.contains_key(name)
    }

    /// Every produce call so far: topic, partition, acks.
    pub fn produce_calls(&self) -> Vec<(String, i32, Acks)> {
        self.state.lock().unwrap().produce_calls.clone()
    }

    /// The next offset of a partition.
    pub fn next_offset(&self, topic: &str, partition: usize) -> i64 {
        self.state.lock().unwrap().topics[topic].logs[partition].next
    }

    fn info(name: &str, topic: &Topic, single: bool) -> TopicInfo {
        TopicInfo {
            name: name.to_owned(),
            id: topic.id,
            partitions: (0..topic.logs.len())
                .map(|i| PartitionInfo {
                    index: i as i32,
                    leader_id: if single { 1 } else { 1 + (i as i32 % 2) },
                    leader_epoch: 3,
                })
                .collect(),
        }
    }

    fn append(&self, batch: &ProduceBatch) -> Result<Appended, BrokerError> {
        let mut state = self.state.lock().unwrap();
        let topic = state.topics.get_mut(&batch.topic).ok_or_else(|| {
            BrokerError::UnknownTopicOrPartition(format!("no topic {}", batch.topic))
        })?;
        let log = usize::try_from(batch.partition)
            .ok()
            .and_then(|p| topic.logs.get_mut(p))
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition("no such partition".into()))?;
        let count = record_count(&batch.records)?;
        let base_offset = log.next;
        log.batches.push((base_offset, batch.records.clone()));
        log.next += count;
        Ok(Appended {
            base_offset,
            log_append_time_ms: None,
            log_start_offset: log.start,
        })
    }
}

/// Records in a RecordBatch v2: `lastOffsetDelta` (bytes 23..27) + 1.
fn record_count(records: &Bytes) -> Result<i64, BrokerError> {
    if records.len() < 61 || records[16] != 2 {
        return Err(BrokerError::CorruptMessage("not a RecordBatch v2".into()));
    }
    let delta = i32::from_be_bytes(records[23..27].try_into().unwrap());
    Ok(i64::from(delta) + 1)
}

/// A RecordBatch v2 of `count` records (header only, enough for the fake).
pub fn batch(count: i32) -> Bytes {
    let mut b = vec![0u8; 61];
    b[8..12].copy_from_slice(&49i32.to_be_bytes());
    b[16] = 2;
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    Bytes::from(b)
}

fn patched(base_offset: i64, stored: &Bytes) -> Bytes {
    let mut out = BytesMut::from(&stored[..]);
    out[..8].copy_from_slice(&base_offset.to_be_bytes());
    out.freeze()
}

#[async_trait]
impl Broker for FakeBroker {
    async fn cluster(&self) -> Result<ClusterView, BrokerError> {
        if let Some((host, port)) = self.endpoint.lock().unwrap().clone() {
            return Ok(ClusterView {
                cluster_id: "stratus-test".into(),
                controller_id: 1,
                brokers: vec![BrokerNode {
                    id: 1,
                    host,
                    port,
                    rack: None,
                }],
            });
        }
        Ok(ClusterView {
            cluster_id: "stratus-test".into(),
            controller_id: 1,
            brokers: vec![
                BrokerNode {
                    id: 1,
                    host: "gw-1.test".into(),
                    port: 9092,
                    rack: Some("zone-a".into()),
                },
                BrokerNode {
                    id: 2,
                    host: "gw-2.test".into(),
                    port: 9093,
                    rack: None,
                },
            ],
        })
    }

    async fn topics(&self, query: TopicQuery) -> Result<Vec<TopicInfo>, BrokerError> {
        let single = self.single();
        let state = self.state.lock().unwrap();
        Ok(match query {
            TopicQuery::All => state
                .topics
                .iter()
                .map(|(n, t)| Self::info(n, t, single))
                .collect(),
            TopicQuery::Only(refs) => refs
                .iter()
                .filter_map(|r| {
                    state.topics.iter().find(|(n, t)| match r {
                        TopicRef::Name(name) => *n == name,
                        TopicRef::Id(id) => t.id == *id,
                    })
                })
                .map(|(n, t)| Self::info(n, t, single))
                .collect(),
        })
    }

    async fn produce(&self, batch: ProduceBatch) -> Result<PendingAppend, BrokerError> {
        self.state.lock().unwrap().produce_calls.push((
            batch.topic.clone(),
            batch.partition,
            batch.acks,
        ));
        if batch.topic.starts_with("broken") {
            return Ok(PendingAppend::ready(Err(BrokerError::StorageUnavailable(
                "object storage is down; retry".into(),
            ))));
        }
        let outcome = self.append(&batch);
        if batch.topic.starts_with("slow") {
            return Ok(PendingAppend::new(async move {
                tokio::time::sleep(SLOW_APPEND).await;
                outcome
            }));
        }
        Ok(PendingAppend::ready(outcome))
    }

    async fn fetch(
        &self,
        query: FetchQuery,
    ) -> Result<Vec<Result<FetchedPartition, BrokerError>>, BrokerError> {
        let state = self.state.lock().unwrap();
        Ok(query
            .partitions
            .iter()
            .map(|p| {
                let log = state
                    .topics
                    .get(&p.topic)
                    .and_then(|t| t.logs.get(usize::try_from(p.partition).ok()?))
                    .ok_or_else(|| {
                        BrokerError::UnknownTopicOrPartition("no such partition".into())
                    })?;
                if p.offset < log.start || p.offset > log.next {
                    return Err(BrokerError::OffsetOutOfRange(format!(
                        "offset {} is outside {}..{}",
                        p.offset, log.start, log.next
                    )));
                }
                let batches = log
                    .batches
                    .iter()
                    .filter(|(base, b)| base + record_count(b).unwrap_or(1) > p.offset)
                    .map(|(base, b)| patched(*base, b))
                    .collect();
                Ok(FetchedPartition {
                    high_watermark: log.next,
                    log_start_offset: log.start,
                    batches,
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
        let state = self.state.lock().unwrap();
        let log = state
            .topics
            .get(topic)
            .and_then(|t| t.logs.get(usize::try_from(partition).ok()?))
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition("no such partition".into()))?;
        let (offset, timestamp_ms) = match spec {
            OffsetSpec::Earliest => (log.start, None),
            OffsetSpec::Latest => (log.next, None),
            // The last record of the batch with the largest `maxTimestamp`
            // (bytes 35..43), the first such batch.
            OffsetSpec::MaxTimestamp => {
                let mut best: Option<(i64, i64)> = None;
                for (base, stored) in &log.batches {
                    let max = i64::from_be_bytes(stored[35..43].try_into().unwrap());
                    let last = base + record_count(stored)? - 1;
                    if last >= log.start && best.is_none_or(|(_, t)| max > t) {
                        best = Some((last, max));
                    }
                }
                match best {
                    Some((offset, max)) => (offset, Some(max)),
                    None => return Ok(None),
                }
            }
            OffsetSpec::Timestamp(_) => return Ok(None),
        };
        Ok(Some(ListedOffset {
            offset,
            timestamp_ms,
            leader_epoch: Some(3),
        }))
    }

    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicInfo, BrokerError> {
        if topic.name.is_empty() || topic.name.contains(' ') {
            return Err(BrokerError::InvalidTopic(format!(
                "{:?} is not a topic name",
                topic.name
            )));
        }
        if self.has_topic(&topic.name) {
            return Err(BrokerError::TopicAlreadyExists(format!(
                "topic {:?} already exists",
                topic.name
            )));
        }
        if validate_only {
            return Ok(TopicInfo {
                name: topic.name,
                id: Uuid::nil(),
                partitions: Vec::new(),
            });
        }
        self.add_topic(&topic.name, topic.partitions);
        let single = self.single();
        let state = self.state.lock().unwrap();
        Ok(Self::info(&topic.name, &state.topics[&topic.name], single))
    }

    async fn delete_topic(&self, topic: TopicRef) -> Result<DeletedTopic, BrokerError> {
        let mut state = self.state.lock().unwrap();
        let name = match &topic {
            TopicRef::Name(name) => name.clone(),
            TopicRef::Id(id) => state
                .topics
                .iter()
                .find(|(_, t)| t.id == *id)
                .map(|(n, _)| n.clone())
                .ok_or(BrokerError::UnknownTopicId(*id))?,
        };
        let removed = state
            .topics
            .remove(&name)
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition(format!("no topic {name}")))?;
        Ok(DeletedTopic {
            name,
            id: removed.id,
        })
    }

    async fn create_partitions(
        &self,
        topic: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let mut state = self.state.lock().unwrap();
        let t = state
            .topics
            .get_mut(topic)
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition(format!("no topic {topic}")))?;
        if (total as usize) <= t.logs.len() {
            return Err(BrokerError::InvalidPartitions(format!(
                "topic {topic:?} already has {} partitions",
                t.logs.len()
            )));
        }
        if !validate_only {
            t.logs.resize_with(total as usize, Log::default);
        }
        Ok(())
    }

    async fn describe_configs(
        &self,
        resource: ConfigResource,
        keys: Option<Vec<String>>,
    ) -> Result<Vec<ConfigEntry>, BrokerError> {
        let state = self.state.lock().unwrap();
        let configs = match &resource {
            ConfigResource::Topic(name) => state
                .topics
                .get(name)
                .ok_or_else(|| BrokerError::UnknownTopicOrPartition(format!("no topic {name}")))?
                .configs
                .clone(),
            ConfigResource::Broker(_) => {
                BTreeMap::from([("log.retention.ms".into(), "604800000".into())])
            }
        };
        Ok(configs
            .into_iter()
            .filter(|(k, _)| keys.as_ref().is_none_or(|keys| keys.contains(k)))
            .map(|(name, value)| ConfigEntry {
                name,
                value: Some(value),
                source: ConfigSource::Topic,
                read_only: false,
                sensitive: false,
                kind: ConfigKind::Long,
                documentation: Some("how long records are kept".into()),
            })
            .collect())
    }

    async fn alter_configs(
        &self,
        resource: ConfigResource,
        changes: Vec<ConfigChange>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let ConfigResource::Topic(name) = resource else {
            return Err(BrokerError::PolicyViolation(
                "broker configs are static here".into(),
            ));
        };
        let mut state = self.state.lock().unwrap();
        let topic = state
            .topics
            .get_mut(&name)
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition(format!("no topic {name}")))?;
        if validate_only {
            return Ok(());
        }
        for change in changes {
            match change {
                ConfigChange::Set(k, v) => {
                    topic.configs.insert(k, v);
                }
                ConfigChange::Delete(k) => {
                    topic.configs.remove(&k);
                }
                ConfigChange::Append(..) | ConfigChange::Subtract(..) => {
                    return Err(BrokerError::InvalidConfig("no list configs here".into()));
                }
            }
        }
        Ok(())
    }

    async fn init_producer_id(
        &self,
        existing: Option<ProducerIdentity>,
    ) -> Result<ProducerIdentity, BrokerError> {
        if let Some(existing) = existing {
            return Ok(ProducerIdentity {
                id: existing.id,
                epoch: existing.epoch + 1,
            });
        }
        let mut state = self.state.lock().unwrap();
        state.next_producer_id += 1;
        Ok(ProducerIdentity {
            id: 1000 + state.next_producer_id,
            epoch: 0,
        })
    }

    async fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        before: DeleteBefore,
    ) -> Result<i64, BrokerError> {
        let mut state = self.state.lock().unwrap();
        let log = state
            .topics
            .get_mut(topic)
            .and_then(|t| t.logs.get_mut(usize::try_from(partition).ok()?))
            .ok_or_else(|| BrokerError::UnknownTopicOrPartition("no such partition".into()))?;
        let to = match before {
            DeleteBefore::HighWatermark => log.next,
            DeleteBefore::Offset(o) if o <= log.next => o,
            DeleteBefore::Offset(o) => {
                return Err(BrokerError::OffsetOutOfRange(format!(
                    "{o} is past the end"
                )));
            }
        };
        log.start = log.start.max(to);
        Ok(log.start)
    }

    async fn find_coordinator(&self, _group: &str) -> Result<BrokerNode, BrokerError> {
        let cluster = self.cluster().await?;
        Ok(cluster.brokers[0].clone())
    }

    async fn join_group(
        &self,
        group: &str,
        join: ClassicJoin,
    ) -> Result<JoinedGeneration, BrokerError> {
        Ok(self.groups().classic_join(group, &join).await?)
    }

    async fn sync_group(&self, group: &str, sync: ClassicSync) -> Result<SyncStep, BrokerError> {
        Ok(self.groups().classic_sync(group, &sync).await?)
    }

    async fn heartbeat(
        &self,
        group: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation: i64,
    ) -> Result<(), BrokerError> {
        Ok(self
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
            .groups()
            .classic_leave(group, &leaving, now_ms())
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map_err(BrokerError::from))
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
        self.mirror_topics(offsets.iter().map(|o| o.topic.as_str()))
            .await;
        let outcomes = self
            .groups()
            .classic_commit(
                group,
                member_id,
                group_instance_id,
                generation,
                &offsets,
                now_ms(),
            )
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map_err(BrokerError::from))
            .collect())
    }

    async fn fetch_offsets(
        &self,
        group: &str,
        topics: Vec<String>,
    ) -> Result<Vec<Committed>, BrokerError> {
        Ok(self
            .groups()
            .committed(group, &topics)
            .await
            .map_err(stratus_storage::group::classic::ClassicError::from)?)
    }

    async fn describe_group(&self, group: &str) -> Result<Option<ClassicDescription>, BrokerError> {
        Ok(self.groups().classic_describe(group, now_ms()).await?)
    }

    async fn list_groups(&self) -> Result<Vec<ListedGroup>, BrokerError> {
        Ok(self.groups().classic_list(now_ms()).await?)
    }

    async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<Result<(), BrokerError>>, BrokerError> {
        self.mirror_topics(partitions.iter().map(|(t, _)| t.as_str()))
            .await;
        let outcomes = self
            .groups()
            .delete_offsets(group, &partitions, now_ms())
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map_err(BrokerError::from))
            .collect())
    }

    async fn delete_group(&self, group: &str) -> Result<(), BrokerError> {
        Ok(self.groups().classic_delete(group, now_ms()).await?)
    }

    async fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<Option<ScramCredential>, BrokerError> {
        let users = self.users.lock().unwrap();
        Ok(users.get(&(user.to_owned(), mechanism)).cloned())
    }

    async fn scram_users(&self, names: Option<Vec<String>>) -> Result<Vec<ScramUser>, BrokerError> {
        let users = self.users.lock().unwrap();
        let mut out: Vec<ScramUser> = Vec::new();
        for ((user, mechanism), credential) in users.iter() {
            if names.as_ref().is_some_and(|n| !n.contains(user)) {
                continue;
            }
            match out.last_mut() {
                Some(last) if &last.user == user => {
                    last.credentials.push((*mechanism, credential.iterations));
                }
                _ => out.push(ScramUser {
                    user: user.clone(),
                    credentials: vec![(*mechanism, credential.iterations)],
                }),
            }
        }
        Ok(out)
    }

    async fn alter_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: Option<ScramCredential>,
    ) -> Result<(), BrokerError> {
        let mut users = self.users.lock().unwrap();
        let key = (user.to_owned(), mechanism);
        match credential {
            Some(credential) => {
                users.insert(key, credential);
                Ok(())
            }
            None => users
                .remove(&key)
                .map(|_| ())
                .ok_or_else(|| BrokerError::ResourceNotFound(format!("no {mechanism} credential"))),
        }
    }
}
