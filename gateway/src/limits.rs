//! Every numeric bound of the gateway, in one table: what it bounds, its
//! default, and (for settings) the range validation accepts. Settings an
//! operator tunes are [`Limit`]s read by `GatewayConfig`, `GroupsConfig` and
//! `QuicConfig`; the rest are constants because changing them needs a code
//! change anyway (they follow from a protocol or from another bound).
//!
//! The test at the bottom states how the bounds relate; a change that breaks
//! a relation fails it. No other module of the crate may hold a bare limit:
//! a number that bounds memory, time, a queue or a count belongs here.

use std::time::Duration;

use crate::config::check::{Bound, Limit, Unit};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// The most a semaphore permit count can be (tokio acquires `u32` permits at
/// once), so the largest a byte budget or a single request counted against it
/// may be.
const MAX_PERMITS: u64 = u32::MAX as u64;

// ---- Produce: batching and admission (`[gateway]`) -------------------------

/// `linger`: how long the batcher waits for more produce calls before it
/// flushes. Far below the WAL object commit deadline, so a lingering flush is
/// never too old to commit.
pub(crate) const LINGER: Limit<Duration> =
    Limit::new("linger", Duration::from_millis(5), Unit::Time)
        .at_most(Bound::Value(Duration::from_secs(10)));

/// `flush_bytes`: bytes waiting in the batcher that cut a flush at once.
pub(crate) const FLUSH_BYTES: Limit<u64> = Limit::new("flush_bytes", 4 * MIB, Unit::Bytes)
    .at_least(Bound::Value(KIB))
    .at_most(Bound::Value(256 * MIB));

/// `max_concurrent_flushes`: WAL objects written at once (their commits stay
/// in order); also the capacity of the queue between writer and committer.
pub(crate) const MAX_CONCURRENT_FLUSHES: Limit<usize> =
    Limit::new("max_concurrent_flushes", 16, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(64));

/// `max_flushes_per_commit`: durable flushes whose offsets one metadata
/// transaction assigns at most (group commit). 1 commits every flush alone.
/// At most the flushes that can be waiting, and few enough index entries
/// that one transaction stays far below FoundationDB's size limit.
pub(crate) const MAX_FLUSHES_PER_COMMIT: Limit<usize> =
    Limit::new("max_flushes_per_commit", 16, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(64));

/// `max_request_bytes`: the largest gRPC request decoded.
pub(crate) const MAX_REQUEST_BYTES: Limit<u64> =
    Limit::new("max_request_bytes", 16 * MIB, Unit::Bytes)
        .at_least(Bound::Value(KIB))
        .at_most(Bound::Value(GIB));

/// `max_inflight_bytes`: produce bytes admitted but not yet acknowledged,
/// counted before a request is validated and encoded. At least the largest
/// request, which could otherwise never be admitted.
pub(crate) const MAX_INFLIGHT_BYTES: Limit<u64> =
    Limit::new("max_inflight_bytes", 256 * MIB, Unit::Bytes)
        .at_least(Bound::Setting("max_request_bytes"))
        .at_most(Bound::Value(MAX_PERMITS));

/// `max_pipelined_requests`: requests of one ordered produce stream admitted
/// but not yet answered. Past it the stream stops reading, and transport
/// flow control holds the client back.
pub(crate) const MAX_PIPELINED_REQUESTS: Limit<usize> =
    Limit::new("max_pipelined_requests", 256, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(10_000));

/// Requests of one ordered produce stream validated and encoded at once.
/// Encoding is CPU-bound; a few in parallel keep the cores busy without one
/// stream occupying all of them.
pub(crate) const MAX_CONCURRENT_PREPARES: usize = 4;

/// `zstd_level`: the level of batches the gateway encodes (1 is fastest).
/// zstd's own range, negative levels included.
pub(crate) const ZSTD_LEVEL: Limit<i32> = Limit::new("zstd_level", 1, Unit::Number)
    .at_least(Bound::Value(-7))
    .at_most(Bound::Value(22));

// ---- Topics and fetch (`[gateway]`) -----------------------------------------

/// `topic_cache_ttl`: how long a gateway trusts a cached topic record, so a
/// changed `max.message.bytes` or a deleted topic is seen within it. Staleness
/// is safe (appends re-check the topic in their transaction).
pub(crate) const TOPIC_CACHE_TTL: Limit<Duration> =
    Limit::new("topic_cache_ttl", Duration::from_secs(1), Unit::Time)
        .at_most(Bound::Value(Duration::from_secs(60)));

/// Topics a gateway caches; beyond it the cache is cleared (a lookup is one
/// cheap read, and a cluster with more topics than this gains little).
pub(crate) const MAX_CACHED_TOPICS: usize = 10_000;

