//! Mapping PostgreSQL failures onto [`MetaError`], in one place.
//!
//! What callers need from an error is whether running the transaction again
//! may succeed and whether it may have committed. A server error carries a
//! SQLSTATE that answers both; a failure without one (the connection broke,
//! the pool had no connection) answers neither, so before the `COMMIT` it is
//! a plain backend error (nothing can have been applied: PostgreSQL aborts an
//! open transaction whose session ends) and during it
//! [`MetaError::CommitUnknownResult`].

use tokio_postgres::error::SqlState;

use crate::MetaError;

/// Maps an error from any statement before `COMMIT`.
pub(super) fn map(error: &tokio_postgres::Error) -> MetaError {
    let Some(code) = error.code() else {
        return MetaError::Backend(format!("PostgreSQL connection failed: {error}"));
    };
    // The commit path takes its locks in one order and runs at READ
    // COMMITTED, so these should not happen; if a server setting makes them
    // happen anyway, PostgreSQL rolled the transaction back and running it
    // again is what it asks for.
    if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
    {
        return MetaError::Conflict;
    }
    if *code == SqlState::UNDEFINED_TABLE {
        return MetaError::Backend(format!(
            "the Stratus tables are missing in this PostgreSQL database (dropped after start?); \
             restart the process to create them: {error}"
        ));
    }
    MetaError::Backend(format!(
        "PostgreSQL error {}: {}",
        code.code(),
        db_message(error)
    ))
}

/// Maps an error from the `COMMIT` statement itself: only a server answer
/// with a SQLSTATE proves the transaction did not commit.
pub(super) fn map_commit(error: &tokio_postgres::Error) -> MetaError {
    if error.code().is_some() {
        return map(error);
    }
    tracing::error!(%error, "PostgreSQL COMMIT failed without an answer; outcome unknown");
    MetaError::CommitUnknownResult
}

/// Maps a failure to get a pooled connection.
pub(super) fn map_pool(error: &deadpool_postgres::PoolError) -> MetaError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => map(error),
        deadpool_postgres::PoolError::Timeout(_) => MetaError::Backend(format!(
            "no PostgreSQL connection became free within {:?}; the pool of {} is busy \
             or the server is unreachable",
            crate::limits::PG_POOL_WAIT,
            crate::limits::PG_POOL_MAX_CONNECTIONS
        )),
        deadpool_postgres::PoolError::Closed => MetaError::Closed,
        other => MetaError::Backend(format!("PostgreSQL connection pool failed: {other}")),
    }
}

/// The server's message without the driver's `db error:` wrapper.
fn db_message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned())
}
