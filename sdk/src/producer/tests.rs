//! The producer against a fake gateway that keeps an idempotent log the way
//! the real one does (sequence check, the last batches remembered for
//! retries) and fails chosen attempts after writing them, so the pipeline's
//! retry and renumbering rules are tested where no network is involved.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stratus_proto::v1::*;
use tonic::Status;

use super::{Producer, ProducerConfig, ProducerRecord};
use crate::transport::Transport;

/// Offset of the records count in a RecordBatch v2 header.
const RECORDS_COUNT_AT: usize = 57;

#[derive(Debug, Default)]
struct Log {
    /// What was written, by offset.
    records: Vec<Vec<u8>>,
    next_sequence: i32,
    /// (first sequence, last sequence, base offset) of recent batches.
    recent: VecDeque<(i32, i32, i64)>,
    /// Attempts answered INTERNAL after they were written, counted down.
    fail_after_writing: usize,
    attempts: usize,
    batches_written: usize,
}

#[derive(Debug, Default)]
struct FakeGateway(Mutex<Log>);

impl FakeGateway {
    fn produce_sync(&self, request: &ProduceRequest) -> Result<ProduceResponse, Status> {
        let mut log = self.0.lock().unwrap();
        log.attempts += 1;
        let entry = &request.partitions[0];
        let base_sequence = entry.base_sequence.expect("an idempotent batch");
        let batch = &entry.record_batch;
        let count = i32::from_be_bytes(
            batch[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4]
                .try_into()
                .unwrap(),
        );
        let last_sequence = base_sequence + count - 1;
        let ack = |base_offset: i64| ProduceResponse {
            partitions: vec![PartitionAck {
                partition: 0,
                base_offset,
                record_count: count as u32,
            }],
            ..ProduceResponse::default()
        };
        if let Some(&(_, _, offset)) = log
            .recent
            .iter()
            .find(|(first, last, _)| (*first, *last) == (base_sequence, last_sequence))
        {
            return Ok(ack(offset));
        }
        if base_sequence != log.next_sequence {
            return Err(Status::failed_precondition(format!(
                "out-of-order sequence: expected {}, got {base_sequence}",
                log.next_sequence
            )));
        }
        let base_offset = log.records.len() as i64;
        // The fake stores the batch's bytes per record: enough to tell
        // which batch an offset holds.
        for _ in 0..count {
            log.records.push(batch.to_vec());
        }
        log.next_sequence = last_sequence + 1;
        log.batches_written += 1;
        log.recent
            .push_back((base_sequence, last_sequence, base_offset));
        if log.recent.len() > 5 {
            log.recent.pop_front();
        }
        if log.fail_after_writing > 0 {
            log.fail_after_writing -= 1;
            // What a connection torn down mid-answer looks like from tonic.
            return Err(Status::internal("h2 protocol error: stream reset"));
        }
        Ok(ack(base_offset))
    }
}

fn unused<T>() -> Result<T, Status> {
    Err(Status::unimplemented("not part of the fake gateway"))
}

#[async_trait]
impl Transport for Arc<FakeGateway> {
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
                partitions: vec![PartitionDescription::default()],
                ..TopicDescription::default()
            }),
        })
    }
    async fn init_producer_id(
        &self,
        _: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, Status> {
        Ok(InitProducerIdResponse {
            producer_id: 7,
            producer_epoch: 0,
        })
    }
    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        self.produce_sync(&req)
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

/// A batch written but answered INTERNAL (a connection torn down under the
/// answer) may not be given up: the next batch would take its sequence
/// numbers and, being the same size, be answered as its duplicate without
/// being written. It is retried, answered as a duplicate, and every
/// delivery names an offset that holds its own record.
#[tokio::test]
async fn a_batch_failed_after_writing_is_retried_not_renumbered() {
    let gateway = Arc::new(FakeGateway::default());
    gateway.0.lock().unwrap().fail_after_writing = 1;
    let producer = Producer::start(
        Arc::new(gateway.clone()),
        ProducerConfig::default()
            .linger(Duration::ZERO)
            .retry_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
    .await
    .unwrap();
    let mut deliveries = Vec::new();
    for value in ["first", "second", "third"] {
        let delivery = producer
            .send(ProducerRecord::new("t", value).partition(0))
            .await
            .unwrap();
        deliveries.push((value, delivery));
    }
    let log = |offset: i64| gateway.0.lock().unwrap().records[offset as usize].clone();
    for (value, delivery) in deliveries {
        let at = delivery.await.expect("delivered");
        let stored = log(at.offset);
        assert!(
            stored.windows(value.len()).any(|w| w == value.as_bytes())
                || zstd_holds(&stored, value),
            "offset {} does not hold {value}",
            at.offset
        );
    }
    let log = gateway.0.lock().unwrap();
    assert_eq!(log.records.len(), 3, "each record written once");
    assert_eq!(
        log.attempts,
        log.batches_written + 1,
        "the attempt answered INTERNAL was retried, once"
    );
}

/// Whether the zstd-compressed records section of `batch` contains `value`.
fn zstd_holds(batch: &[u8], value: &str) -> bool {
    const RECORDS_AT: usize = 61;
    zstd::decode_all(&batch[RECORDS_AT..])
        .is_ok_and(|records| records.windows(value.len()).any(|w| w == value.as_bytes()))
}
