//! Every bound of the byte formats, in one table: what it bounds and why it
//! has that value. None is a setting: each follows from a format that is
//! forever (a batch written under a bound must stay readable) or from an
//! outside limit (Kafka's, AWS Lambda's), so changing one needs a code change
//! anyway. The layout constants (header and footer lengths, field offsets)
//! are the formats themselves and stay beside them.
//!
//! The tests at the bottom state how the bounds relate. This module imports
//! nothing of the crate, so every other module may import it.

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ---- RecordBatch v2 ---------------------------------------------------------

/// Largest decompressed record payload of one batch that we write or read.
///
/// The reader refuses anything larger so a small corrupt or hostile batch
/// cannot make it allocate without bound. Batches already written must stay
/// readable, so this may grow but must never shrink.
pub const MAX_BATCH_UNCOMPRESSED_BYTES: usize = 64 * MIB;

/// The smallest step a bounded decompression grows its buffer by: large
/// enough that a megabyte batch takes a handful of reads, small enough that a
/// tiny batch does not reserve much.
pub const DECOMPRESS_READ_STEP: usize = 64 * KIB;

// ---- Names -----------------------------------------------------------------

/// Longest topic name, Kafka's limit (a file name of 255 bytes less room for
/// the partition suffix Kafka appends); a topic valid in Kafka is valid here.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

// ---- Trigger definitions ---------------------------------------------------

/// Most records one invocation carries (AWS Lambda's Kafka event source maximum).
pub const MAX_TRIGGER_BATCH_SIZE: u32 = 10_000;
/// Largest batch payload: AWS Lambda's synchronous invocation limit is 6 MB
/// for the whole event, and base64 inflates keys and values by a third.
pub const MAX_TRIGGER_BATCH_BYTES: u64 = 4 * MIB as u64;
/// Longest batching window (AWS allows 300 s).
pub const MAX_TRIGGER_BATCHING_WINDOW_MS: u64 = 300_000;
/// Longest invocation timeout (AWS Lambda's maximum function timeout).
pub const MAX_TRIGGER_TIMEOUT_MS: u64 = 900_000;
/// Most retries of one batch; -1 means retry forever.
pub const MAX_TRIGGER_RETRIES: i32 = 10_000;
/// Oldest record age a trigger may set (AWS allows 7 days).
pub const MAX_TRIGGER_RECORD_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS Lambda's synchronous invocation payload limit.
    const LAMBDA_PAYLOAD_BYTES: u64 = 6 * 1024 * 1024;

    #[test]
    fn a_batch_fits_kafkas_length_field() {
        // The batch length is an i32 on the wire; the decompressed payload is
        // at least as large as any compressed one we accept.
        const { assert!(MAX_BATCH_UNCOMPRESSED_BYTES <= i32::MAX as usize) };
        const { assert!(DECOMPRESS_READ_STEP > 0) };
        const { assert!(DECOMPRESS_READ_STEP < MAX_BATCH_UNCOMPRESSED_BYTES) };
    }

    #[test]
    fn a_topic_name_fits_a_file_name_with_its_partition() {
        // "-" and up to five partition digits after it.
        const { assert!(MAX_TOPIC_NAME_LEN + 6 <= 255) };
    }

    #[test]
    fn a_trigger_batch_fits_one_lambda_invocation() {
        // Base64 turns every 3 bytes into 4.
        const { assert!(MAX_TRIGGER_BATCH_BYTES.div_ceil(3) * 4 < LAMBDA_PAYLOAD_BYTES) };
        const { assert!(MAX_TRIGGER_BATCH_SIZE > 0) };
        const { assert!(MAX_TRIGGER_RETRIES >= 0) };
    }

    #[test]
    fn a_record_may_wait_out_a_batching_window() {
        // Otherwise a window at its longest would expire its own records.
        const { assert!(MAX_TRIGGER_RECORD_AGE_MS > MAX_TRIGGER_BATCHING_WINDOW_MS) };
        const { assert!(MAX_TRIGGER_TIMEOUT_MS > 0) };
    }
}