/// `chunk_cache_bytes`: chunk data cached in memory for readers (read by the
/// log the gateway is given).
pub(crate) const CHUNK_CACHE_BYTES: Limit<u64> =
    Limit::new("chunk_cache_bytes", 256 * MIB, Unit::Bytes);

/// `max_fetch_wait`: the cap on a fetch's long-poll.
pub(crate) const MAX_FETCH_WAIT: Limit<Duration> =
    Limit::new("max_fetch_wait", Duration::from_secs(30), Unit::Time);

/// `max_fetch_bytes`: the cap on a fetch's bytes, and the default when a
/// fetch gives none.
pub(crate) const MAX_FETCH_BYTES: Limit<u32> =
    Limit::new("max_fetch_bytes", 8 * MIB as u32, Unit::Number).at_least(Bound::Value(1024));

/// How long one wait of a subscription lasts before it checks whether its
/// client is still there.
pub(crate) const SUBSCRIBE_POLL: Duration = Duration::from_secs(5);

/// Responses a subscription buffers for a slow client.
pub(crate) const SUBSCRIBE_BUFFER: usize = 4;

// ---- Transport (`[gateway]`, `[gateway.quic]`) ------------------------------

/// TCP keep-alive of gRPC connections: finds peers that vanished without a
/// FIN well before any metadata-store lease would.
pub(crate) const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// A gRPC client that has not finished its TLS handshake this long after
/// connecting is dropped, so silent sockets cannot hold handshake slots.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS handshakes of the gRPC listener in progress at once; connections
/// beyond it wait in the kernel's accept queue.
pub(crate) const TLS_MAX_PENDING_HANDSHAKES: usize = 1024;

/// `quic.max_connections`: QUIC connections served at once.
pub(crate) const QUIC_MAX_CONNECTIONS: Limit<u32> =
    Limit::new("quic.max_connections", 1024, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(100_000));

/// `quic.max_concurrent_streams`: calls in flight per QUIC connection.
pub(crate) const QUIC_MAX_CONCURRENT_STREAMS: Limit<u32> =
    Limit::new("quic.max_concurrent_streams", 256, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(10_000));

/// `quic.max_frame_bytes`: the largest request frame, length prefix included.
pub(crate) const QUIC_MAX_FRAME_BYTES: Limit<u64> =
    Limit::new("quic.max_frame_bytes", 16 * MIB, Unit::Bytes)
        .at_least(Bound::Value(KIB))
        .at_most(Bound::Value(GIB));

/// `quic.max_buffered_bytes`: request bytes the endpoint holds at once across
/// connections. At least one whole frame, or the largest could never be read.
pub(crate) const QUIC_MAX_BUFFERED_BYTES: Limit<u64> =
    Limit::new("quic.max_buffered_bytes", 256 * MIB, Unit::Bytes)
        .at_least(Bound::Setting("quic.max_frame_bytes"))
        .at_most(Bound::Value(MAX_PERMITS));

/// `quic.receive_window`: bytes one QUIC connection may make quinn buffer
/// while its streams wait for `max_buffered_bytes`.
pub(crate) const QUIC_RECEIVE_WINDOW: Limit<u64> =
    Limit::new("quic.receive_window", 16 * MIB, Unit::Bytes)
        .at_least(Bound::Value(64 * KIB))
        .at_most(Bound::Value(MAX_PERMITS));

/// `quic.idle_timeout`: a QUIC connection with no traffic for this long is
/// closed.
pub(crate) const QUIC_IDLE_TIMEOUT: Limit<Duration> =
    Limit::new("quic.idle_timeout", Duration::from_secs(30), Unit::Time)
        .at_least(Bound::Value(Duration::from_secs(1)))
        .at_most(Bound::Value(Duration::from_secs(3600)));

/// Unidirectional streams a QUIC peer may open: none, every call is a
/// request and an answer on one bidirectional stream.
pub(crate) const QUIC_MAX_UNI_STREAMS: u32 = 0;

/// How long shutdown waits for QUIC peers to acknowledge the close.
pub(crate) const QUIC_CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Produce requests decoded from one QUIC produce stream ahead of the
/// ordered pipeline: the pipeline's own bound does the buffering.
pub(crate) const QUIC_STREAM_DECODE_AHEAD: usize = 1;

// ---- Consumer groups (`[gateway.groups]`) -----------------------------------

/// `groups.max_members`: live members of one group.
pub(crate) const GROUP_MAX_MEMBERS: Limit<usize> =
    Limit::new("groups.max_members", 1000, Unit::Number)
        .at_least(Bound::Value(1))
        .at_most(Bound::Value(10_000))
        .because("every member's record is rewritten in one transaction on a rebalance");

