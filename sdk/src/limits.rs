//! Every numeric bound of the SDK, in one table: the defaults of
//! [`ProducerConfig`](crate::ProducerConfig), [`GroupConfig`](crate::GroupConfig),
//! the [`Consumer`](crate::Consumer) and the [`ClientBuilder`](crate::ClientBuilder)
//! (applications set their own through those), the ranges their validation
//! accepts, and the fixed bounds of retries, heartbeats and the transports.
//!
//! The tests at the bottom check how the bounds relate, to each other and to
//! the gateway's defaults a client meets; the configs take their defaults
//! from here. This module imports nothing of the crate, so every other module
//! may import it.

use std::time::Duration;

const MIB: usize = 1024 * 1024;

// ---- Producer (`ProducerConfig`) -------------------------------------------

/// `linger`: how long a partition's first buffered record waits for company
/// before its batch is sent: little added latency, yet enough to batch a
/// busy sender's records.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);
/// `batch_bytes`: a partition's batch is sent once it holds this many bytes.
pub const DEFAULT_BATCH_BYTES: usize = MIB;
/// `buffer_bytes`: bytes of records buffered or in flight over all
/// partitions, past which `send` waits: room for every in-flight batch of a
/// few busy partitions.
pub const DEFAULT_BUFFER_BYTES: usize = 32 * MIB;
/// Largest `buffer_bytes`: a record's share of the buffer is taken as `u32`
/// semaphore permits at once.
pub const MAX_BUFFER_BYTES: usize = u32::MAX as usize;
/// Most `max_in_flight_per_partition` with idempotence on, and its default:
/// the gateway remembers a producer's last 5 batches per partition to
/// recognise retries (Kafka's limit), so a request beyond that window could
/// not be recognised as a retry.
pub const MAX_IN_FLIGHT_IDEMPOTENT: usize = 5;
/// Most `max_in_flight_per_partition` with idempotence off: enough to fill
/// any link, few enough that one partition cannot queue without bound.
pub const MAX_IN_FLIGHT_WITHOUT_IDEMPOTENCE: usize = 1024;
/// `retry_backoff`: the first wait before a produce retry, doubled per
/// attempt: a gateway restart or failover takes tens of milliseconds.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(50);
/// `retry_backoff_max`: the cap on one retry's wait.
pub const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// `delivery_timeout`: how long a record may take from `send` to its
/// acknowledgement, retries included (Kafka's `delivery.timeout.ms`).
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// Doublings of `retry_backoff` at most: `1 << n` stays a `u32`, and any
/// sane `retry_backoff_max` is reached long before.
pub(crate) const RETRY_BACKOFF_MAX_DOUBLINGS: u32 = 16;
/// A retry waits between this fraction of its backoff and all of it, so
/// producers that failed together do not retry together.
pub(crate) const RETRY_JITTER_MIN: f64 = 0.5;
/// Bytes a buffered record is charged beyond its key, value and headers: an
/// allowance for its framing in the batch and the request.
pub(crate) const RECORD_FRAMING_BYTES: usize = 32;
/// The same for each header beyond its key and value.
pub(crate) const HEADER_FRAMING_BYTES: usize = 8;
/// zstd level of the batches the producer builds: level 1 compresses several
/// times faster than zstd's default and loses little ratio on record data.
pub(crate) const ZSTD_LEVEL: i32 = 1;

// ---- Consumers (`Consumer`, `GroupConfig`) ---------------------------------

/// `Consumer::max_bytes`: the soft limit on the record bytes of one fetch.
pub const DEFAULT_FETCH_MAX_BYTES: u32 = MIB as u32;
/// `Consumer::max_wait` and `GroupConfig::fetch_wait`: how long a fetch at
/// the end of a partition waits for new records.
pub const DEFAULT_FETCH_WAIT: Duration = Duration::from_millis(500);
/// Longest `GroupConfig::fetch_wait`: a member must poll often enough to see
/// its rebalances.
pub const MAX_GROUP_FETCH_WAIT: Duration = Duration::from_secs(30);
/// `GroupConfig::auto_commit`: how often what `poll` returned is committed,
/// so a member that dies re-delivers about this much.
pub const DEFAULT_AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// The wait before a partition is fetched again after its fetch failed
/// retryably (gateway gone, failing over); doubled per failure in a row up
/// to [`MAX_FETCH_RETRY_BACKOFF`] by [`fetch_retry_backoff`].
pub(crate) const FIRST_FETCH_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The cap on that wait: a partition is read again within seconds of its
/// gateway coming back.
pub(crate) const MAX_FETCH_RETRY_BACKOFF: Duration = Duration::from_millis(3200);

