//! Producing keyed records with the SDK and checking what a topic holds
//! against what was sent: exactly once, in order per partition.

use std::collections::BTreeMap;

use stratus_proto::partitioner::partition_for_key;
use stratus_sdk::{Client, Delivery, DeliveryFuture, Offset, Producer, ProducerRecord};

/// Record `i` of a test run: keys cycle over `keys`, values are unique.
pub fn keyed(topic: &str, i: usize, keys: usize) -> ProducerRecord {
    ProducerRecord::new(topic, format!("value-{i:06}")).key(format!("key-{}", i % keys))
}

/// Sends `count` keyed records without waiting between them, then waits for
/// every acknowledgement.
pub async fn produce_keyed(
    producer: &Producer,
    topic: &str,
    count: usize,
    keys: usize,
) -> Vec<Delivery> {
    let mut futures: Vec<DeliveryFuture> = Vec::with_capacity(count);
    for i in 0..count {
        futures.push(producer.send(keyed(topic, i, keys)).await.expect("send"));
    }
    let mut deliveries = Vec::with_capacity(count);
    for (i, future) in futures.into_iter().enumerate() {
        deliveries.push(future.await.unwrap_or_else(|e| panic!("record {i}: {e}")));
    }
    deliveries
}

/// Every record of every partition of `topic`, by partition, as
/// `(offset, value)`.
pub async fn read_topic(client: &Client, topic: &str) -> BTreeMap<u32, Vec<(i64, String)>> {
    let mut consumer = client.consumer(topic);
    consumer.assign_all(Offset::Earliest).await.expect("assign");
    let ends = consumer.end_offsets().await.expect("end offsets");
    let mut out: BTreeMap<u32, Vec<(i64, String)>> =
        ends.keys().map(|p| (*p, Vec::new())).collect();
    let total: i64 = ends.values().sum();
    let mut read = 0i64;
    while read < total {
        for record in consumer.poll().await.expect("poll") {
            let value = String::from_utf8(record.value.unwrap().to_vec()).unwrap();
            out.get_mut(&record.partition)
                .unwrap()
                .push((record.offset, value));
            read += 1;
        }
    }
    out
}

/// Asserts the topic holds exactly records `0..count` of [`keyed`], each
/// once, in send order within each partition, at dense offsets from 0.
pub fn assert_exactly_once(
    held: &BTreeMap<u32, Vec<(i64, String)>>,
    count: usize,
    keys: usize,
    partitions: u32,
) {
    let mut expected: BTreeMap<u32, Vec<String>> =
        (0..partitions).map(|p| (p, Vec::new())).collect();
    for i in 0..count {
        let key = format!("key-{}", i % keys);
        let partition = partition_for_key(key.as_bytes(), partitions);
        expected
            .get_mut(&partition)
            .unwrap()
            .push(format!("value-{i:06}"));
    }
    for (partition, want) in &expected {
        let got = &held[partition];
        let values: Vec<&String> = got.iter().map(|(_, v)| v).collect();
        assert_eq!(
            got.len(),
            want.len(),
            "partition {partition}: {} records held, {} sent",
            got.len(),
            want.len()
        );
        assert!(
            values.iter().zip(want).all(|(g, w)| *g == w),
            "partition {partition}: records differ from those sent, or their order does"
        );
        let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
        assert!(
            offsets.iter().enumerate().all(|(i, o)| *o == i as i64),
            "partition {partition}: offsets are not dense from 0"
        );
    }
}
