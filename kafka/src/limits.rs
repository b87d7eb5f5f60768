//! Every bound of the Kafka listener in one table: defaults of the settings in
//! [`KafkaConfig`](crate::KafkaConfig), the range each setting may take, and the
//! fixed limits of decoding. The test at the bottom pins how they relate.
//!
//! This module holds numbers only; it must never read the environment or do I/O.

use std::time::Duration;

/// Bytes of the size prefix in front of every request and response.
pub const FRAME_PREFIX_BYTES: usize = 4;

/// Shortest request a frame can hold: api key (2), api version (2) and
/// correlation id (4). Anything shorter is not a request.
pub const MIN_REQUEST_BYTES: usize = 8;

/// Default largest request frame (size prefix excluded). Kafka's producers
/// default to 1 MiB requests (`max.request.size`), so 16 MiB leaves room for
/// raised client limits without inviting huge frames.
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;

/// Smallest `max_frame_bytes` accepted: a Metadata or Fetch request naming a
/// few thousand partitions must still fit.
pub const MIN_FRAME_BYTES: u32 = 64 * 1024;

/// Largest `max_frame_bytes` accepted. Decoding may reserve (not touch) up to
/// [`MAX_REQUEST_ELEMENT_BYTES`] of address space per frame byte, so this
/// keeps one frame's worst reservation at 8 GiB; the size prefix is an `i32`.
pub const MAX_FRAME_BYTES_CEILING: u32 = 64 * 1024 * 1024;

/// Largest frame of any request other than Produce. Only Produce carries
/// record data; every other request is a list of names and numbers, and a
/// megabyte of those is tens of thousands of partitions. The cap keeps the
/// decoded form of a hostile control request (each element of a few wire
/// bytes becoming a struct of up to [`MAX_REQUEST_ELEMENT_BYTES`]) small.
pub const MAX_CONTROL_FRAME_BYTES: u32 = 1024 * 1024;

/// Upper bound of `size_of` of any element of a list in a request we decode
/// (checked by a test in `decode::guard`). With the count guard (a count
/// never exceeds the bytes left) it bounds what one decode may reserve:
/// `frame bytes * MAX_REQUEST_ELEMENT_BYTES`.
pub const MAX_REQUEST_ELEMENT_BYTES: usize = 128;

/// Varints (compact counts, lengths, tagged-field numbers) up to this value
/// pass the count guard even when fewer bytes follow: tagged-field numbers
/// are not counts and may end a frame. A lying count within the slack
/// reserves at most `VARINT_COUNT_SLACK * MAX_REQUEST_ELEMENT_BYTES`.
pub const VARINT_COUNT_SLACK: u64 = 4096;

/// Default requests read from one connection and not yet answered. Java
/// producers keep 5 in flight; consumers one fetch plus a few others.
pub const DEFAULT_MAX_IN_FLIGHT_REQUESTS: u32 = 32;

/// Largest `max_in_flight_requests` accepted.
pub const MAX_IN_FLIGHT_REQUESTS_CEILING: u32 = 1024;

/// Default request bytes read from one connection and not yet answered.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 64 * 1024 * 1024;

/// Largest `max_in_flight_bytes` accepted: the byte budget is a tokio
/// semaphore, whose `acquire_many` takes a `u32`.
pub const MAX_IN_FLIGHT_BYTES_CEILING: u64 = u32::MAX as u64;

/// Default connections served at once by one listener; further connections
/// are accepted and closed at once.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;

/// Largest `max_connections` accepted.
pub const MAX_CONNECTIONS_CEILING: u32 = 100_000;

