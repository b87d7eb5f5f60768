//! Time and ULIDs as the log sees them: the wall clock and the OS's
//! randomness in production, and under the feature `sim` a virtual clock and
//! a seeded generator a deterministic simulation installs for its thread.
//!
//! WAL object keys and topic ids are ULIDs, and their time part is compared
//! with [`now_ms`] (the commit deadline, orphan collection), so a simulation
//! running on virtual time must give both from the same source; and the
//! random part orders objects in listings, so it must come from the run's
//! seed for the same seed to replay the same run.

use ulid::Ulid;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    #[cfg(feature = "sim")]
    if let Some(ms) = sim::now_ms() {
        return ms;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh ULID for the time [`now_ms`] reads.
pub fn new_ulid() -> Ulid {
    ulid_at(now_ms())
}

/// A ULID with time part `ms` and a fresh random part.
pub fn ulid_at(ms: i64) -> Ulid {
    let ms = u64::try_from(ms).unwrap_or(0);
    #[cfg(feature = "sim")]
    if let Some(random) = sim::random_u128() {
        return Ulid::from_parts(ms, random);
    }
    Ulid::from_parts(ms, rand::random())
}

#[cfg(feature = "sim")]
pub use sim::{SimClockGuard, install_sim_clock};

#[cfg(feature = "sim")]
mod sim {
    use std::cell::RefCell;

    /// The virtual clock and id generator of this thread's simulation.
    struct Source {
        epoch_ms: i64,
        start: tokio::time::Instant,
        state: u64,
    }

    thread_local! {
        static SOURCE: RefCell<Option<Source>> = const { RefCell::new(None) };
    }

    /// Removes the thread's simulated clock when dropped.
    #[derive(Debug)]
    pub struct SimClockGuard(());

    impl Drop for SimClockGuard {
        fn drop(&mut self) {
            SOURCE.with(|s| s.borrow_mut().take());
        }
    }

    /// Makes [`super::now_ms`] read `epoch_ms` plus the tokio time elapsed
    /// since this call (virtual under paused time), and ULIDs draw their
    /// random part from `seed`, on this thread until the guard is dropped.
    /// Call it inside the simulation's current-thread runtime.
    pub fn install_sim_clock(epoch_ms: i64, seed: u64) -> SimClockGuard {
        SOURCE.with(|s| {
            *s.borrow_mut() = Some(Source {
                epoch_ms,
                start: tokio::time::Instant::now(),
                state: seed,
            });
        });
        SimClockGuard(())
    }

    pub(super) fn now_ms() -> Option<i64> {
        SOURCE.with(|s| {
            s.borrow().as_ref().map(|source| {
                let elapsed = source.start.elapsed().as_millis();
                source.epoch_ms + i64::try_from(elapsed).unwrap_or(i64::MAX)
            })
        })
    }

    pub(super) fn random_u128() -> Option<u128> {
        SOURCE.with(|s| {
            s.borrow_mut().as_mut().map(|source| {
                let high = splitmix64(&mut source.state);
                let low = splitmix64(&mut source.state);
                (u128::from(high) << 64) | u128::from(low)
            })
        })
    }

    /// SplitMix64: a tiny, well-mixed generator; plenty for id bits.
    fn splitmix64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
