//! What a trigger is: a topic (all or some partitions) bound to a function
//! target, with the batching and failure policy the dispatcher applies.
//!
//! Checked here, once, before anything is written: a definition that passes
//! [`TriggerSpec::validate`] is one the dispatcher can run. The definition is
//! persisted as JSON in metadata (by `stratus-storage`) and sent over gRPC
//! ([`wire`]); the dispatcher reads it from here without linking storage.

pub mod wire;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::names::validate_topic_name;

/// A trigger definition that is not allowed; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TriggerSpecError(pub String);

/// The bounds a definition is checked against, under the names callers use.
pub use crate::limits::{
    MAX_TRIGGER_BATCH_BYTES as MAX_BATCH_BYTES, MAX_TRIGGER_BATCH_SIZE as MAX_BATCH_SIZE,
    MAX_TRIGGER_BATCHING_WINDOW_MS as MAX_BATCHING_WINDOW_MS,
    MAX_TRIGGER_RECORD_AGE_MS as MAX_RECORD_AGE_MS, MAX_TRIGGER_RETRIES as MAX_RETRIES,
    MAX_TRIGGER_TIMEOUT_MS as MAX_TIMEOUT_MS,
};

/// A trigger definition, stored as JSON in metadata (key tag `Trigger` of `stratus-storage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    pub name: String,
    pub topic: String,
    /// Partitions to consume; empty means all of them.
    #[serde(default)]
    pub partitions: Vec<u32>,
    pub target: Target,
    /// Most records per invocation.
    pub batch_size: u32,
    /// Most key + value + header bytes per invocation.
    pub max_batch_bytes: u64,
    /// How long to wait for a batch to fill once it has a first record; 0
    /// invokes as soon as records arrive.
    pub batching_window_ms: u64,
    /// Where to begin when the trigger's group has no committed offset.
    pub start: StartPosition,
    /// Retries of a failing batch before its records go to the on-failure
    /// topic; -1 retries forever.
    pub max_retries: i32,
    /// Records older than this are not sent to the function but straight to
    /// the on-failure topic; 0 means no limit.
    pub max_record_age_ms: u64,
    /// Split a failing batch in two (repeatedly) once its retries are spent,
    /// so one bad record does not fail its neighbours.
    pub bisect_on_error: bool,
    /// Where records go after the retry limit, with the error in headers.
    pub on_failure_topic: Option<String>,
    pub created_at_ms: i64,
}

/// Where a trigger sends its batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// AWS Lambda's Invoke API, signed with SigV4.
    Lambda {
        function_arn: String,
        timeout_ms: u64,
        /// Overrides `https://lambda.{region}.amazonaws.com` (tests, LocalStack).
        endpoint: Option<String>,
    },
    /// The dispatcher serves the Lambda Runtime API at `listen`; a function
    /// started with `AWS_LAMBDA_RUNTIME_API=<listen>` receives the batches.
    Local { listen: String, timeout_ms: u64 },
    /// A plain HTTP POST of the event as JSON; 2xx means success.
    Webhook { url: String, timeout_ms: u64 },
}

impl Target {
    pub fn timeout_ms(&self) -> u64 {
        match self {
            Target::Lambda { timeout_ms, .. }
            | Target::Local { timeout_ms, .. }
            | Target::Webhook { timeout_ms, .. } => *timeout_ms,
        }
    }

    /// `lambda:ARN`, `local:HOST:PORT` or `webhook:URL`, as the CLI shows it.
    pub fn describe(&self) -> String {
        match self {
            Target::Lambda { function_arn, .. } => format!("lambda:{function_arn}"),
            Target::Local { listen, .. } => format!("local:{listen}"),
            Target::Webhook { url, .. } => format!("webhook:{url}"),
        }
    }
}

/// Where a trigger starts without a committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPosition {
    Earliest,
    Latest,
}

/// A function ARN's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArn {
    pub region: String,
    pub account: String,
    pub function: String,
    pub qualifier: Option<String>,
}

impl FunctionArn {
    /// Parses `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    pub fn parse(arn: &str) -> Result<Self, TriggerSpecError> {
        let bad = |why: &str| {
            TriggerSpecError(format!(
                "function ARN {arn:?} {why}; pass one like \
                 arn:aws:lambda:us-east-1:123456789012:function:my-function"
            ))
        };
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 7 || parts.len() > 8 || parts[0] != "arn" {
            return Err(bad("is not an ARN"));
        }
        if !parts[1].starts_with("aws") || parts[2] != "lambda" || parts[5] != "function" {
            return Err(bad("is not a Lambda function ARN"));
        }
        let region = parts[3];
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("has no valid region"));
        }
        let account = parts[4];
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("has no 12-digit account id"));
        }
        let function = parts[6];
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !name_ok(function) {
            return Err(bad(
                "has no valid function name (letters, digits, - and _, up to 64)",
            ));
        }
        let qualifier = parts.get(7).map(|q| (*q).to_owned());
        if qualifier
            .as_deref()
            .is_some_and(|q| !name_ok(q) && q != "$LATEST")
        {
            return Err(bad("has an invalid version or alias"));
        }
        Ok(Self {
            region: region.to_owned(),
            account: account.to_owned(),
            function: function.to_owned(),
            qualifier,
        })
    }
}

