//! What the simulated clients saw, in the order they saw it: the input of
//! the checker, and (hashed) the trace two runs of one seed must share.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

/// One observation by a client or the nemesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A producer's batch was acknowledged with this base offset.
    Acked {
        producer: String,
        partition: u32,
        base_offset: i64,
        values: Vec<String>,
    },
    /// A produce failed or timed out: its records may or may not be written.
    ProduceFailed {
        producer: String,
        partition: u32,
        values: Vec<String>,
        error: String,
    },
    /// A group member was told its assignment.
    Assigned {
        member: String,
        generation: i64,
        partitions: Vec<u32>,
    },
    /// A group member read a record. `read_started` is the sequence number of
    /// the history when its read began.
    Delivered {
        member: String,
        generation: i64,
        partition: u32,
        offset: i64,
        value: String,
        read_started: usize,
    },
    /// A group member's offset commit succeeded.
    OffsetCommitted {
        member: String,
        generation: i64,
        partition: u32,
        offset: i64,
    },
    /// A read failed; `missing_object` when the index named an object the
    /// tier no longer has.
    ReadFailed {
        reader: String,
        partition: u32,
        offset: i64,
        missing_object: bool,
        error: String,
    },
    /// The nemesis acted: a crash, a restart, a cut or a heal.
    Nemesis(String),
}

/// An event with its virtual time, in milliseconds since the run began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at_ms: u64,
    pub event: Event,
}

/// The shared, append-only history of one run.
#[derive(Debug, Clone)]
pub struct History {
    start: tokio::time::Instant,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl History {
    /// An empty history whose clock starts now (virtual time).
    pub fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            entries: Arc::default(),
        }
    }

    /// Appends `event`; returns its sequence number.
    pub fn record(&self, event: Event) -> usize {
        let at_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.push(Entry { at_ms, event });
        entries.len() - 1
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// A copy of every event so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

/// FNV-1a over the debug text of every entry: stable across processes and
/// toolchains (unlike `DefaultHasher`), so a seed's hash can be compared
/// between two runs.
pub fn trace_hash(entries: &[Entry]) -> u64 {
    let mut hash = Fnv::default();
    let mut line = String::new();
    for entry in entries {
        line.clear();
        let _ = writeln!(line, "{entry:?}");
        hash.write(line.as_bytes());
    }
    hash.0
}

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
