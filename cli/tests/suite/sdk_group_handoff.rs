//! A partition the group moves is released only once its member is done
//! with the records it holds: a member that has a batch in hand when a new
//! member joins keeps the partition until its next `poll`, which commits
//! past that batch and returns `Revoked`; the new owner then starts after
//! it, so no record is read twice. (Releasing at the heartbeat, with the
//! batch still in the application's hands, committed a position before it
//! and the next owner read it again.)

use std::collections::BTreeMap;
use std::time::Duration;

use stratus_sdk::{Client, GroupConfig, GroupConsumer, GroupEvent, ProducerConfig, TopicConfig};

use crate::common::DevServer;
use crate::common::sdk::produce_keyed;

const TOPIC: &str = "handoff";
const RECORDS: usize = 400;

fn config() -> GroupConfig {
    let mut config = GroupConfig::new("handoff-group", [TOPIC]);
    // Commits happen only at release, so what the next owner starts from
    // is what the release committed.
    config.auto_commit = Some(Duration::from_secs(3600));
    config.session_timeout = Some(Duration::from_secs(3));
    config.fetch_wait = Duration::from_millis(100);
    config
}

/// Polls until `stop` says so, counting every record by (partition, offset).
async fn poll_until(
    member: &mut GroupConsumer,
    read: &mut BTreeMap<(u32, i64), usize>,
    mut stop: impl FnMut(&GroupEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, member.poll())
            .await
            .expect("the event in time")
            .unwrap();
        if let GroupEvent::Records(records) = &event {
            for r in records {
                *read.entry((r.partition, r.offset)).or_default() += 1;
            }
        }
        if stop(&event) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moved_partition_waits_for_the_records_in_hand() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let client = Client::connect(&server.url).await.unwrap();
    client
        .admin()
        .create_topic(TOPIC, 2, TopicConfig::default())
        .await
        .unwrap();
    let producer = client.producer(ProducerConfig::default()).await.unwrap();
    produce_keyed(&producer, TOPIC, RECORDS, 50).await;

    let mut read = BTreeMap::new();
    let mut first = client.group_consumer(config()).await.unwrap();
    poll_until(&mut first, &mut read, |e| {
        matches!(e, GroupEvent::Assigned(_))
    })
    .await;
    // A batch in hand, not yet processed (no further poll).
    poll_until(&mut first, &mut read, |e| {
        matches!(e, GroupEvent::Records(_))
    })
    .await;

    let mut second = client.group_consumer(config()).await.unwrap();
    // Several heartbeats of both: the group wants one partition moved, but
    // the first member has not polled, so it still holds both.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(first.assignment().len(), 2, "released before the next poll");
    assert!(
        second.assignment().is_empty(),
        "the new member got a partition the old one had not released: {:?}",
        second.assignment()
    );

    // The next poll releases it (the batch counts as processed).
    poll_until(&mut first, &mut read, |e| {
        matches!(e, GroupEvent::Revoked(_))
    })
    .await;
    assert_eq!(first.assignment().len(), 1);
    // Both read the rest.
    let a = tokio::spawn(async move {
        let mut read = BTreeMap::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            poll_until(&mut first, &mut read, |_| false).await;
        })
        .await;
        (first, read)
    });
    let mut from_second = BTreeMap::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        poll_until(&mut second, &mut from_second, |_| false).await;
    })
    .await;
    let (first, from_first) = a.await.unwrap();
    for (record, n) in from_first.into_iter().chain(from_second) {
        *read.entry(record).or_default() += n;
    }
    let twice: Vec<_> = read.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read twice: {twice:?}");
    assert_eq!(read.len(), RECORDS, "every record read");
    drop((first, second));
}
