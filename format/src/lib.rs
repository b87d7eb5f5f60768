//! The byte formats Stratus persists and serves, as pure functions over bytes:
//! Kafka's RecordBatch v2 ([`batch`]), the WAL object ([`wal_object`]) and the
//! per-partition segment ([`segment`]); and the definitions other crates
//! read without linking the storage engine: Kafka's topic-name rules
//! ([`names`]) and trigger definitions with their gRPC mapping ([`trigger`]).
//! Every bound they enforce is in [`limits`].
//!
//! These bytes are forever: every layout here is pinned by the snapshot tests
//! in `tests/codec_snapshot.rs`. Nothing in this crate does I/O, spawns tasks
//! or knows about the metadata store; bytes from object storage or from a
//! client are checked against what is actually present and never trusted.

pub mod batch;
pub mod limits;
pub mod names;
pub mod segment;
pub mod trigger;
pub mod wal_object;