/// `groups.max_groups`: groups of the cluster, of either protocol.
pub(crate) const GROUP_MAX_GROUPS: Limit<usize> = Limit::new(
    "groups.max_groups",
    stratus_storage::limits::DEFAULT_MAX_GROUPS,
    Unit::Number,
)
.at_least(Bound::Value(1))
.at_most(Bound::Value(10_000_000))
.because("listing groups reads every one");

/// `groups.max_member_metadata_bytes`: the protocol metadata one Kafka
/// classic member offers (its subscription, as its assignors encode it).
pub(crate) const GROUP_MAX_MEMBER_METADATA_BYTES: Limit<usize> = Limit::new(
    "groups.max_member_metadata_bytes",
    stratus_storage::limits::DEFAULT_CLASSIC_METADATA_BYTES,
    Unit::Bytes,
)
.at_least(Bound::Value(KIB as usize))
.at_most(Bound::Value(CLASSIC_MEMBER_PAYLOAD_BYTES - KIB as usize))
.because("a member's metadata and assignment share one metadata value");

/// `groups.max_assignment_bytes`: the assignment a classic group's leader
/// gives one member; with the metadata at most
/// [`CLASSIC_MEMBER_PAYLOAD_BYTES`].
pub(crate) const GROUP_MAX_ASSIGNMENT_BYTES: Limit<usize> = Limit::new(
    "groups.max_assignment_bytes",
    stratus_storage::limits::DEFAULT_CLASSIC_ASSIGNMENT_BYTES,
    Unit::Bytes,
)
.at_least(Bound::Value(KIB as usize))
.at_most(Bound::Value(CLASSIC_MEMBER_PAYLOAD_BYTES - KIB as usize))
.because("a member's metadata and assignment share one metadata value");

/// Metadata and assignment bytes of one classic member together.
pub(crate) const CLASSIC_MEMBER_PAYLOAD_BYTES: usize =
    stratus_storage::limits::MAX_CLASSIC_MEMBER_PAYLOAD_BYTES;

/// `groups.min_session_timeout`: the shortest session a member may ask for.
pub(crate) const GROUP_MIN_SESSION_TIMEOUT: Limit<Duration> = Limit::new(
    "groups.min_session_timeout",
    Duration::from_secs(1),
    Unit::Time,
)
.at_least(Bound::Value(Duration::from_millis(100)));

/// `groups.max_session_timeout`: the longest session a member may ask for.
pub(crate) const GROUP_MAX_SESSION_TIMEOUT: Limit<Duration> = Limit::new(
    "groups.max_session_timeout",
    Duration::from_secs(300),
    Unit::Time,
)
.at_least(Bound::Setting("groups.min_session_timeout"))
.at_most(Bound::Value(Duration::from_secs(3600)));

/// `groups.default_session_timeout`: the session of a member that asks for
/// none.
pub(crate) const GROUP_DEFAULT_SESSION_TIMEOUT: Limit<Duration> = Limit::new(
    "groups.default_session_timeout",
    Duration::from_secs(10),
    Unit::Time,
)
.at_least(Bound::Setting("groups.min_session_timeout"))
.at_most(Bound::Setting("groups.max_session_timeout"));

/// Heartbeats a member is told to send per session timeout: a member that
/// misses two in a row still keeps its partitions.
pub(crate) const HEARTBEATS_PER_SESSION: u32 = 3;

#[cfg(test)]
mod tests {
    use stratus_format::batch::MAX_BATCH_UNCOMPRESSED_BYTES;
    use stratus_storage::log::COMMIT_DEADLINE;
    use stratus_storage::topic::TopicConfig;

    use super::*;

    fn fixed<T: crate::config::check::Quantity>(limit: &Limit<T>) -> (Option<T>, Option<T>) {
        (limit.min_value(), limit.max_value())
    }

    #[test]
    fn every_default_is_within_its_own_range() {
        fn within<T: crate::config::check::Quantity>(limit: &Limit<T>) {
            let (min, max) = fixed(limit);
            assert!(
                min.is_none_or(|min| limit.default >= min),
                "{}",
                limit.setting
            );
            assert!(
                max.is_none_or(|max| limit.default <= max),
                "{}",
                limit.setting
            );
        }
        within(&LINGER);
        within(&FLUSH_BYTES);
        within(&MAX_CONCURRENT_FLUSHES);
        within(&MAX_REQUEST_BYTES);
        within(&MAX_INFLIGHT_BYTES);
        within(&MAX_PIPELINED_REQUESTS);
        within(&ZSTD_LEVEL);
        within(&TOPIC_CACHE_TTL);
        within(&MAX_FETCH_BYTES);
        within(&QUIC_MAX_CONNECTIONS);
        within(&QUIC_MAX_CONCURRENT_STREAMS);
        within(&QUIC_MAX_FRAME_BYTES);
        within(&QUIC_MAX_BUFFERED_BYTES);
        within(&QUIC_RECEIVE_WINDOW);
        within(&QUIC_IDLE_TIMEOUT);
        within(&GROUP_MAX_MEMBERS);
        within(&GROUP_MAX_GROUPS);
        within(&GROUP_MAX_MEMBER_METADATA_BYTES);
        within(&GROUP_MAX_ASSIGNMENT_BYTES);
        const {
            assert!(
                GROUP_MAX_MEMBER_METADATA_BYTES.default + GROUP_MAX_ASSIGNMENT_BYTES.default
                    <= CLASSIC_MEMBER_PAYLOAD_BYTES
            )
        };
        within(&GROUP_MIN_SESSION_TIMEOUT);
        within(&GROUP_MAX_SESSION_TIMEOUT);
    }

