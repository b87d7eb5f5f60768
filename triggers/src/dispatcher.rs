//! The dispatcher: learns the triggers from a gateway, runs each one's
//! consumption loop, and follows creations, changes and deletions.
//!
//! Several dispatchers may run against one cluster: each trigger's group
//! spreads its partitions over them. A local target's Runtime API address
//! can be served by one dispatcher only; others log that it is taken. With
//! port 0 each dispatcher serves it on a free port of its own and logs which.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use stratus_format::trigger::TriggerSpec;
use stratus_proto::v1::ListTriggersRequest;
use stratus_proto::v1::triggers_client::TriggersClient;
use stratus_sdk::{Client, ProducerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::consume::{Run, consume};
use crate::deliver::{Failure, FailureSink, Policy};
use crate::failure::TopicSink;
use crate::limits::{DEFAULT_REFRESH, STOP_TIMEOUT};
use crate::record::Record;
use crate::source::GroupSource;
use crate::target::invoker_for;
use stratus_format::trigger::wire::spec_from_wire;

/// How a dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Gateway address(es): `grpc://HOST:PORT`, comma-separated for failover.
    pub server: String,
    /// How often to re-read the trigger definitions.
    pub refresh: Duration,
    /// The group session timeout; `None` takes the gateway's default.
    pub session_timeout: Option<Duration>,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            server: "grpc://127.0.0.1:7400".to_owned(),
            refresh: DEFAULT_REFRESH,
            session_timeout: None,
        }
    }
}

#[derive(Debug)]
struct Running {
    spec: TriggerSpec,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Runs triggers until `shutdown` resolves.
#[derive(Debug)]
pub struct Dispatcher;

impl Dispatcher {
    pub async fn run(
        config: DispatcherConfig,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), String> {
        let client = Client::connect(&config.server)
            .await
            .map_err(|e| format!("cannot reach a gateway at {}: {e}", config.server))?;
        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(config.refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            match list(&config.server).await {
                Ok(specs) => reconcile(&client, &config, &mut running, specs).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list triggers; keeping the ones running")
                }
            }
        }
        for (_, r) in running {
            stop(r).await;
        }
        Ok(())
    }
}

async fn reconcile(
    client: &Client,
    config: &DispatcherConfig,
    running: &mut BTreeMap<String, Running>,
    specs: Vec<TriggerSpec>,
) {
    let wanted: BTreeMap<String, TriggerSpec> =
        specs.into_iter().map(|s| (s.name.clone(), s)).collect();
    let gone: Vec<String> = running
        .iter()
        .filter(|(name, r)| wanted.get(*name) != Some(&r.spec) || r.task.is_finished())
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        if let Some(r) = running.remove(&name) {
            tracing::info!(trigger = %name, "stopping trigger");
            stop(r).await;
        }
    }
    for (name, spec) in wanted {
        if running.contains_key(&name) {
            continue;
        }
        tracing::info!(trigger = %name, topic = %spec.topic, target = %spec.target.describe(), "starting trigger");
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_trigger(
            client.clone(),
            config.clone(),
            spec.clone(),
            stop_rx,
        ));
        running.insert(
            name,
            Running {
                spec,
                stop: stop_tx,
                task,
            },
        );
    }
}

async fn stop(r: Running) {
    let _ = r.stop.send(true);
    // Leaving the group is quick; a stuck task is not worth waiting for.
    if tokio::time::timeout(STOP_TIMEOUT, r.task).await.is_err() {
        tracing::warn!(
            trigger = %r.spec.name,
            "trigger did not stop within {} s",
            STOP_TIMEOUT.as_secs()
        );
    }
}

/// Runs one trigger until `stop`; returns early (and is restarted at the next
/// refresh) when its target or group cannot be set up.
async fn run_trigger(
    client: Client,
    config: DispatcherConfig,
    spec: TriggerSpec,
    stop: watch::Receiver<bool>,
) {
    let invoker = match invoker_for(&spec).await {
        Ok(invoker) => invoker,
        Err(e) => {
            tracing::error!(trigger = %spec.name, error = %e, "cannot set up the trigger's target");
            return;
        }
    };
    let sink: Box<dyn FailureSink> = match &spec.on_failure_topic {
        Some(topic) => match client.producer(ProducerConfig::default()).await {
            Ok(producer) => Box::new(TopicSink::new(producer, topic.clone(), spec.name.clone())),
            Err(e) => {
                tracing::error!(trigger = %spec.name, error = %e, "cannot start the on-failure producer");
                return;
            }
        },
        None => Box::new(NoFailureTopic),
    };
    let source = match GroupSource::join(&client, &spec, config.session_timeout).await {
        Ok(source) => source,
        Err(e) => {
            tracing::error!(trigger = %spec.name, error = %e, "cannot join the trigger's group");
            return;
        }
    };
    let run = Arc::new(Run {
        trigger: spec.name.clone(),
        partitions: spec.partitions.clone(),
        batch_size: spec.batch_size as usize,
        max_batch_bytes: spec.max_batch_bytes,
        window: Duration::from_millis(spec.batching_window_ms),
        policy: Policy::of(&spec),
        invoker,
        sink,
        bootstrap_servers: config.server.clone(),
    });
    consume(Box::new(source), run, stop).await;
}

/// Triggers without an on-failure topic retry forever and have no record age
/// limit (checked at creation), so nothing is ever sent here.
#[derive(Debug)]
struct NoFailureTopic;

#[async_trait::async_trait]
impl FailureSink for NoFailureTopic {
    async fn send(&self, _records: &[Record], _failure: &Failure) -> Result<(), String> {
        Err("the trigger has no on-failure topic; recreate it with --on-failure-topic".to_owned())
    }
}

/// The trigger definitions, from the first gateway that answers.
async fn list(server: &str) -> Result<Vec<TriggerSpec>, String> {
    let mut last = String::from("no gateway address given");
    for url in server.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let http = url
            .replacen("grpc://", "http://", 1)
            .replacen("grpcs://", "https://", 1);
        let http = if http.contains("://") {
            http
        } else {
            format!("http://{http}")
        };
        let mut client = match TriggersClient::connect(http.clone()).await {
            Ok(client) => client,
            Err(e) => {
                last = format!("cannot reach {url}: {e}");
                continue;
            }
        };
        match client.list_triggers(ListTriggersRequest {}).await {
            Ok(response) => {
                return response
                    .into_inner()
                    .triggers
                    .into_iter()
                    .map(|t| spec_from_wire(t).map_err(|e| e.to_string()))
                    .collect();
            }
            Err(status) => last = format!("{url}: {}", status.message()),
        }
    }
    Err(last)
}
