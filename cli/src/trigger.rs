//! `stratus trigger create|list|describe|delete`: trigger definitions, kept
//! in metadata through a gateway's `Triggers` service. A dispatcher (in
//! `stratus dev`, or `stratus dispatcher`) runs them.

use std::time::Duration;

use stratus_proto::v1::triggers_client::TriggersClient;
use stratus_proto::v1::{
    CreateTriggerRequest, DeleteTriggerRequest, DescribeTriggerRequest, ListTriggersRequest,
};
use stratus_storage::trigger::{StartPosition, Target, TriggerSpec};
use stratus_triggers::wire::{spec_from_wire, spec_to_wire};
use tonic::transport::Channel;

use crate::client::{ServerArgs, status};
use crate::limits::{
    self, TRIGGER_BATCH_SIZE, TRIGGER_BATCHING_WINDOW, TRIGGER_MAX_BATCH_BYTES,
    TRIGGER_RETRIES_WITH_FAILURE_TOPIC, TRIGGER_RETRIES_WITHOUT_FAILURE_TOPIC, TRIGGER_TIMEOUT,
};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TriggerCommand {
    /// Bind a topic to a function: AWS Lambda, a local Lambda Runtime API,
    /// or a webhook.
    Create(Box<CreateArgs>),
    /// List triggers.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a trigger's settings (its progress: `stratus group describe trigger-NAME`).
    Describe {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a trigger; dispatchers stop it at their next refresh.
    Delete {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["lambda", "local", "webhook"])))]
