//! Keyless records and the sticky partitioner, against a fake gateway that
//! acknowledges every request at once and remembers which partition each
//! batch went to and how many records it held.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stratus_proto::v1::*;
use tonic::Status;

use super::{Producer, ProducerConfig, ProducerRecord, StickyPartitioning};
use crate::transport::Transport;

const PARTITIONS: usize = 4;

/// Partition and record count of every request, in arrival order.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<(u32, usize)>>);

#[derive(Debug)]
struct Fake(Arc<Recorded>);

fn unused<T>() -> Result<T, Status> {
    Err(Status::unimplemented("not part of the fake gateway"))
}

#[async_trait]
impl Transport for Fake {
    async fn create_topic(&self, _: CreateTopicRequest) -> Result<CreateTopicResponse, Status> {
        unused()
    }
    async fn delete_topic(&self, _: DeleteTopicRequest) -> Result<DeleteTopicResponse, Status> {
        unused()
    }
    async fn list_topics(&self, _: ListTopicsRequest) -> Result<ListTopicsResponse, Status> {
        unused()
    }
    async fn describe_topic(
        &self,
        req: DescribeTopicRequest,
    ) -> Result<DescribeTopicResponse, Status> {
        Ok(DescribeTopicResponse {
            topic: Some(TopicDescription {
                name: req.name,
                partitions: vec![PartitionDescription::default(); PARTITIONS],
                ..TopicDescription::default()
            }),
        })
    }
    async fn create_partitions(
        &self,
        _: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, Status> {
        unused()
    }
    async fn alter_topic_config(
        &self,
        _: AlterTopicConfigRequest,
    ) -> Result<AlterTopicConfigResponse, Status> {
        unused()
    }
    async fn delete_records(
        &self,
        _: DeleteRecordsRequest,
    ) -> Result<DeleteRecordsResponse, Status> {
        unused()
    }
    async fn init_producer_id(
        &self,
        _: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        unused()
    }
    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        let entry = &req.partitions[0];
        // Batches built by the producer carry their record count at byte 57.
        let count = u32::from_be_bytes(entry.record_batch[57..61].try_into().unwrap());
        self.0
            .0
            .lock()
            .unwrap()
            .push((entry.partition, count as usize));
        Ok(ProduceResponse {
            partitions: vec![PartitionAck {
                partition: entry.partition,
                base_offset: 0,
                record_count: count,
            }],
            ..ProduceResponse::default()
        })
    }
    async fn fetch(&self, _: FetchRequest) -> Result<FetchResponse, Status> {
        unused()
    }
    async fn list_offsets(&self, _: ListOffsetsRequest) -> Result<ListOffsetsResponse, Status> {
        unused()
    }
    async fn join_group(&self, _: JoinGroupRequest) -> Result<JoinGroupResponse, Status> {
        unused()
    }
    async fn heartbeat(&self, _: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        unused()
    }
    async fn leave_group(&self, _: LeaveGroupRequest) -> Result<LeaveGroupResponse, Status> {
        unused()
    }
    async fn commit_offsets(
        &self,
        _: CommitOffsetsRequest,
    ) -> Result<CommitOffsetsResponse, Status> {
        unused()
    }
    async fn fetch_offsets(&self, _: FetchOffsetsRequest) -> Result<FetchOffsetsResponse, Status> {
        unused()
    }
}

/// Sends keyless records in bursts of 5, each burst lingered out into a
/// batch (long before `batch_bytes` fills) and acknowledged before the
/// next; returns the batches' partitions and record counts.
async fn lingered_batches(sticky: StickyPartitioning) -> Vec<(u32, usize)> {
    let recorded = Arc::new(Recorded::default());
    let config = ProducerConfig::default()
        .idempotence(false)
        // Long enough that a burst is one batch even on a loaded machine.
        .linger(Duration::from_millis(100))
        .sticky(sticky);
    let producer = Producer::start(Arc::new(Fake(Arc::clone(&recorded))), config)
        .await
        .unwrap();
    for _ in 0..8 {
        let mut deliveries = Vec::new();
        for _ in 0..5 {
            let record = ProducerRecord::new("t", vec![b'x'; 100]);
            deliveries.push(producer.send(record).await.unwrap());
        }
        for delivery in deliveries {
            delivery.await.unwrap();
        }
    }
    producer.close().await.unwrap();
    let batches = recorded.0.lock().unwrap().clone();
    assert_eq!(
        batches.iter().map(|(_, n)| n).sum::<usize>(),
        40,
        "every record in one batch: {batches:?}"
    );
    batches
}

#[tokio::test]
async fn each_sealed_batch_moves_keyless_records_to_the_next_partition() {
    let batches = lingered_batches(StickyPartitioning::PerBatch).await;
    assert!(
        batches.len() >= 8,
        "a batch per burst at least: {batches:?}"
    );
    for pair in batches.windows(2) {
        let (from, to) = (pair[0].0, pair[1].0);
        assert_eq!(to, (from + 1) % PARTITIONS as u32, "{batches:?}");
    }
}

#[tokio::test]
async fn per_batch_bytes_keeps_lingered_batches_on_one_partition() {
    let batches = lingered_batches(StickyPartitioning::PerBatchBytes).await;
    assert!(
        batches.len() >= 8,
        "a batch per burst at least: {batches:?}"
    );
    // 40 small records are far from a batch's worth of bytes (1 MiB).
    assert!(
        batches.iter().all(|(p, _)| *p == batches[0].0),
        "{batches:?}"
    );
}