/// How long a partition waits before its next fetch after `failures`
/// retryable failures in a row: none after a success.
pub(crate) fn fetch_retry_backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => FIRST_FETCH_RETRY_BACKOFF
            .saturating_mul(2u32.saturating_pow(n - 1))
            .min(MAX_FETCH_RETRY_BACKOFF),
    }
}

// ---- Group membership ------------------------------------------------------

/// Pause between attempts of a membership call (join, heartbeat, commit,
/// leave) that failed transiently.
pub(crate) const MEMBERSHIP_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How long a membership call is retried before its error is returned.
pub(crate) const MEMBERSHIP_RETRY_FOR: Duration = Duration::from_secs(30);
/// Heartbeat interval until a gateway names one (every join and heartbeat
/// answer does).
pub(crate) const INITIAL_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Longest a revoked partition waits for the application's next `poll`
/// before it is released anyway (records the application still holds are
/// then read again by the partition's next owner): the group must not stall
/// on a member that stopped polling.
pub(crate) const MAX_REVOKE_WAIT: Duration = Duration::from_secs(30);
/// Shortest heartbeat interval a member follows, whatever a gateway says: a
/// member never heartbeats in a tight loop.
pub(crate) const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);

// ---- Transports (`ClientBuilder`) ------------------------------------------

/// `connect_timeout`: how long connecting to a gateway may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `request_timeout`: the longest one call may take before it fails as
/// retryable, so a silent gateway cannot stall a retry loop.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Ordered produce streams per transport: more than one lets the gateway
/// work on several requests at once (each stream's requests are handled in
/// order).
pub(crate) const ORDERED_STREAMS: usize = 4;
/// An ordered produce stream with nothing in flight for this long is closed
/// (the next request opens a new one), so a gateway shutting down gracefully
/// is not held up by a quiet producer.
pub(crate) const ORDERED_STREAM_IDLE_CLOSE: Duration = Duration::from_millis(500);
/// Largest answer decoded over gRPC: no bound of the client's own (tonic's
/// 4 MiB default would refuse a large fetch); the gateway bounds fetch
/// answers by its `max_fetch_bytes`. QUIC bounds answers at
/// [`QUIC_MAX_ANSWER_BYTES`].
pub(crate) const GRPC_MAX_ANSWER_BYTES: usize = usize::MAX;
/// A QUIC PING this often keeps the connection probing its gateway while the
/// client only waits for answers: a gateway that crashed and restarted
/// answers it with a stateless reset (it derives reset keys from its TLS
/// key), so the client learns within this interval, not after
/// `request_timeout`, that its requests will never be answered.
pub(crate) const QUIC_KEEP_ALIVE: Duration = Duration::from_secs(1);
/// A gateway that answers nothing at all (gone, unreachable) is given up
/// after this long without a packet.
pub(crate) const QUIC_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest QUIC answer frame accepted: fetches are bounded by the gateway's
/// `max_fetch_bytes` (plus one record), far below this.
pub(crate) const QUIC_MAX_ANSWER_BYTES: usize = 256 * MIB;

// ---- Trace propagation (feature `otel`) ------------------------------------

/// Links a batch span keeps at most (OpenTelemetry's default span link
/// limit): a batch of 10,000 records from 10,000 requests links the first
/// 128 and says how many there were.
#[cfg(feature = "otel")]
pub(crate) const MAX_SPAN_LINKS: usize = 128;

#[cfg(test)]
mod tests {
    use stratus_format::limits::MAX_BATCH_UNCOMPRESSED_BYTES;

    use super::*;

    // Gateway defaults a client meets (`gateway/src/limits.rs`,
    // `storage/src/limits.rs`); the SDK does not depend on those crates.
    /// Batches per producer and partition the gateway deduplicates against.
    const GATEWAY_PRODUCER_WINDOW: usize = 5;
    /// A topic's default `max.message.bytes`.
    const GATEWAY_MAX_MESSAGE_BYTES: usize = MIB;
    /// The gateway's cap on a fetch's bytes and on its long poll.
    const GATEWAY_MAX_FETCH_BYTES: usize = 8 * MIB;
    const GATEWAY_MAX_FETCH_WAIT: Duration = Duration::from_secs(30);
    /// The shortest and the default group session a gateway allows.
    const GATEWAY_MIN_SESSION: Duration = Duration::from_secs(1);
    const GATEWAY_DEFAULT_SESSION: Duration = Duration::from_secs(10);
    /// The gateway closes a QUIC connection idle this long.
    const GATEWAY_QUIC_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
    /// QUIC calls in flight per connection the gateway allows.
    const GATEWAY_QUIC_MAX_STREAMS: usize = 256;

