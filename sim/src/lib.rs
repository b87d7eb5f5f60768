//! A deterministic simulation of Stratus, in the spirit of FoundationDB's
//! simulator: gateways (the storage crate's produce path behind a linger
//! batcher, and group coordination), compactors (the compactor crate's
//! passes) and clients (idempotent and plain producers, consumer-group
//! members) run as tasks of one current-thread tokio runtime on paused
//! time, over an in-memory object store and an in-memory metadata store
//! that inject seeded faults. A nemesis crashes and restarts hosts and cuts
//! them off from the stores. Every random choice comes from the run's seed,
//! so a seed replays exactly; [`checker`] then holds the history the clients
//! recorded against what the stores hold at the end.
//!
//! `docs/testing.md` ("Deterministic simulation") lists the faults, the
//! checker's rules and the commands.

pub mod audit;
pub mod checker;
pub mod cluster;
pub mod compaction;
pub mod config;
pub mod gateway;
pub mod history;
pub mod link;
pub mod member;
pub mod nemesis;
pub mod producer;
pub mod seeds;
pub mod stores;
pub mod world;

pub use config::{PlantedBug, SimConfig};
pub use world::{RunReport, replay_command, run};
