//! The on-failure topic: records whose retries are spent, unchanged (key,
//! value, timestamp, headers), with the failure described in extra headers so
//! they can be inspected and replayed.

use async_trait::async_trait;
use stratus_sdk::{Producer, ProducerRecord};

use crate::deliver::{Failure, FailureSink};
use crate::record::Record;

/// Header names the on-failure topic's records carry.
pub mod headers {
    pub const TRIGGER: &str = "stratus-trigger";
    pub const ERROR_TYPE: &str = "stratus-trigger-error-type";
    pub const ERROR_MESSAGE: &str = "stratus-trigger-error-message";
    pub const ATTEMPTS: &str = "stratus-trigger-attempts";
    pub const SOURCE_TOPIC: &str = "stratus-trigger-source-topic";
    pub const SOURCE_PARTITION: &str = "stratus-trigger-source-partition";
    pub const SOURCE_OFFSET: &str = "stratus-trigger-source-offset";
}

/// Writes failed records to a topic through the SDK producer and waits for
/// their acknowledgement before the batch may be committed.
#[derive(Debug)]
pub struct TopicSink {
    producer: Producer,
    topic: String,
    trigger: String,
}

impl TopicSink {
    pub fn new(producer: Producer, topic: String, trigger: String) -> Self {
        Self {
            producer,
            topic,
            trigger,
        }
    }
}

#[async_trait]
impl FailureSink for TopicSink {
    async fn send(&self, records: &[Record], failure: &Failure) -> Result<(), String> {
        let message = match &failure.error {
            crate::target::InvokeError::Function { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let mut deliveries = Vec::with_capacity(records.len());
        for r in records {
            let mut out = ProducerRecord::new(self.topic.clone(), bytes::Bytes::new())
                .value(r.value.clone())
                .timestamp_ms(r.timestamp_ms);
            if let Some(key) = &r.key {
                out = out.key(key.clone());
            }
            for (name, value) in &r.headers {
                out = out.header(name.clone(), value.clone());
            }
            out = out
                .header(headers::TRIGGER, self.trigger.clone())
                .header(headers::ERROR_TYPE, failure.error.kind().to_owned())
                .header(headers::ERROR_MESSAGE, message.clone())
                .header(headers::ATTEMPTS, failure.attempts.to_string())
                .header(headers::SOURCE_TOPIC, r.topic.clone())
                .header(headers::SOURCE_PARTITION, r.partition.to_string())
                .header(headers::SOURCE_OFFSET, r.offset.to_string());
            deliveries.push(self.producer.send(out).await.map_err(|e| e.to_string())?);
        }
        for delivery in deliveries {
            delivery.await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
