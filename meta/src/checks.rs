//! Refusing keys, values and clear-ranges over FoundationDB's limits
//! ([`crate::limits`]), the same way in every backend.

use super::MetaError;
use super::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// Refuses a key over [`MAX_KEY_BYTES`].
pub(crate) fn key(key: &[u8]) -> Result<(), MetaError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(MetaError::KeyTooLarge { len: key.len() });
    }
    Ok(())
}

/// Refuses a value over [`MAX_VALUE_BYTES`].
pub(crate) fn value(len: usize) -> Result<(), MetaError> {
    if len > MAX_VALUE_BYTES {
        return Err(MetaError::ValueTooLarge { len });
    }
    Ok(())
}

/// Checks a clear-range's bounds; `Ok(false)` means the range is empty.
pub(crate) fn clear_range(begin: &[u8], end: &[u8]) -> Result<bool, MetaError> {
    key(begin)?;
    // One byte of slack so the key after a largest key is a valid end.
    if end.len() > MAX_KEY_BYTES + 1 {
        return Err(MetaError::KeyTooLarge { len: end.len() });
    }
    if begin > end {
        return Err(MetaError::InvertedRange);
    }
    Ok(begin < end)
}
