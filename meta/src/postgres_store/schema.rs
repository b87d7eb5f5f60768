//! The tables the PostgreSQL backend keeps, and creating or upgrading them.
//!
//! Table and column names are persisted: never rename them; a change of
//! layout is a new [`SCHEMA_VERSION`] with a step in [`migrate`]. Every name
//! starts with `stratus_meta_`, so the tables can share a database (or a
//! schema, chosen with `search_path` in the URL) with others.
//!
//! - `stratus_meta_kv`: every key and value. `bytea` compares bytewise (then
//!   by length), exactly the order the trait's range reads need.
//! - `stratus_meta_version`: one row, the last committed version and how far
//!   the commit log has been pruned. Every writing transaction updates it, and
//!   its row lock is what puts commits in one order.
//! - `stratus_meta_commits`: the write set of each recent commit, which
//!   conflict checks and watches read; pruned after
//!   [`crate::limits::PG_COMMIT_LOG_RETENTION`].
//! - `stratus_meta_schema`: the layout version of the tables above.

use tokio_postgres::Client;

use super::error;
use crate::MetaError;

/// The layout [`migrate`] creates. A store refuses a database whose layout is
/// newer, so an old binary never writes tables it does not understand.
pub const SCHEMA_VERSION: i32 = 1;

/// Channel the commit path notifies and watchers listen on.
pub(super) const CHANNEL: &str = "stratus_meta_commits";

/// Serializes concurrent migrations (two gateways starting at once): `CREATE
/// TABLE IF NOT EXISTS` alone races on PostgreSQL's catalogs. Any constant
/// works; this one spells "stratusM" in ASCII.
const MIGRATION_LOCK: i64 = 0x7374_7261_7475_734d;

const CREATE_V1: &str = "
CREATE TABLE IF NOT EXISTS stratus_meta_kv (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS stratus_meta_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL,
    pruned_through bigint NOT NULL
);
INSERT INTO stratus_meta_version (version, pruned_through) VALUES (0, 0)
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS stratus_meta_commits (
    version bigint PRIMARY KEY,
    begins bytea[] NOT NULL,
    ends bytea[] NOT NULL,
    committed_at timestamptz NOT NULL
);
";

/// Creates the tables, or checks an existing layout, in one transaction.
pub(super) async fn migrate(client: &mut Client) -> Result<(), MetaError> {
    let tx = client.transaction().await.map_err(|e| error::map(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| error::map(&e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS stratus_meta_schema (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            version integer NOT NULL
        )",
    )
    .await
    .map_err(|e| error::map(&e))?;
    let found: Option<i32> = tx
        .query_opt("SELECT version FROM stratus_meta_schema", &[])
        .await
        .map_err(|e| error::map(&e))?
        .map(|row| row.get(0));
    match found {
        Some(version) if version > SCHEMA_VERSION => {
            return Err(MetaError::Backend(format!(
                "the metadata tables have layout {version}, newer than this binary's \
                 {SCHEMA_VERSION}; run a Stratus at least as new as the one that wrote them"
            )));
        }
        Some(_) => {}
        None => {
            tx.batch_execute(CREATE_V1)
                .await
                .map_err(|e| error::map(&e))?;
            tx.execute(
                "INSERT INTO stratus_meta_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(|e| error::map(&e))?;
        }
    }
    tx.commit().await.map_err(|e| error::map(&e))
}