    #[test]
    fn the_producer_buffer_holds_a_partitions_batches_and_the_largest_record() {
        // What `ProducerConfig::validate` demands of the defaults.
        const { assert!(DEFAULT_BATCH_BYTES >= 1 && DEFAULT_BATCH_BYTES <= DEFAULT_BUFFER_BYTES) };
        const { assert!(DEFAULT_BUFFER_BYTES <= MAX_BUFFER_BYTES) };
        // A record's permits are acquired as one u32.
        const { assert!(MAX_BUFFER_BYTES <= u32::MAX as usize) };
        const { assert!(MAX_BUFFER_BYTES <= tokio::sync::Semaphore::MAX_PERMITS) };
        // Every in-flight batch of a partition and the one it is filling fit
        // in the buffer, so one partition can keep its window busy.
        const { assert!((MAX_IN_FLIGHT_IDEMPOTENT + 1) * DEFAULT_BATCH_BYTES <= DEFAULT_BUFFER_BYTES) };
        // A record at a topic's default size limit, with its framing, is not
        // refused as larger than the buffer.
        const { assert!(GATEWAY_MAX_MESSAGE_BYTES + RECORD_FRAMING_BYTES <= DEFAULT_BUFFER_BYTES) };
        // A batch is sealed once it reaches batch_bytes, so it holds at most
        // one record more; the gateway must be able to decompress it.
        const {
            assert!(DEFAULT_BATCH_BYTES + GATEWAY_MAX_MESSAGE_BYTES <= MAX_BATCH_UNCOMPRESSED_BYTES)
        };
    }

    #[test]
    fn idempotent_requests_in_flight_stay_within_the_gateways_window() {
        const { assert!(MAX_IN_FLIGHT_IDEMPOTENT >= 1) };
        const { assert!(MAX_IN_FLIGHT_IDEMPOTENT <= GATEWAY_PRODUCER_WINDOW) };
        const { assert!(MAX_IN_FLIGHT_IDEMPOTENT <= MAX_IN_FLIGHT_WITHOUT_IDEMPOTENCE) };
    }

    #[test]
    fn produce_retries_grow_to_their_cap_and_fit_the_delivery_timeout() {
        assert!(!DEFAULT_RETRY_BACKOFF.is_zero());
        assert!(DEFAULT_RETRY_BACKOFF <= DEFAULT_RETRY_BACKOFF_MAX);
        // The doubling reaches the cap, and `1 << n` fits its u32.
        const { assert!(RETRY_BACKOFF_MAX_DOUBLINGS < u32::BITS) };
        let doubled = DEFAULT_RETRY_BACKOFF.saturating_mul(1 << RETRY_BACKOFF_MAX_DOUBLINGS);
        assert!(doubled >= DEFAULT_RETRY_BACKOFF_MAX);
        const { assert!(RETRY_JITTER_MIN > 0.0 && RETRY_JITTER_MIN <= 1.0) };
        // A first attempt that hangs until the request timeout is still
        // retried after the longest backoff, well within the delivery timeout.
        assert!(DEFAULT_REQUEST_TIMEOUT + DEFAULT_RETRY_BACKOFF_MAX < DEFAULT_DELIVERY_TIMEOUT / 2);
        // Lingering is a small part of a record's time to acknowledgement.
        assert!(DEFAULT_LINGER * 100 < DEFAULT_REQUEST_TIMEOUT);
    }

    #[test]
    fn fetches_end_before_their_calls_time_out() {
        // A long poll at the end of a partition answers before the call's
        // timeout would fail it, and within the gateway's cap.
        assert!(DEFAULT_FETCH_WAIT < DEFAULT_REQUEST_TIMEOUT);
        assert!(DEFAULT_FETCH_WAIT <= MAX_GROUP_FETCH_WAIT);
        assert!(MAX_GROUP_FETCH_WAIT <= GATEWAY_MAX_FETCH_WAIT);
        // A fetch answer at the gateway's cap, plus the one batch a fetch may
        // overshoot it by, is accepted over QUIC.
        const { assert!((DEFAULT_FETCH_MAX_BYTES as usize) <= GATEWAY_MAX_FETCH_BYTES) };
        const {
            assert!(GATEWAY_MAX_FETCH_BYTES + MAX_BATCH_UNCOMPRESSED_BYTES <= QUIC_MAX_ANSWER_BYTES)
        };
    }

