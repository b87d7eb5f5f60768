//! Seeded retry jitter for a deterministic simulation: [`crate::run`] pauses a
//! random time after a conflict, and under paused tokio time that pause
//! decides which transaction runs next, so a simulation that replays a seed
//! must draw it from the seed too. Per thread, because a simulation runs on
//! one current-thread runtime and tests run side by side on other threads.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Ends the seeded jitter of this thread when dropped.
#[derive(Debug)]
pub struct JitterGuard(());

impl Drop for JitterGuard {
    fn drop(&mut self) {
        STATE.with(|s| s.set(None));
    }
}

/// Makes retry jitter on this thread a function of `seed` until the guard is
/// dropped.
pub fn seed_retry_jitter(seed: u64) -> JitterGuard {
    STATE.with(|s| s.set(Some(seed)));
    JitterGuard(())
}

/// The next seeded draw (SplitMix64), if this thread's jitter is seeded.
pub(crate) fn next() -> Option<u64> {
    STATE.with(|s| {
        let state = s.get()?.wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(Some(state));
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    })
}
