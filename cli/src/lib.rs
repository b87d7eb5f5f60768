//! `stratus`: run a gateway and a compactor (or everything on a laptop with
//! `stratus dev`), administer topics, consumer groups and triggers, and produce and
//! consume from a terminal.
//!
//! The binary (`src/main.rs`) only parses the command line and calls [`run`];
//! everything else lives here, so tests use the same types the binary does
//! (the settings, the `STRATUS_*` names) instead of reading source files.

mod bench;
mod client;
mod compactor;
pub mod config_env;
mod consume;
mod dispatcher;
mod exposure;
mod group;
mod group_consume;
mod limits;
mod observability;
mod output;
mod produce;
mod serve;
pub mod settings;
mod signal;
mod status;
mod topic;
mod trigger;
mod user;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Stratus: a Kafka-style streaming broker on object storage.
#[derive(Debug, Parser)]
#[command(name = "stratus", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process with embedded defaults: a gateway on an
    /// embedded metadata store and a file:// WAL tier under a data directory.
    Dev(serve::DevArgs),
    /// Run a gateway from a configuration file, environment and flags.
    Gateway(serve::GatewayArgs),
    /// Run the compactor: WAL objects into segments, retention, key
    /// compaction and garbage collection (long-running, --once, or --lambda).
    Compactor(compactor::CompactorArgs),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Produce lines from stdin as records.
    Produce(produce::ProduceArgs),
    /// Print records of a topic (with --group, as a member of a consumer group).
    Consume(consume::ConsumeArgs),
    /// List, describe, reset the offsets of, and delete consumer groups.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Create, list, describe and delete triggers: topics that invoke
    /// functions (AWS Lambda, a local Lambda Runtime API, webhooks).
    #[command(subcommand)]
    Trigger(trigger::TriggerCommand),
    /// Create, list and delete the SASL/SCRAM users Kafka clients
    /// authenticate as when `kafka.sasl` is on.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Run the triggers of a cluster (`stratus dev` runs one in-process).
    Dispatcher(dispatcher::DispatcherArgs),
    /// Run benchmark workloads (loadtests/workloads/*.yaml) against Stratus
    /// or NATS JetStream: throughput, latency, CPU, memory, requests, cost.
    #[cfg_attr(not(feature = "bench"), command(hide = true, disable_help_flag = true))]
    Bench(bench::BenchArgs),
    /// Show a running gateway's throughput, latency percentiles, errors and
    /// in-flight bytes from its /metrics endpoint, refreshed every --interval.
    Status(status::StatusArgs),
    /// Check a deployment: produce records with unique ids, read them back,
    /// and count what was lost, duplicated, reordered or left a gap.
    Verify(verify::VerifyArgs),
    /// Print what the server configuration reads (`stratus config env`).
    #[command(subcommand)]
    Config(config_env::ConfigCommand),
}

/// Runs a parsed command line on a multi-threaded runtime; errors are
/// printed on stderr and turn into a failing exit code.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => serve::dev(args).await,
            Command::Gateway(args) => serve::gateway(args).await,
            Command::Compactor(args) => compactor::run(args).await,
            Command::Topic(command) => topic::run(command).await,
            Command::Produce(args) => produce::run(args).await,
            Command::Consume(args) => consume::run(args).await,
            Command::Group(command) => group::run(command).await,
            Command::Trigger(command) => trigger::run(command).await,
            Command::User(command) => user::run(command).await,
            Command::Dispatcher(args) => dispatcher::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Config(command) => config_env::run(&command),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
