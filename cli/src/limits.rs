//! Every numeric bound of the `stratus` commands, in one table: the defaults
//! of flags that are timeouts, intervals, retries or sizes, the ranges a flag
//! or setting is held to, and the buffers inside the commands.
//!
//! The server's own bounds live with the crates that enforce them (the
//! gateway's limits behind `GatewayConfig`, `stratus_tier::limits`, the
//! trigger bounds of `stratus_storage::trigger`); the tests at the bottom
//! check the values here against those where one depends on the other. A
//! flag shows its default in `--help` as humantime prints it
//! ([`flag_default`]: `10ms`, `1s`).

use std::ops::RangeInclusive;
use std::time::Duration;

// `stratus produce`

/// `--linger`: how long a partition's first unsent line waits for more
/// before its batch is sent. Short, so lines typed at a terminal are
/// acknowledged as they are typed, yet long enough to batch a pipe.
pub(crate) const PRODUCE_LINGER: Duration = Duration::from_millis(10);
/// `--batch-bytes`: a partition's batch is sent once it holds this many
/// bytes; it must fit the SDK producer's buffer and one gateway request.
pub(crate) const PRODUCE_BATCH_BYTES: usize = 1024 * 1024;
/// Acknowledgements awaited by the printer at most; past it reading stdin
/// waits (the producer's buffer bounds bytes, this bounds futures).
pub(crate) const PRODUCE_MAX_UNPRINTED: usize = 64 * 1024;

// `stratus consume --group`

/// Longest a group member's fetch waits at the end of a partition: short,
/// so Ctrl-C, `--max-records` and revocations are handled promptly.
pub(crate) const GROUP_FETCH_WAIT: Duration = Duration::from_millis(200);
/// `--commit-interval`: how often printed records are committed, so at most
/// about this much is delivered again after a consumer dies.
pub(crate) const GROUP_COMMIT_INTERVAL: Duration = Duration::from_secs(1);

// `stratus dispatcher`, and the one `stratus dev` runs

/// `--refresh`: how often a dispatcher re-reads the trigger definitions.
pub(crate) const DISPATCHER_REFRESH: Duration = Duration::from_secs(5);
/// The same for the dispatcher inside `stratus dev`: a trigger created on a
/// laptop starts within a second.
pub(crate) const DEV_DISPATCHER_REFRESH: Duration = Duration::from_secs(1);

// `stratus trigger create`

/// `--timeout`: per-invocation timeout.
pub(crate) const TRIGGER_TIMEOUT: Duration = Duration::from_secs(30);
/// `--batch-size`: most records per invocation (AWS's Kafka event source
/// default).
pub(crate) const TRIGGER_BATCH_SIZE: u32 = 100;
/// `--max-batch-bytes`: most key + value + header bytes per invocation.
pub(crate) const TRIGGER_MAX_BATCH_BYTES: u64 = 1024 * 1024;
/// `--batching-window`: how long records are gathered before invoking; 0
/// invokes at once.
pub(crate) const TRIGGER_BATCHING_WINDOW: Duration = Duration::ZERO;
/// `--max-retries` with `--on-failure-topic`: a failing batch is retried
/// this often before its records go to that topic.
pub(crate) const TRIGGER_RETRIES_WITH_FAILURE_TOPIC: i32 = 3;
/// `--max-retries` without an on-failure topic: forever (-1), since giving
/// up would drop the records.
pub(crate) const TRIGGER_RETRIES_WITHOUT_FAILURE_TOPIC: i32 = -1;

// `stratus status`

/// `--interval`: the window between the two scrapes a view is computed from.
pub(crate) const STATUS_INTERVAL: Duration = Duration::from_secs(2);
/// What `--interval` may be: shorter windows hold too few requests for
/// percentiles, longer ones are not a live view.
pub(crate) const STATUS_INTERVALS: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);
/// Largest `/metrics` response read; a gateway's exposition is tens of
/// kilobytes.
pub(crate) const SCRAPE_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

// Server settings

/// What `wal_retry.max_attempts` may be, the first attempt included.
pub(crate) const WAL_RETRY_MAX_ATTEMPTS: RangeInclusive<u32> = 1..=100;

