//! The domain above the metadata store: the key layout, the partition log
//! (append, commit, read), topics, producer state, consumer groups, trigger
//! definitions, SCRAM credentials and the gateway registry.
//!
//! Byte formats live in `stratus-format`, the metadata seam in `stratus-meta`
//! and object-store tiers in `stratus-tier`; this crate composes them and never
//! touches the network. The gateway and compactor drive these types. Every
//! bound of the crate is in [`limits`].

pub mod credentials;
pub mod group;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod log;
pub mod registry;
pub mod topic;
pub mod trigger;
