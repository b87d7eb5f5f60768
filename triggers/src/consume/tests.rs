//! The consumption loop against a scripted group member and function.

use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::*;
use crate::deliver::Failure;
use crate::target::InvokeError;

#[derive(Debug, Default)]
struct Log {
    commits: Vec<(u32, i64)>,
    batches: Vec<(u32, Vec<i64>)>,
    paused: Vec<u32>,
    /// Most batches of one partition in flight at once.
    max_in_flight: usize,
    in_flight: BTreeMap<u32, usize>,
}

#[derive(Debug)]
struct Fake {
    events: mpsc::UnboundedReceiver<SourceEvent>,
    log: Arc<Mutex<Log>>,
}

#[async_trait]
impl Source for Fake {
    async fn poll(&mut self) -> Result<SourceEvent, String> {
        match self.events.recv().await {
            Some(e) => Ok(e),
            None => std::future::pending().await,
        }
    }
    fn pause(&mut self, partitions: &[Partition]) {
        self.log
            .lock()
            .unwrap()
            .paused
            .extend(partitions.iter().map(|p| p.partition));
    }
    fn resume(&mut self, _partitions: &[Partition]) {}
    async fn commit(&mut self, p: &Partition, next_offset: i64) -> Result<(), String> {
        self.log
            .lock()
            .unwrap()
            .commits
            .push((p.partition, next_offset));
        Ok(())
    }
    async fn close(self: Box<Self>) {}
}

#[derive(Debug)]
struct Function(Arc<Mutex<Log>>);

#[async_trait]
impl Invoker for Function {
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let event: aws_lambda_events::event::kafka::KafkaEvent =
            serde_json::from_slice(&payload).unwrap();
        let records: Vec<_> = event.records.values().flatten().cloned().collect();
        let partition = records[0].partition as u32;
        {
            let mut log = self.0.lock().unwrap();
            let n = log.in_flight.entry(partition).or_default();
            *n += 1;
            let n = *n;
            log.max_in_flight = log.max_in_flight.max(n);
            log.batches
                .push((partition, records.iter().map(|r| r.offset).collect()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Not committed while the function runs.
        assert!(
            self.0
                .lock()
                .unwrap()
                .commits
                .iter()
                .all(|&(p, o)| p != partition || o <= records[0].offset)
        );
        *self
            .0
            .lock()
            .unwrap()
            .in_flight
            .get_mut(&partition)
            .unwrap() -= 1;
        Ok(Bytes::new())
    }
}

#[derive(Debug)]
struct NoSink;

#[async_trait]
impl FailureSink for NoSink {
    async fn send(&self, _: &[Record], _: &Failure) -> Result<(), String> {
        Err("unused".into())
    }
}

fn record(partition: u32, offset: i64) -> Record {
    Record {
        topic: "t".into(),
        partition,
        offset,
        timestamp_ms: 0,
        key: None,
        value: Some(Bytes::from_static(b"0123456789")),
        headers: Vec::new(),
    }
}

fn p(partition: u32) -> Partition {
    Partition {
        topic: "t".into(),
        partition,
    }
}

#[tokio::test(start_paused = true)]
async fn batches_in_order_one_in_flight_commit_after_success() {
    let log = Arc::new(Mutex::new(Log::default()));
    let (events, rx) = mpsc::unbounded_channel();
    let run = Arc::new(Run {
        trigger: "t".into(),
        partitions: vec![0, 1],
        batch_size: 100,
        max_batch_bytes: 1 << 20,
        window: Duration::from_millis(50),
        policy: Policy {
            max_retries: -1,
            bisect_on_error: false,
            max_record_age_ms: 0,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        },
        invoker: Box::new(Function(Arc::clone(&log))),
        sink: Box::new(NoSink),
        bootstrap_servers: "x".into(),
    });
    let (stop_tx, stop) = watch::channel(false);
    let source = Box::new(Fake {
        events: rx,
        log: Arc::clone(&log),
    });
    let consuming = tokio::spawn(consume(source, run, stop));
    events
        .send(SourceEvent::Assigned(vec![p(0), p(1), p(2)]))
        .unwrap();
    for chunk in (0..250).collect::<Vec<i64>>().chunks(30) {
        events
            .send(SourceEvent::Records(
                chunk.iter().map(|&o| record(0, o)).collect(),
            ))
            .unwrap();
        events
            .send(SourceEvent::Records(
                chunk.iter().map(|&o| record(1, o)).collect(),
            ))
            .unwrap();
    }
    // Records of an unselected partition are ignored.
    events
        .send(SourceEvent::Records(vec![record(2, 0)]))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_tx.send(true).unwrap();
    consuming.await.unwrap();

    let log = log.lock().unwrap();
    assert_eq!(log.max_in_flight, 1);
    assert!(log.paused.contains(&2));
    for partition in [0, 1] {
        let offsets: Vec<i64> = log
            .batches
            .iter()
            .filter(|b| b.0 == partition)
            .flat_map(|b| b.1.clone())
            .collect();
        assert_eq!(
            offsets,
            (0..250).collect::<Vec<_>>(),
            "partition {partition} in order, once"
        );
        assert!(
            log.batches
                .iter()
                .filter(|b| b.0 == partition)
                .all(|b| b.1.len() <= 100)
        );
        let commits: Vec<i64> = log
            .commits
            .iter()
            .filter(|c| c.0 == partition)
            .map(|c| c.1)
            .collect();
        assert_eq!(commits.last(), Some(&250));
        assert!(commits.windows(2).all(|w| w[0] < w[1]));
    }
    assert!(log.batches.iter().all(|b| b.0 != 2));
}