/// A duration as a flag's default: what `humantime::parse_duration` reads
/// back and `--help` shows.
pub(crate) fn flag_default(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use stratus_gateway::GatewayConfig;
    use stratus_storage::trigger::{
        MAX_BATCH_BYTES, MAX_BATCH_SIZE, MAX_BATCHING_WINDOW_MS, MAX_RETRIES, MAX_TIMEOUT_MS,
    };

    use super::*;

    fn millis(duration: Duration) -> u64 {
        u64::try_from(duration.as_millis()).unwrap()
    }

    #[test]
    fn produce_batches_fit_the_sdk_buffer_and_one_request() {
        let sdk = stratus_sdk::ProducerConfig::default();
        assert!(PRODUCE_BATCH_BYTES <= sdk.buffer_bytes);
        assert!(PRODUCE_BATCH_BYTES as u64 <= GatewayConfig::default().max_request_bytes);
        const { assert!(PRODUCE_MAX_UNPRINTED > 0) };
        assert!(!PRODUCE_LINGER.is_zero());
    }

    #[test]
    fn group_members_fetch_and_commit_within_a_session() {
        let gateway = GatewayConfig::default();
        // The gateway would cut a longer wait short anyway.
        assert!(GROUP_FETCH_WAIT <= gateway.max_fetch_wait);
        // A poll waiting at the end outlasts neither the shortest session nor a commit period.
        assert!(GROUP_FETCH_WAIT < gateway.groups.min_session_timeout);
        assert!(GROUP_FETCH_WAIT < GROUP_COMMIT_INTERVAL);
        // A member commits several times in a session of the default length.
        assert!(GROUP_COMMIT_INTERVAL < gateway.groups.default_session_timeout);
    }

    #[test]
    fn dev_picks_up_triggers_faster_than_a_dispatcher_of_its_own() {
        assert!(!DEV_DISPATCHER_REFRESH.is_zero());
        assert!(DEV_DISPATCHER_REFRESH <= DISPATCHER_REFRESH);
    }

    #[test]
    fn trigger_defaults_are_definitions_the_gateway_accepts() {
        assert!((1..=MAX_TIMEOUT_MS).contains(&millis(TRIGGER_TIMEOUT)));
        assert!((1..=MAX_BATCH_SIZE).contains(&TRIGGER_BATCH_SIZE));
        assert!((1..=MAX_BATCH_BYTES).contains(&TRIGGER_MAX_BATCH_BYTES));
        assert!(millis(TRIGGER_BATCHING_WINDOW) <= MAX_BATCHING_WINDOW_MS);
        assert!((0..=MAX_RETRIES).contains(&TRIGGER_RETRIES_WITH_FAILURE_TOPIC));
        assert_eq!(TRIGGER_RETRIES_WITHOUT_FAILURE_TOPIC, -1, "forever");
    }

    #[test]
    fn status_defaults_lie_in_their_ranges() {
        assert!(STATUS_INTERVALS.contains(&STATUS_INTERVAL));
        assert!(!STATUS_INTERVALS.start().is_zero());
        const { assert!(SCRAPE_MAX_RESPONSE_BYTES > 0) };
    }

    #[test]
    fn the_default_wal_retries_are_within_the_setting_range() {
        let defaults = stratus_tier::RetryConfig::default();
        assert!(WAL_RETRY_MAX_ATTEMPTS.contains(&defaults.max_attempts));
        assert!(*WAL_RETRY_MAX_ATTEMPTS.start() >= 1);
    }

    #[test]
    fn flag_defaults_read_back_as_the_same_duration() {
        for duration in [
            PRODUCE_LINGER,
            GROUP_COMMIT_INTERVAL,
            DISPATCHER_REFRESH,
            TRIGGER_TIMEOUT,
            TRIGGER_BATCHING_WINDOW,
            STATUS_INTERVAL,
        ] {
            let text = flag_default(duration);
            assert_eq!(
                humantime::parse_duration(&text).unwrap(),
                duration,
                "{text}"
            );
        }
        assert_eq!(flag_default(PRODUCE_LINGER), "10ms");
        assert_eq!(flag_default(TRIGGER_BATCHING_WINDOW), "0s");
    }
}