    #[test]
    fn the_largest_request_fits_the_budgets_that_admit_it() {
        // A gRPC request or a QUIC frame at its limit must be admissible.
        const { assert!(MAX_INFLIGHT_BYTES.default >= MAX_REQUEST_BYTES.default) };
        const { assert!(MAX_INFLIGHT_BYTES.default >= QUIC_MAX_FRAME_BYTES.default) };
        const { assert!(QUIC_MAX_BUFFERED_BYTES.default >= QUIC_MAX_FRAME_BYTES.default) };
        // One request's cost is acquired as u32 permits at once.
        assert!(MAX_INFLIGHT_BYTES.max_value() <= Some(MAX_PERMITS));
        assert!(QUIC_MAX_BUFFERED_BYTES.max_value() <= Some(MAX_PERMITS));
        assert!(MAX_REQUEST_BYTES.max_value() <= Some(MAX_PERMITS));
        assert!(QUIC_MAX_FRAME_BYTES.max_value() <= Some(MAX_PERMITS));
        // A record at a topic's default max.message.bytes fits in a request,
        // and a batch of it decodes within the decompression bound.
        let record = u64::from(TopicConfig::default().max_message_bytes);
        assert!(record < MAX_REQUEST_BYTES.default);
        assert!(record < QUIC_MAX_FRAME_BYTES.default);
        assert!(record <= MAX_BATCH_UNCOMPRESSED_BYTES as u64);
    }

    #[test]
    fn flushes_cut_by_size_before_the_budget_is_spent() {
        // A flush is cut by size long before the budget is spent, so several
        // flushes are in the pipeline at once; a budget smaller than a flush
        // would make every flush wait for linger.
        assert!(FLUSH_BYTES.max_value() <= Some(MAX_INFLIGHT_BYTES.default));
        const { assert!(FLUSH_BYTES.default * 4 <= MAX_INFLIGHT_BYTES.default) };
        const { assert!(MAX_CONCURRENT_PREPARES <= MAX_PIPELINED_REQUESTS.default) };
    }

    #[test]
    fn waits_end_before_what_outlives_them() {
        // A flush lingers and writes its object well within the commit
        // deadline of that object (after which it can never be committed).
        let linger = LINGER.max_value().unwrap();
        assert!(linger * 4 <= COMMIT_DEADLINE);
        // A long poll over QUIC ends before the idle timeout closes a
        // connection that sends nothing meanwhile.
        assert!(MAX_FETCH_WAIT.default <= QUIC_IDLE_TIMEOUT.default);
        // A subscription's wait is one fetch's, which max_fetch_wait caps.
        assert!(SUBSCRIBE_POLL < MAX_FETCH_WAIT.default);
        // Shutdown's close grace is shorter than an idle connection lasts.
        assert!(QUIC_CLOSE_GRACE < QUIC_IDLE_TIMEOUT.default);
    }

    #[test]
    fn fetch_answers_fit_the_transports() {
        // A fetch answer at the cap, with its framing, stays under the frame
        // size a QUIC peer configured like this gateway accepts.
        assert!(u64::from(MAX_FETCH_BYTES.default) < QUIC_MAX_FRAME_BYTES.default);
        // One connection cannot buffer more than the whole endpoint may hold.
        const { assert!(QUIC_RECEIVE_WINDOW.default <= QUIC_MAX_BUFFERED_BYTES.default) };
    }

    #[test]
    fn session_timeouts_nest_and_heartbeats_are_frequent_enough() {
        let min = GROUP_MIN_SESSION_TIMEOUT.default;
        assert!(min <= GROUP_DEFAULT_SESSION_TIMEOUT.default);
        assert!(GROUP_DEFAULT_SESSION_TIMEOUT.default <= GROUP_MAX_SESSION_TIMEOUT.default);
        // The shortest session allowed still leaves a heartbeat interval of
        // at least a millisecond.
        let shortest = GROUP_MIN_SESSION_TIMEOUT.min_value().unwrap();
        assert!(shortest / HEARTBEATS_PER_SESSION >= Duration::from_millis(1));
        const { assert!(HEARTBEATS_PER_SESSION >= 2) };
    }
}
