//! An in-memory [`MetaStore`] for tests: the same transaction semantics as the
//! durable backends, nothing survives the process.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use imbl::OrdMap;

use super::occ::{Engine, Mutation, Occ, Snapshot, SnapshotIter, add_le};
use super::{MetaError, MetaStore, Transaction, Watch};

/// A non-durable metadata store held in memory. Clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryMetaStore {
    occ: Arc<Occ<MemoryEngine>>,
}

impl MemoryMetaStore {
    /// An empty store.
    pub fn new() -> Self {
        let engine = MemoryEngine {
            state: Mutex::new(State::default()),
        };
        Self {
            occ: Occ::new(engine, 0),
        }
    }
}

impl Default for MemoryMetaStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl MetaStore for MemoryMetaStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        self.occ.begin()
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.occ.watch(key)
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

#[derive(Debug, Default)]
struct State {
    version: u64,
    data: OrdMap<Bytes, Bytes>,
}

#[derive(Debug)]
struct MemoryEngine {
    state: Mutex<State>,
}

impl MemoryEngine {
    fn lock(&self) -> MutexGuard<'_, State> {
        // `apply` cannot panic between its updates (map inserts and removes
        // only), so a poisoned state is still a consistent one.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A persistent map shares structure, so a snapshot is an O(1) clone.
#[derive(Debug)]
struct MemorySnapshot(OrdMap<Bytes, Bytes>);

impl Snapshot for MemorySnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        Ok(self.0.get(key).cloned())
    }

    fn range(
        &self,
        begin: &[u8],
        end: &[u8],
        reverse: bool,
    ) -> Result<SnapshotIter<'_>, MetaError> {
        let bounds = (
            std::ops::Bound::Included(begin),
            std::ops::Bound::Excluded(end),
        );
        let pairs = self.0.range::<_, [u8]>(bounds);
        let pairs = pairs.map(|(k, v)| Ok((k.clone(), v.clone())));
        Ok(if reverse {
            Box::new(pairs.rev())
        } else {
            Box::new(pairs)
        })
    }
}

impl Engine for MemoryEngine {
    type Snapshot = MemorySnapshot;

    const BLOCKING: bool = false;

    fn snapshot(&self) -> Result<(u64, MemorySnapshot), MetaError> {
        let state = self.lock();
        Ok((state.version, MemorySnapshot(state.data.clone())))
    }

    fn apply(&self, version: u64, mutations: &[Mutation]) -> Result<(), MetaError> {
        let mut state = self.lock();
        for mutation in mutations {
            match mutation {
                Mutation::Set(key, value) => {
                    state.data.insert(key.clone(), value.clone());
                }
                Mutation::Clear(key) => {
                    state.data.remove(key);
                }
                Mutation::ClearRange(begin, end) => {
                    let doomed: Vec<Bytes> = state
                        .data
                        .range(begin.clone()..end.clone())
                        .map(|(key, _)| key.clone())
                        .collect();
                    for key in doomed {
                        state.data.remove(&key);
                    }
                }
                Mutation::Add(key, delta) => {
                    let value = add_le(state.data.get(key).map(|v| v.as_ref()), *delta);
                    state.data.insert(key.clone(), value);
                }
            }
        }
        state.version = version;
        Ok(())
    }
}