pub(crate) struct CreateArgs {
    name: String,
    /// The topic whose records invoke the function.
    #[arg(long, short = 't')]
    topic: String,
    /// Partitions to consume (repeatable); all by default.
    #[arg(long, short = 'p')]
    partition: Vec<u32>,
    /// AWS Lambda function ARN (the dispatcher needs AWS credentials).
    #[arg(long)]
    lambda: Option<String>,
    /// Lambda endpoint instead of https://lambda.REGION.amazonaws.com.
    #[arg(long, requires = "lambda")]
    lambda_endpoint: Option<String>,
    /// Serve the Lambda Runtime API at HOST:PORT; start the function with
    /// AWS_LAMBDA_RUNTIME_API=HOST:PORT.
    #[arg(long)]
    local: Option<String>,
    /// POST each batch as JSON to this URL.
    #[arg(long)]
    webhook: Option<String>,
    /// Per-invocation timeout.
    #[arg(long, default_value = limits::flag_default(TRIGGER_TIMEOUT), value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Most records per invocation.
    #[arg(long, default_value_t = TRIGGER_BATCH_SIZE)]
    batch_size: u32,
    /// Most key + value + header bytes per invocation.
    #[arg(long, default_value_t = TRIGGER_MAX_BATCH_BYTES)]
    max_batch_bytes: u64,
    /// How long to gather records before invoking (0 invokes at once).
    #[arg(long, default_value = limits::flag_default(TRIGGER_BATCHING_WINDOW), value_parser = humantime::parse_duration)]
    batching_window: Duration,
    /// Where to begin without a committed offset.
    #[arg(long, value_enum, default_value = "earliest")]
    start: Start,
    /// Retries of a failing batch before its records go to the on-failure
    /// topic; -1 retries forever [default: 3 with --on-failure-topic, else -1].
    #[arg(long, allow_negative_numbers = true)]
    max_retries: Option<i32>,
    /// Send records older than this to the on-failure topic without invoking.
    #[arg(long, value_parser = humantime::parse_duration)]
    max_record_age: Option<Duration>,
    /// Split a failing batch in halves once its retries are spent, to isolate
    /// a bad record.
    #[arg(long)]
    bisect_on_error: bool,
    /// Where records go after the retry limit, with the error in headers.
    #[arg(long)]
    on_failure_topic: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Start {
    Earliest,
    Latest,
}

async fn client(server: &ServerArgs) -> anyhow::Result<TriggersClient<Channel>> {
    Ok(TriggersClient::new(server.channel().await?))
}

pub(crate) async fn run(command: TriggerCommand) -> anyhow::Result<()> {
    match command {
        TriggerCommand::Create(args) => create(*args).await,
        TriggerCommand::List { server } => list(&server).await,
        TriggerCommand::Describe { name, server } => {
            let response = client(&server)
                .await?
                .describe_trigger(DescribeTriggerRequest { name })
                .await
                .map_err(status)?;
            print_spec(response.into_inner().trigger);
            Ok(())
        }
        TriggerCommand::Delete { name, server } => {
            client(&server)
                .await?
                .delete_trigger(DeleteTriggerRequest { name: name.clone() })
                .await
                .map_err(status)?;
            println!("deleted trigger {name}");
            Ok(())
        }
    }
}

fn spec(args: &CreateArgs) -> TriggerSpec {
    let timeout_ms = u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX);
    let target = if let Some(arn) = &args.lambda {
        Target::Lambda {
            function_arn: arn.clone(),
            timeout_ms,
            endpoint: args.lambda_endpoint.clone(),
        }
    } else if let Some(listen) = &args.local {
        Target::Local {
            listen: listen.clone(),
            timeout_ms,
        }
    } else {
        Target::Webhook {
            url: args.webhook.clone().unwrap_or_default(),
            timeout_ms,
        }
    };
    let default_retries = if args.on_failure_topic.is_some() {
        TRIGGER_RETRIES_WITH_FAILURE_TOPIC
    } else {
        TRIGGER_RETRIES_WITHOUT_FAILURE_TOPIC
    };
    TriggerSpec {
        name: args.name.clone(),
        topic: args.topic.clone(),
        partitions: args.partition.clone(),
        target,
        batch_size: args.batch_size,
        max_batch_bytes: args.max_batch_bytes,
        batching_window_ms: u64::try_from(args.batching_window.as_millis()).unwrap_or(u64::MAX),
        start: match args.start {
            Start::Earliest => StartPosition::Earliest,
            Start::Latest => StartPosition::Latest,
        },
        max_retries: args.max_retries.unwrap_or(default_retries),
        max_record_age_ms: args
            .max_record_age
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        bisect_on_error: args.bisect_on_error,
        on_failure_topic: args.on_failure_topic.clone(),
        created_at_ms: 0,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let spec = spec(&args);
    // Checked here too, so a typo fails before a gateway is even contacted.
    spec.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let response = client(&args.server)
        .await?
        .create_trigger(CreateTriggerRequest {
            trigger: Some(spec_to_wire(&spec)),
        })
        .await
        .map_err(status)?;
    println!("created trigger {}", spec.name);
    print_spec(response.into_inner().trigger);
    Ok(())
}

async fn list(server: &ServerArgs) -> anyhow::Result<()> {
    let triggers = client(server)
        .await?
        .list_triggers(ListTriggersRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .triggers;
    println!("{:<24} {:<24} {:>6}  TARGET", "NAME", "TOPIC", "BATCH");
    for wire in triggers {
        match spec_from_wire(wire) {
            Ok(s) => println!(
                "{:<24} {:<24} {:>6}  {}",
                s.name,
                s.topic,
                s.batch_size,
                s.target.describe()
            ),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    Ok(())
}

fn print_spec(wire: Option<stratus_proto::v1::Trigger>) {
    let Some(spec) = wire.and_then(|w| spec_from_wire(w).ok()) else {
        return;
    };
    let partitions = if spec.partitions.is_empty() {
        "all".to_owned()
    } else {
        format!("{:?}", spec.partitions)
    };
    println!("name              {}", spec.name);
    println!("topic             {}", spec.topic);
    println!("partitions        {partitions}");
    println!("target            {}", spec.target.describe());
    println!("timeout           {} ms", spec.target.timeout_ms());
    println!("batch size        {}", spec.batch_size);
    println!("max batch bytes   {}", spec.max_batch_bytes);
    println!("batching window   {} ms", spec.batching_window_ms);
    println!("start             {:?}", spec.start);
    let retries = if spec.max_retries < 0 {
        "forever".to_owned()
    } else {
        spec.max_retries.to_string()
    };
    println!("max retries       {retries}");
    println!(
        "max record age    {} ms (0: no limit)",
        spec.max_record_age_ms
    );
    println!("bisect on error   {}", spec.bisect_on_error);
    println!(
        "on-failure topic  {}",
        spec.on_failure_topic.as_deref().unwrap_or("-")
    );
    println!("group             {}", spec.group());
}