/// Default idle timeout, Kafka's `connections.max.idle.ms`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Shortest `idle_timeout` accepted.
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest `idle_timeout` accepted.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Default partition count of a topic created without one (auto-creation,
/// or CreateTopics with `num_partitions = -1`), Kafka's `num.partitions`.
pub const DEFAULT_PARTITIONS: u32 = 1;

/// Longest zone name a gateway registers or a client names (AWS, GCP and
/// Azure zone names are under 32 bytes).
pub const MAX_ZONE_BYTES: usize = 64;

/// Largest `default_partitions` accepted; the storage layer's own cap.
pub const MAX_DEFAULT_PARTITIONS: u32 = 100_000;

/// Longest regular expression a KIP-848 member may subscribe with.
pub const MAX_TOPIC_REGEX_BYTES: usize = 4096;

/// Most memory one compiled subscription pattern may take: a pattern that
/// would need more is INVALID_REGULAR_EXPRESSION rather than a gateway's
/// memory.
pub const MAX_TOPIC_REGEX_COMPILED_BYTES: usize = 1024 * 1024;

/// How long a gateway reuses its list of topic names to resolve pattern
/// subscriptions: every heartbeat of a pattern member resolves its pattern,
/// and without this each one would list every topic. A topic created or
/// deleted reaches the members matching it this much later at most.
pub const TOPIC_NAMES_CACHE_TTL: Duration = Duration::from_secs(1);

/// Largest request frame a connection may send before it has authenticated
/// with SASL (Kafka's `sasl.server.max.receive.size`): SaslHandshake,
/// SaslAuthenticate and ApiVersions are small, and a stranger should not make
/// the listener read megabytes.
pub const MAX_UNAUTHENTICATED_FRAME_BYTES: u32 = 512 * 1024;

/// Largest SASL token (one SaslAuthenticate's `auth_bytes`) accepted. SCRAM
/// and PLAIN messages are a few hundred bytes.
pub const MAX_SASL_TOKEN_BYTES: usize = 8 * 1024;

/// Longest user name, in bytes (storage's own bound).
pub const MAX_SASL_NAME_BYTES: usize = stratus_storage::credentials::MAX_USER_BYTES;

/// Longest SCRAM nonce accepted from a client, in bytes.
pub const MAX_SCRAM_NONCE_BYTES: usize = 256;

/// Random bytes in the server's SCRAM nonce (base64 on the wire).
pub const SCRAM_SERVER_NONCE_BYTES: usize = 24;

/// Random bytes in a new credential's salt.
pub const SCRAM_SALT_BYTES: usize = 24;

/// Fewest PBKDF2 iterations a SCRAM credential may have (Kafka's and RFC
/// 7677's minimum).
pub const MIN_SCRAM_ITERATIONS: u32 = stratus_storage::credentials::MIN_ITERATIONS;

/// Most PBKDF2 iterations a SCRAM credential may have (Kafka's maximum): a
/// PLAIN login runs them on the gateway.
pub const MAX_SCRAM_ITERATIONS: u32 = stratus_storage::credentials::MAX_ITERATIONS;

/// Iterations of credentials made by `stratus user create`.
pub const DEFAULT_SCRAM_ITERATIONS: u32 = 8192;

/// Default `kafka.sasl.max_session_lifetime`: after it a connection must
/// re-authenticate (KIP-368) or is closed, so a deleted user or a changed
/// password takes effect within the hour.
pub const DEFAULT_MAX_SESSION_LIFETIME: Duration = Duration::from_secs(3600);

/// Shortest non-zero `max_session_lifetime` (clients re-authenticate at
/// 85-95% of it, and round shorter ones up to a second).
pub const MIN_SESSION_LIFETIME: Duration = Duration::from_secs(1);

/// Longest `max_session_lifetime`.
pub const MAX_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Default `kafka.sasl.failure_delay`: the first wait after a failed
/// authentication from an address.
pub const DEFAULT_FAILURE_DELAY: Duration = Duration::from_secs(1);

/// Longest `failure_delay`.
pub const MAX_FAILURE_DELAY: Duration = Duration::from_secs(60);

/// The wait after repeated failures grows to at most this many times
/// `failure_delay`.
pub const MAX_FAILURE_DELAY_FACTOR: u32 = 32;

/// An address that has not failed for this long is forgotten.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);

/// Addresses whose failures are remembered at once.
pub const MAX_TRACKED_ADDRESSES: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_relate() {
        // Checked while the test compiles, so a bad edit fails the build of
        // the test suite at once; the test itself is where the relations live.
        const {
            // A frame the defaults accept fits the default in-flight budget,
            // so a connection can always admit one request.
            assert!(DEFAULT_MAX_IN_FLIGHT_BYTES >= DEFAULT_MAX_FRAME_BYTES as u64);
            // The frame range is ordered and fits the `i32` size prefix.
            assert!(MIN_FRAME_BYTES <= DEFAULT_MAX_FRAME_BYTES);
            assert!(DEFAULT_MAX_FRAME_BYTES <= MAX_FRAME_BYTES_CEILING);
            assert!(MAX_FRAME_BYTES_CEILING as u64 <= i32::MAX as u64);
            // The largest accepted frame fits the largest accepted budget,
            // and the budget fits the semaphore's `u32` acquisitions.
            assert!(MAX_FRAME_BYTES_CEILING as u64 <= MAX_IN_FLIGHT_BYTES_CEILING);
            assert!(MAX_IN_FLIGHT_BYTES_CEILING <= u32::MAX as u64);
            assert!(DEFAULT_MAX_IN_FLIGHT_BYTES <= MAX_IN_FLIGHT_BYTES_CEILING);
            // The control cap is the tighter one by default, and a request
            // header fits the smallest frame.
            assert!(MAX_CONTROL_FRAME_BYTES <= DEFAULT_MAX_FRAME_BYTES);
            assert!(MIN_REQUEST_BYTES < MIN_FRAME_BYTES as usize);
            // One decode reserves at most 8 GiB of address space at the
            // ceiling, 2 GiB at the default.
            assert!(
                MAX_FRAME_BYTES_CEILING as u64 * MAX_REQUEST_ELEMENT_BYTES as u64
                    <= 8 * 1024 * 1024 * 1024
            );
            assert!(
                DEFAULT_MAX_FRAME_BYTES as u64 * MAX_REQUEST_ELEMENT_BYTES as u64
                    <= 2 * 1024 * 1024 * 1024
            );
            // A count within the varint slack reserves at most 512 KiB.
            assert!(VARINT_COUNT_SLACK * MAX_REQUEST_ELEMENT_BYTES as u64 <= 512 * 1024);
            // Defaults are within their ranges.
            assert!(DEFAULT_MAX_IN_FLIGHT_REQUESTS >= 1);
            assert!(DEFAULT_MAX_IN_FLIGHT_REQUESTS <= MAX_IN_FLIGHT_REQUESTS_CEILING);
            assert!(DEFAULT_MAX_CONNECTIONS >= 1);
            assert!(DEFAULT_MAX_CONNECTIONS <= MAX_CONNECTIONS_CEILING);
            assert!(MIN_IDLE_TIMEOUT.as_nanos() <= DEFAULT_IDLE_TIMEOUT.as_nanos());
            assert!(DEFAULT_IDLE_TIMEOUT.as_nanos() <= MAX_IDLE_TIMEOUT.as_nanos());
            assert!(DEFAULT_PARTITIONS >= 1);
            assert!(DEFAULT_PARTITIONS <= MAX_DEFAULT_PARTITIONS);
            // A SASL exchange fits the unauthenticated frame bound, which
            // is below every frame bound a listener may have.
            assert!(MAX_SASL_TOKEN_BYTES < MAX_UNAUTHENTICATED_FRAME_BYTES as usize);
            assert!(MAX_UNAUTHENTICATED_FRAME_BYTES <= MIN_FRAME_BYTES * 8);
            assert!(MIN_SCRAM_ITERATIONS <= DEFAULT_SCRAM_ITERATIONS);
            assert!(DEFAULT_SCRAM_ITERATIONS <= MAX_SCRAM_ITERATIONS);
            assert!(MIN_SESSION_LIFETIME.as_nanos() <= DEFAULT_MAX_SESSION_LIFETIME.as_nanos());
            assert!(DEFAULT_MAX_SESSION_LIFETIME.as_nanos() <= MAX_SESSION_LIFETIME.as_nanos());
            // Session lifetimes fit SaslAuthenticate's i64 milliseconds.
            assert!(MAX_SESSION_LIFETIME.as_millis() <= i64::MAX as u128);
            assert!(DEFAULT_FAILURE_DELAY.as_nanos() <= MAX_FAILURE_DELAY.as_nanos());
            assert!(MAX_FAILURE_DELAY_FACTOR >= 1);
            // Every partition index fits Kafka's `i32`.
            assert!(MAX_DEFAULT_PARTITIONS as u64 <= i32::MAX as u64);
        }
    }
}
