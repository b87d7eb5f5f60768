//! Trigger definitions against the in-memory metadata store.

use std::sync::Arc;

use object_store::memory::InMemory;

use super::*;
use crate::log::{Log, LogConfig};
use crate::topic::TopicConfig;
use stratus_meta::memory::MemoryMetaStore;

async fn setup() -> Triggers {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let log = Log::new(
        meta.clone(),
        Arc::new(InMemory::new()),
        &LogConfig::default(),
    );
    for (topic, partitions) in [("orders", 3), ("orders-failed", 1)] {
        log.create_topic(topic, partitions, TopicConfig::default())
            .await
            .unwrap();
    }
    Triggers::new(meta, log.keys().clone())
}

fn spec(name: &str) -> TriggerSpec {
    TriggerSpec {
        name: name.to_owned(),
        topic: "orders".to_owned(),
        partitions: Vec::new(),
        target: Target::Local {
            listen: "127.0.0.1:9001".to_owned(),
            timeout_ms: 3000,
        },
        batch_size: 100,
        max_batch_bytes: 1 << 20,
        batching_window_ms: 0,
        start: StartPosition::Earliest,
        max_retries: 3,
        max_record_age_ms: 0,
        bisect_on_error: true,
        on_failure_topic: Some("orders-failed".to_owned()),
        created_at_ms: 1,
    }
}

/// Creating `bad` fails with a message containing `expect`, and writes nothing.
async fn refused(triggers: &Triggers, bad: TriggerSpec, expect: &str) {
    let name = bad.name.clone();
    let err = triggers.create(bad).await.unwrap_err().to_string();
    assert!(err.contains(expect), "{err:?} should mention {expect:?}");
    assert!(triggers.list().await.unwrap().is_empty());
    assert!(matches!(
        triggers.get(&name).await,
        Err(TriggerError::NotFound { .. }) | Err(TriggerError::Invalid(_))
    ));
}

#[tokio::test]
async fn create_list_get_delete() {
    let triggers = setup().await;
    triggers.create(spec("b")).await.unwrap();
    triggers.create(spec("a")).await.unwrap();
    let names: Vec<_> = triggers
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(triggers.get("a").await.unwrap(), spec("a"));
    assert_eq!(spec("a").group(), "trigger-a");
    let again = triggers.create(spec("a")).await.unwrap_err();
    assert!(
        matches!(again, TriggerError::AlreadyExists { .. }),
        "{again}"
    );
    triggers.delete("a").await.unwrap();
    assert!(matches!(
        triggers.get("a").await,
        Err(TriggerError::NotFound { .. })
    ));
    assert!(matches!(
        triggers.delete("a").await,
        Err(TriggerError::NotFound { .. })
    ));
    assert_eq!(triggers.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let triggers = setup().await;
    let mut s = spec("t");
    s.topic = "nope".into();
    refused(&triggers, s, "stratus topic create nope").await;
    let mut s = spec("t");
    s.on_failure_topic = Some("missing".into());
    refused(&triggers, s, "topic \"missing\" not found").await;
    let mut s = spec("t");
    s.partitions = vec![0, 3];
    refused(&triggers, s, "partitions 0..3").await;
    let mut s = spec("t");
    s.batch_size = 0;
    refused(&triggers, s, "--batch-size between 1").await;
    let mut s = spec("t");
    s.max_batch_bytes = MAX_BATCH_BYTES + 1;
    refused(&triggers, s, "--max-batch-bytes").await;
    let mut s = spec("t");
    s.on_failure_topic = None;
    refused(&triggers, s, "--on-failure-topic").await;
    let mut s = spec("t");
    s.on_failure_topic = Some("orders".into());
    refused(&triggers, s, "feed failures back").await;
    let mut s = spec("t");
    s.target = Target::Lambda {
        function_arn: "arn:aws:s3:::bucket".into(),
        timeout_ms: 1000,
        endpoint: None,
    };
    refused(&triggers, s, "arn:aws:lambda:us-east-1").await;
    let mut s = spec("t");
    s.target = Target::Webhook {
        url: "ftp://x".into(),
        timeout_ms: 1000,
    };
    refused(&triggers, s, "not an http:// or https:// URL").await;
    let mut s = spec("t");
    s.target = Target::Local {
        listen: "localhost".into(),
        timeout_ms: 1000,
    };
    refused(&triggers, s, "HOST:PORT").await;
    let mut s = spec("t");
    s.target = Target::Local {
        listen: "127.0.0.1:1".into(),
        timeout_ms: 0,
    };
    refused(&triggers, s, "--timeout").await;
    refused(&triggers, spec("bad name"), "trigger name").await;
}

#[test]
fn function_arns_parse() {
    let arn =
        FunctionArn::parse("arn:aws:lambda:eu-west-1:123456789012:function:f-1:live").unwrap();
    assert_eq!(arn.region, "eu-west-1");
    assert_eq!(arn.function, "f-1");
    assert_eq!(arn.qualifier.as_deref(), Some("live"));
    for bad in [
        "",
        "arn:aws:lambda:eu-west-1:123:function:f",
        "arn:aws:lambda::123456789012:function:f",
        "arn:aws:lambda:eu-west-1:123456789012:layer:f",
        "arn:aws:lambda:eu-west-1:123456789012:function:",
    ] {
        assert!(FunctionArn::parse(bad).is_err(), "{bad:?}");
    }
}