impl TriggerSpec {
    /// The consumer group the dispatcher consumes this trigger through.
    pub fn group(&self) -> String {
        group_of(&self.name)
    }

    /// Checks everything that does not need the topics: names, ranges,
    /// target addresses. Each error names the setting and the fix.
    pub fn validate(&self) -> Result<(), TriggerSpecError> {
        validate_trigger_name(&self.name)?;
        if validate_topic_name(&self.topic).is_err() {
            return Err(TriggerSpecError(format!(
                "topic name {:?} is not valid; pass an existing topic with --topic",
                self.topic
            )));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(TriggerSpecError(format!(
                "batch size {} is out of range; pass --batch-size between 1 and {MAX_BATCH_SIZE}",
                self.batch_size
            )));
        }
        if self.max_batch_bytes == 0 || self.max_batch_bytes > MAX_BATCH_BYTES {
            return Err(TriggerSpecError(format!(
                "max batch bytes {} is out of range; pass --max-batch-bytes between 1 and {MAX_BATCH_BYTES}",
                self.max_batch_bytes
            )));
        }
        if self.batching_window_ms > MAX_BATCHING_WINDOW_MS {
            return Err(TriggerSpecError(format!(
                "batching window {} ms is too long; pass --batching-window of at most {} s",
                self.batching_window_ms,
                MAX_BATCHING_WINDOW_MS / 1000
            )));
        }
        if self.max_retries < -1 || self.max_retries > MAX_RETRIES {
            return Err(TriggerSpecError(format!(
                "max retries {} is out of range; pass --max-retries between 0 and {MAX_RETRIES}, or -1 to retry forever",
                self.max_retries
            )));
        }
        if self.max_retries >= 0 && self.on_failure_topic.is_none() {
            return Err(TriggerSpecError(format!(
                "max retries {} without an on-failure topic would drop failed records; \
                 pass --on-failure-topic TOPIC, or --max-retries -1 to retry forever",
                self.max_retries
            )));
        }
        if self.max_record_age_ms > MAX_RECORD_AGE_MS {
            return Err(TriggerSpecError(format!(
                "max record age {} ms is over 7 days; pass a shorter --max-record-age, or 0 for no limit",
                self.max_record_age_ms
            )));
        }
        if self.max_record_age_ms > 0 && self.on_failure_topic.is_none() {
            return Err(TriggerSpecError(
                "a max record age without an on-failure topic would drop old records; \
                 pass --on-failure-topic TOPIC, or leave --max-record-age unset"
                    .to_owned(),
            ));
        }
        if let Some(failure) = &self.on_failure_topic {
            if failure == &self.topic {
                return Err(TriggerSpecError(format!(
                    "the on-failure topic is the trigger's own topic {failure:?}, which would feed failures back \
                     to the function; pass another --on-failure-topic"
                )));
            }
            if validate_topic_name(failure).is_err() {
                return Err(TriggerSpecError(format!(
                    "on-failure topic name {failure:?} is not valid; pass an existing topic with --on-failure-topic"
                )));
            }
        }
        let mut sorted = self.partitions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.partitions.len() {
            return Err(TriggerSpecError(
                "a partition is listed twice; pass each --partition once".to_owned(),
            ));
        }
        self.validate_target()
    }

    fn validate_target(&self) -> Result<(), TriggerSpecError> {
        let timeout = self.target.timeout_ms();
        if timeout == 0 || timeout > MAX_TIMEOUT_MS {
            return Err(TriggerSpecError(format!(
                "invocation timeout {timeout} ms is out of range; pass --timeout between 1ms and 15m"
            )));
        }
        match &self.target {
            Target::Lambda {
                function_arn,
                endpoint,
                ..
            } => {
                FunctionArn::parse(function_arn)?;
                if let Some(endpoint) = endpoint {
                    check_http_url(endpoint, "--lambda-endpoint")?;
                }
            }
            Target::Local { listen, .. } => {
                if listen.parse::<SocketAddr>().is_err() {
                    return Err(TriggerSpecError(format!(
                        "local runtime address {listen:?} is not HOST:PORT; pass one like --local 127.0.0.1:9001"
                    )));
                }
            }
            Target::Webhook { url, .. } => check_http_url(url, "--webhook")?,
        }
        Ok(())
    }
}

fn check_http_url(text: &str, flag: &str) -> Result<(), TriggerSpecError> {
    let ok = url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok.is_none() {
        return Err(TriggerSpecError(format!(
            "{text:?} is not an http:// or https:// URL; pass one like {flag} https://example.com/hook"
        )));
    }
    Ok(())
}

/// The group a trigger's dispatcher joins: `trigger-{name}`.
pub fn group_of(trigger: &str) -> String {
    format!("trigger-{trigger}")
}

/// Trigger names follow topic names: letters, digits, `.`, `_`, `-`, up to
/// 200 bytes (leaving room for the group prefix).
pub fn validate_trigger_name(name: &str) -> Result<(), TriggerSpecError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(TriggerSpecError(format!(
            "trigger name {name:?} is not valid; use 1 to 200 letters, digits, '.', '_' or '-'"
        )));
    }
    Ok(())
}
