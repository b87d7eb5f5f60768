//! Slows down guessing: once an address has failed to authenticate, its
//! next attempts are checked one at a time, each no sooner than a delay
//! after the previous one, the delay doubling with every further failure
//! (from `kafka.sasl.failure_delay` up to [`MAX_FAILURE_DELAY_FACTOR`] times
//! it). Parallel connections from the address wait in line, so opening more
//! of them buys no speed. A success, or [`FAILURE_MEMORY`] without failing,
//! forgets the address. At most [`MAX_TRACKED_ADDRESSES`] are remembered.
//!
//! [`MAX_FAILURE_DELAY_FACTOR`]: crate::limits::MAX_FAILURE_DELAY_FACTOR
//! [`FAILURE_MEMORY`]: crate::limits::FAILURE_MEMORY
//! [`MAX_TRACKED_ADDRESSES`]: crate::limits::MAX_TRACKED_ADDRESSES

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::limits::{FAILURE_MEMORY, MAX_FAILURE_DELAY_FACTOR, MAX_TRACKED_ADDRESSES};

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// No attempt from the address is checked before this.
    next_slot: Instant,
}

/// Failed authentications by client address.
#[derive(Debug)]
pub struct FailureThrottle {
    base: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl FailureThrottle {
    /// A throttle whose first delay is `base` (zero turns it off).
    pub fn new(base: Duration) -> Self {
        Self {
            base,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(MAX_FAILURE_DELAY_FACTOR);
        self.base.saturating_mul(factor)
    }

    /// How long an attempt from `addr` must wait before it is checked; the
    /// wait is reserved, so the next attempt waits longer.
    pub fn reserve(&self, addr: IpAddr) -> Duration {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        let Some(entry) = entries.get_mut(&addr) else {
            return Duration::ZERO;
        };
        if now.duration_since(entry.last_failure) > FAILURE_MEMORY {
            entries.remove(&addr);
            return Duration::ZERO;
        }
        let slot = entry.next_slot.max(now);
        entry.next_slot = slot + self.delay(entry.failures);
        slot - now
    }

    /// Waits out [`reserve`](Self::reserve).
    pub async fn wait(&self, addr: Option<IpAddr>) {
        if let Some(addr) = addr {
            let wait = self.reserve(addr);
            if !wait.is_zero() {
                tracing::debug!(%addr, ?wait, "delaying a SASL attempt after failures");
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Records a failure from `addr`.
    pub fn failed(&self, addr: Option<IpAddr>) {
        let (Some(addr), false) = (addr, self.base.is_zero()) else {
            return;
        };
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        if entries.len() >= MAX_TRACKED_ADDRESSES && !entries.contains_key(&addr) {
            entries.retain(|_, e| now.duration_since(e.last_failure) <= FAILURE_MEMORY);
            if entries.len() >= MAX_TRACKED_ADDRESSES
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_failure)
                    .map(|(a, _)| *a)
            {
                entries.remove(&oldest);
            }
        }
        let entry = entries.entry(addr).or_insert(Entry {
            failures: 0,
            last_failure: now,
            next_slot: now,
        });
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        // Not added up: a burst of failures waits the latest delay, while
        // attempts still queue behind each other in `reserve`.
        entry.next_slot = entry.next_slot.max(now + self.delay(entry.failures));
    }

    /// Forgets `addr`'s failures.
    pub fn succeeded(&self, addr: Option<IpAddr>) {
        if let Some(addr) = addr {
            self.entries.lock().expect("throttle lock").remove(&addr);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[tokio::test(start_paused = true)]
    async fn delays_double_per_failure_and_queue_parallel_attempts() {
        let t = FailureThrottle::new(Duration::from_millis(100));
        let a = ip(1);
        assert_eq!(t.reserve(a), Duration::ZERO);
        t.failed(Some(a));
        // The next attempt waits the first delay; one in parallel waits again.
        assert_eq!(t.reserve(a), Duration::from_millis(100));
        assert_eq!(t.reserve(a), Duration::from_millis(200));
        tokio::time::advance(Duration::from_millis(300)).await;
        t.failed(Some(a));
        assert_eq!(t.reserve(a), Duration::from_millis(200));
        for _ in 0..20 {
            t.failed(Some(a));
        }
        assert!(t.reserve(a) >= Duration::from_millis(100) * MAX_FAILURE_DELAY_FACTOR);
        // Others are not slowed; a success forgets.
        assert_eq!(t.reserve(ip(2)), Duration::ZERO);
        t.succeeded(Some(a));
        assert_eq!(t.reserve(a), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_forgotten_and_the_table_is_bounded() {
        let t = FailureThrottle::new(Duration::from_millis(10));
        t.failed(Some(ip(1)));
        tokio::time::advance(FAILURE_MEMORY + Duration::from_secs(1)).await;
        assert_eq!(t.reserve(ip(1)), Duration::ZERO);
        for n in 0..(MAX_TRACKED_ADDRESSES as u32 + 10) {
            t.failed(Some(ip(n)));
        }
        assert_eq!(t.tracked(), MAX_TRACKED_ADDRESSES);
    }

    #[test]
    fn zero_turns_it_off() {
        let t = FailureThrottle::new(Duration::ZERO);
        t.failed(Some(ip(1)));
        assert_eq!(t.reserve(ip(1)), Duration::ZERO);
    }
}
