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

use futures::StreamExt as _;

use super::{Producer, ProducerConfig, ProducerRecord};
use crate::transport::ordered::{Answers, Opener, OutgoingRequests};
use crate::transport::{OrderedProducer, Transport};

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
    /// Attempts of the batch at sequence 0 seen on ordered streams.
    first_batch_attempts: usize,
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
            correlation_id: request.correlation_id,
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

/// The fake as a transport: single calls, and optionally an ordered path
/// that plays one bad connection. The first stream fails to open after its
/// first request (the batch at sequence 0) was written. On a later stream
/// the retry of that batch is written but its answer, and every answer
/// after it, is held back while later requests are still written, until
/// the stream breaks 100 ms later: a connection that died under its
/// answers after the gateway had read the requests.
#[derive(Debug)]
struct Fake {
    gateway: Arc<FakeGateway>,
    ordered: Option<OrderedProducer>,
}

impl Fake {
    fn unordered(gateway: &Arc<FakeGateway>) -> Arc<dyn Transport> {
        Arc::new(Self {
            gateway: Arc::clone(gateway),
            ordered: None,
        })
    }

    fn ordered(gateway: &Arc<FakeGateway>) -> Arc<dyn Transport> {
        let for_streams = Arc::clone(gateway);
        let opener: Opener = Arc::new(move |requests: OutgoingRequests| {
            Box::pin(Self::open(Arc::clone(&for_streams), requests))
        });
        Arc::new(Self {
            gateway: Arc::clone(gateway),
            ordered: Some(OrderedProducer::start(&opener, Duration::from_secs(5))),
        })
    }

    async fn open(
        gateway: Arc<FakeGateway>,
        mut requests: OutgoingRequests,
    ) -> Result<Answers, Status> {
        let (answers, answered) = tokio::sync::mpsc::unbounded_channel();
        let first = requests.next().await;
        let Some(first) = first else {
            return Err(Status::unavailable("no request"));
        };
        let first_attempt = gateway.note_first_batch(&first);
        if first_attempt == 1 {
            let _ = gateway.produce_sync(&first);
            // Slow to fail, so the batches after it queue up meanwhile and go
            // out on the next stream before its retry.
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Err(Status::unknown("transport error"));
        }
        tokio::spawn(async move {
            let mut next = Some((first, first_attempt));
            let mut broken_at: Option<tokio::time::Instant> = None;
            loop {
                let (request, attempt) = match next.take() {
                    Some(first) => first,
                    None => {
                        let read = match broken_at {
                            Some(at) => tokio::time::timeout_at(at, requests.next()).await,
                            None => Ok(requests.next().await),
                        };
                        match read {
                            Ok(Some(request)) => {
                                let attempt = gateway.note_first_batch(&request);
                                (request, attempt)
                            }
                            // Broken: the answers stream ends unanswered.
                            Ok(None) | Err(_) => return,
                        }
                    }
                };
                let retry_of_first = attempt == 2;
                let answer = gateway
                    .produce_sync(&request)
                    .map_err(|status| status.code());
                if retry_of_first {
                    broken_at = Some(tokio::time::Instant::now() + Duration::from_millis(100));
                }
                if broken_at.is_none() {
                    let response = answer.unwrap_or_else(|code| ProduceResponse {
                        correlation_id: request.correlation_id,
                        error: Some(ErrorDetail {
                            code: code as i32,
                            message: "refused by the fake gateway".to_owned(),
                        }),
                        ..ProduceResponse::default()
                    });
                    let _ = answers.send(Ok(response));
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(
            answered,
            |mut answered| async move { answered.recv().await.map(|answer| (answer, answered)) },
        )))
    }
}

impl FakeGateway {
    /// Counts attempts of the batch at sequence 0; returns this one's number
    /// (0 for other batches).
    fn note_first_batch(&self, request: &ProduceRequest) -> usize {
        if request.partitions[0].base_sequence != Some(0) {
            return 0;
        }
        let mut log = self.0.lock().unwrap();
        log.first_batch_attempts += 1;
        log.first_batch_attempts
    }
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
                partitions: vec![PartitionDescription::default()],
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
        Ok(InitProducerIdResponse {
            producer_id: 7,
            producer_epoch: 0,
        })
    }
    async fn produce(&self, req: ProduceRequest) -> Result<ProduceResponse, Status> {
        self.gateway.produce_sync(&req)
    }
    fn ordered_produce(&self) -> Option<&OrderedProducer> {
        self.ordered.as_ref()
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
        Fake::unordered(&gateway),
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

/// With 5 batches in flight, the first batch is written but fails alone
/// (its stream failed to open), is retried behind the batches after it,
/// which are acknowledged, and its retry's answer is lost with the
/// connection. No batch more than 5 after it may have been sent meanwhile:
/// the gateway remembers 5 batches, and the next retry must still be
/// recognised as written.
#[tokio::test]
async fn no_batch_is_sent_beyond_the_dedup_window_of_a_retried_one() {
    let gateway = Arc::new(FakeGateway::default());
    let producer = Producer::start(
        Fake::ordered(&gateway),
        ProducerConfig::default()
            .linger(Duration::ZERO)
            // One record per batch.
            .batch_bytes(1)
            .max_in_flight_per_partition(5)
            .retry_backoff(Duration::from_millis(20), Duration::from_millis(20)),
    )
    .await
    .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..30 {
        let value = format!("record-{i:02}");
        let delivery = producer
            .send(ProducerRecord::new("t", value.clone()).partition(0))
            .await
            .unwrap();
        deliveries.push((value, delivery));
        tokio::task::yield_now().await;
    }
    for (value, delivery) in deliveries {
        let at = delivery.await.unwrap_or_else(|e| panic!("{value}: {e}"));
        let stored = gateway.0.lock().unwrap().records[at.offset as usize].clone();
        assert!(
            zstd_holds(&stored, &value),
            "offset {} does not hold {value}",
            at.offset
        );
    }
    let log = gateway.0.lock().unwrap();
    assert_eq!(log.records.len(), 30, "each record written once");
    assert!(
        log.first_batch_attempts >= 3,
        "the scenario played out: {} attempts",
        log.first_batch_attempts
    );
}
