//! Mapping PostgreSQL failures onto [`MetaError`], in one place.
//!
//! What callers need from an error is whether running the transaction again
//! may succeed and whether it may have committed. Before the `COMMIT`,
//! nothing can have been applied (PostgreSQL aborts an open transaction whose
//! session ends), so a broken connection or a server going away (SQLSTATE
//! class 08, 57P01-57P03, 53300) is [`MetaError::Busy`], which
//! [`crate::run`] retries on a fresh connection after a pause. During the
//! `COMMIT`, only a server answer that is not about the connection proves the
//! transaction did not commit; anything else is
//! [`MetaError::CommitUnknownResult`]. Failing to get a connection at all
//! (the pool's wait, or connecting) is not retried: each attempt would wait
//! for the pool or the connect timeout again.

use tokio_postgres::error::SqlState;

use crate::MetaError;

/// Maps an error from any statement before `COMMIT`.
pub(super) fn map(error: &tokio_postgres::Error) -> MetaError {
    match error.code() {
        None => MetaError::Busy {
            reason: format!("PostgreSQL connection failed: {error}"),
        },
        Some(code) if connection_lost(code.code()) => MetaError::Busy {
            reason: format!("PostgreSQL error {}: {}", code.code(), db_message(error)),
        },
        Some(_) => map_answer(error),
    }
}

/// Whether a SQLSTATE says the session is gone or the server is not
/// taking work (connection exceptions, shutdowns, too many connections),
/// rather than anything about the statement.
fn connection_lost(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

/// Maps a server's answer: retryable only as a conflict.
fn map_answer(error: &tokio_postgres::Error) -> MetaError {
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
/// with a SQLSTATE that is not about the session going away proves the
/// transaction did not commit.
pub(super) fn map_commit(error: &tokio_postgres::Error) -> MetaError {
    if error
        .code()
        .is_some_and(|code| !connection_lost(code.code()))
    {
        return map_answer(error);
    }
    tracing::error!(%error, "PostgreSQL COMMIT failed without an answer; outcome unknown");
    MetaError::CommitUnknownResult
}

/// Maps a failure to get a pooled connection.
pub(super) fn map_pool(error: &deadpool_postgres::PoolError) -> MetaError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => map_answer(error),
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

#[cfg(test)]
mod tests {
    use super::connection_lost;

    #[test]
    fn only_a_lost_session_or_a_server_going_away_is_retried() {
        for lost in [
            "08000", "08003", "08006", "57P01", "57P02", "57P03", "53300",
        ] {
            assert!(connection_lost(lost), "{lost}");
        }
        // A conflict is retried as a conflict; the rest are not retried.
        for other in ["40001", "42P01", "23505", "53100", "57014"] {
            assert!(!connection_lost(other), "{other}");
        }
    }
}