    #[test]
    fn fetch_retries_back_off_to_a_cap() {
        assert_eq!(fetch_retry_backoff(0), Duration::ZERO);
        assert_eq!(fetch_retry_backoff(1), FIRST_FETCH_RETRY_BACKOFF);
        assert!(
            !FIRST_FETCH_RETRY_BACKOFF.is_zero(),
            "a zero backoff would spin"
        );
        assert!(FIRST_FETCH_RETRY_BACKOFF <= MAX_FETCH_RETRY_BACKOFF);
        let backoffs: Vec<Duration> = (0..64).map(fetch_retry_backoff).collect();
        assert!(backoffs.windows(2).all(|w| w[0] <= w[1]), "{backoffs:?}");
        assert!(
            backoffs.contains(&MAX_FETCH_RETRY_BACKOFF),
            "the cap is reached"
        );
        assert_eq!(fetch_retry_backoff(u32::MAX), MAX_FETCH_RETRY_BACKOFF);
        // A partition whose gateway is back is read again sooner than a
        // silent call would time out.
        assert!(MAX_FETCH_RETRY_BACKOFF < DEFAULT_REQUEST_TIMEOUT);
    }

    #[test]
    fn members_heartbeat_and_retry_within_a_session() {
        // Several attempts fit in the retry window.
        assert!(MEMBERSHIP_RETRY_PAUSE * 10 <= MEMBERSHIP_RETRY_FOR);
        // A heartbeat failing transiently is retried a few times before the
        // shortest session a gateway allows expires.
        assert!(MEMBERSHIP_RETRY_PAUSE * 3 < GATEWAY_MIN_SESSION);
        // Until a gateway names an interval, a member still sends three
        // heartbeats per default session.
        assert!(MIN_HEARTBEAT_INTERVAL <= INITIAL_HEARTBEAT_INTERVAL);
        assert!(INITIAL_HEARTBEAT_INTERVAL * 3 <= GATEWAY_DEFAULT_SESSION);
        assert!(!MIN_HEARTBEAT_INTERVAL.is_zero());
        // `GroupConfig::validate` refuses a zero auto-commit interval; one
        // commit per default session at least.
        assert!(!DEFAULT_AUTO_COMMIT_INTERVAL.is_zero());
        assert!(DEFAULT_AUTO_COMMIT_INTERVAL < GATEWAY_DEFAULT_SESSION);
    }

    #[test]
    fn transports_notice_a_dead_gateway_before_a_call_times_out() {
        assert!(DEFAULT_CONNECT_TIMEOUT <= DEFAULT_REQUEST_TIMEOUT);
        // Two PINGs per idle timeout, so a live connection never idles out,
        // and the gateway's idle timeout does not close it either.
        assert!(QUIC_KEEP_ALIVE * 2 <= QUIC_IDLE_TIMEOUT);
        assert!(QUIC_KEEP_ALIVE < GATEWAY_QUIC_IDLE_TIMEOUT);
        // A gateway that vanished is given up before a call would time out.
        assert!(QUIC_IDLE_TIMEOUT < DEFAULT_REQUEST_TIMEOUT);
        // The client config `expect`s this conversion.
        assert!(quinn::IdleTimeout::try_from(QUIC_IDLE_TIMEOUT).is_ok());
    }

    #[test]
    fn ordered_streams_outlive_a_linger_and_leave_room_for_calls() {
        // A producer sending a batch every linger keeps its streams open
        // instead of reopening one per batch.
        assert!(DEFAULT_LINGER < ORDERED_STREAM_IDLE_CLOSE);
        // An idle stream is closed well before any call would time out.
        assert!(ORDERED_STREAM_IDLE_CLOSE < DEFAULT_REQUEST_TIMEOUT);
        const { assert!(ORDERED_STREAMS >= 1) };
        // The ordered streams of a QUIC connection leave most of its streams
        // to other calls.
        const { assert!(ORDERED_STREAMS * 4 <= GATEWAY_QUIC_MAX_STREAMS) };
    }

    #[test]
    fn the_zstd_level_is_one_zstd_has() {
        assert!(zstd::compression_level_range().contains(&ZSTD_LEVEL));
    }

    #[cfg(feature = "otel")]
    #[test]
    fn a_batch_span_links_some_origins() {
        const { assert!(MAX_SPAN_LINKS >= 1) };
    }
}
