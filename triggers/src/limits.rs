//! Every numeric bound of the dispatcher, in one table: the delivery
//! backoffs, how the consumption loop buffers and backs off, the group member
//! it consumes through, the targets' timeouts and excerpts, and how the
//! dispatcher follows and stops triggers. [`DispatcherConfig`]'s default
//! refresh is here too (`stratus dispatcher --refresh` sets its own).
//!
//! The bounds of a trigger definition (batch size, timeout, retries) are the
//! definition's, in `stratus_format::limits`. The tests at the bottom check
//! how the bounds relate, to each other and to the SDK's. This module
//! imports nothing of the crate, so every other module may import it.
//!
//! [`DispatcherConfig`]: crate::DispatcherConfig

use std::time::Duration;

// ---- Delivery (`deliver`) ----------------------------------------------------

/// The wait before a failed batch's first retry, doubled per attempt, and
/// before retrying a write to the on-failure topic: a throttled or restarting
/// function recovers within tens of milliseconds to seconds.
pub const DELIVERY_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The cap on one such wait: a function that stays down is retried every few
/// seconds, not hammered, and a function that comes back is soon used again.
pub const DELIVERY_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Doublings of the backoff at most: `1 << n` stays a `u32`, and the cap is
/// reached long before.
pub const DELIVERY_BACKOFF_MAX_DOUBLINGS: u32 = 16;

// ---- The consumption loop (`consume`) ---------------------------------------

/// Batches' worth of records a partition buffers before it is paused: one
/// being cut while another is in flight, so the function never waits for a
/// fetch.
pub const BUFFERED_BATCHES: u64 = 2;
/// The pause after each failed poll of the group, growing by this much per
/// failure in a row up to [`POLL_RETRY_PAUSE_MAX`].
pub const POLL_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause after failed polls: a dispatcher whose gateways are
/// back resumes within seconds.
pub const POLL_RETRY_PAUSE_MAX: Duration = Duration::from_secs(5);
/// How long the trigger's group member waits at the end of a partition:
/// short, so a partition's records reach the function soon after they are
/// written and batching windows are cut on time.
pub const GROUP_FETCH_WAIT: Duration = Duration::from_millis(200);

// ---- Targets (`target`) -----------------------------------------------------

/// Time a Lambda Invoke request is given beyond the function's timeout, for
/// the round trip (and a cold start's setup) around the function's run.
pub const LAMBDA_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);
/// Bytes of a response body kept as the error message when the body has no
/// `errorMessage`: enough to recognise an HTML error page or a stack trace,
/// short enough for a header of the on-failure topic.
pub const ERROR_BODY_EXCERPT_BYTES: usize = 1024;
/// The local Runtime API's pause after a failed accept (out of file
/// descriptors, usually), so the loop backs off instead of spinning.
pub const RUNTIME_API_ACCEPT_PAUSE: Duration = Duration::from_millis(100);

// ---- The dispatcher (`dispatcher`) ------------------------------------------

/// How often the dispatcher re-reads the trigger definitions
/// (`DispatcherConfig::refresh`): a created or changed trigger starts within
/// seconds, at the cost of one small gateway read.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);
/// How long a stopping trigger may take to leave its group before the
/// dispatcher moves on: leaving is one quick call, and a stuck trigger is
/// not worth waiting for (its session expires anyway).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use stratus_format::limits::{MAX_TRIGGER_BATCH_BYTES, MAX_TRIGGER_TIMEOUT_MS};
    use stratus_sdk::limits::{DEFAULT_REQUEST_TIMEOUT, MAX_GROUP_FETCH_WAIT};

    use super::*;

    #[test]
    fn delivery_backoff_grows_to_its_cap() {
        assert!(
            !DELIVERY_INITIAL_BACKOFF.is_zero(),
            "a zero backoff would spin"
        );
        assert!(DELIVERY_INITIAL_BACKOFF <= DELIVERY_MAX_BACKOFF);
        // `1 << n` fits its u32, and the doubling reaches the cap.
        const { assert!(DELIVERY_BACKOFF_MAX_DOUBLINGS < u32::BITS) };
        let doubled = DELIVERY_INITIAL_BACKOFF * (1 << DELIVERY_BACKOFF_MAX_DOUBLINGS);
        assert!(doubled >= DELIVERY_MAX_BACKOFF);
    }

    #[test]
    fn a_partition_keeps_the_next_batch_ready() {
        // One batch in flight and the next buffered; a buffer of one batch
        // would pause the partition while its batch is in flight.
        const { assert!(BUFFERED_BATCHES >= 2) };
        // Twice the largest batch a definition allows still counts in a u64.
        const {
            assert!(
                MAX_TRIGGER_BATCH_BYTES
                    .checked_mul(BUFFERED_BATCHES)
                    .is_some()
            )
        };
    }

    #[test]
    fn a_stopping_trigger_is_not_held_up_by_its_own_waits() {
        assert!(!POLL_RETRY_PAUSE.is_zero(), "a zero pause would spin");
        assert!(POLL_RETRY_PAUSE <= POLL_RETRY_PAUSE_MAX);
        // The pause after a failed poll does not watch for the stop: a
        // trigger in its longest pause still stops within the stop timeout.
        assert!(POLL_RETRY_PAUSE_MAX < STOP_TIMEOUT);
        assert!(GROUP_FETCH_WAIT < STOP_TIMEOUT);
    }

    #[test]
    fn the_group_member_is_one_the_sdk_accepts() {
        // `GroupConfig::validate` refuses a longer fetch wait.
        assert!(GROUP_FETCH_WAIT <= MAX_GROUP_FETCH_WAIT);
        // A long poll answers before the SDK's call timeout fails it.
        assert!(GROUP_FETCH_WAIT < DEFAULT_REQUEST_TIMEOUT);
    }

    #[test]
    fn target_timeouts_and_excerpts() {
        // A function running its whole timeout is not cut off by the HTTP
        // client, even at the longest timeout a definition allows.
        assert!(!LAMBDA_TIMEOUT_MARGIN.is_zero());
        let longest = Duration::from_millis(MAX_TRIGGER_TIMEOUT_MS);
        assert!(longest.checked_add(LAMBDA_TIMEOUT_MARGIN).is_some());
        // An excerpt of invalid UTF-8 becomes U+FFFD, three bytes a byte;
        // even then it stays a short header value.
        const { assert!(ERROR_BODY_EXCERPT_BYTES > 0) };
        const { assert!(3 * ERROR_BODY_EXCERPT_BYTES <= 4 * 1024) };
        assert!(
            !RUNTIME_API_ACCEPT_PAUSE.is_zero(),
            "a zero pause would spin"
        );
    }

    #[test]
    fn definitions_are_reread_and_stops_bounded() {
        // `tokio::time::interval` panics on a zero period.
        assert!(!DEFAULT_REFRESH.is_zero());
        assert!(!STOP_TIMEOUT.is_zero());
    }
}
