//! The end-to-end suite: real `stratus` processes, real S3 servers, real
//! clients from other ecosystems. One test binary for all of it, because every
//! integration-test file is its own statically linked binary carrying the whole
//! stack (the gateway, the Kafka and NATS clients, the S3 server): two dozen of
//! them took gigabytes of `target/` and minutes of linking. Run one area with
//! `cargo test -p stratus-cli --test suite durability::`.
//!
//! The tests that install a global tracing subscriber or measure the cost of
//! telemetry stay in binaries of their own (`otlp_export`, `telemetry_overhead`,
//! `metrics_endpoint`).

mod common;

mod bad_input;
#[cfg(feature = "bench")]
mod bench_smoke;
#[cfg(feature = "faults")]
mod chaos;
mod cli_tour;
mod compaction;
mod compactor_lambda;
mod config_corpus;
mod dev_ports;
mod durability;
mod end_to_end;
#[cfg(feature = "faults")]
mod faults;
mod group_rolling_members;
mod groups;
mod groups_multi_gateway;
mod health_and_reflection;
mod infra_compose;
mod kafka_admin;
mod kafka_clients;
mod kafka_connect;
mod kafka_differential;
mod kafka_group_tools;
mod kafka_groups;
mod kafka_groups_in_cli;
mod kafka_librdkafka;
mod kafka_mixed_group;
mod kafka_sasl;
mod kafka_static_members;
mod kafka_streams;
mod kafka_zones;
mod limits;
mod long_poll;
mod postgres_gateways;
mod produce_acks;
mod python_peer;
mod s3_misconfig;
mod sdk_duplicates;
mod sdk_end_to_end;
mod sdk_group_handoff;
mod sdk_transports;
mod streaming;
mod tls_listeners;
mod topic_alter;
mod triggers;
mod verify;
