#!/usr/bin/env bash
# foundationdb-init (infra/docker-compose.yml): creates the database on the
# first start of the stack and does nothing on later starts, then exits 0.
#
# A fresh fdbserver has no database until `configure new ...` runs once.
# Running it again fails with "Database already exists", which is fine, so
# the script is idempotent: it only configures when the database is not
# available, and treats "already exists" as success.
#
# Runs inside the foundationdb/foundationdb image (fdbcli on PATH).
# Messages matched below are fdbcli's as of 7.3:
#   status minimal -> "The database is available." / "The database is unavailable; ..."
#   configure new  -> "Database created" / "ERROR: Database already exists! ..."
set -euo pipefail

cluster_file=${FDB_CLUSTER_FILE:-/var/fdb/cluster/fdb.cluster}
# Development default: one process, one replica, the SQLite-based ssd engine.
configuration=${FDB_INIT_CONFIGURATION:-single ssd}
attempts=${FDB_INIT_ATTEMPTS:-90}

log() { echo "foundationdb-init: $*"; }

# `|| true`: an unreachable coordinator is not an error yet, only a reason to retry.
status_minimal() { fdbcli -C "$cluster_file" --timeout 5 --exec "status minimal" 2>&1 || true; }

available() { status_minimal | grep -q "The database is available"; }

for _ in $(seq "$attempts"); do
    [[ -s "$cluster_file" ]] && break
    log "waiting for the foundationdb service to write $cluster_file"
    sleep 1
done
if [[ ! -s "$cluster_file" ]]; then
    log "no cluster file at $cluster_file; is the foundationdb service running? (docker compose logs foundationdb)" >&2
    exit 1
fi
log "cluster file $cluster_file: $(cat "$cluster_file")"

if available; then
    log "database already exists and is available; nothing to do"
    exit 0
fi

configured=false
for attempt in $(seq "$attempts"); do
    output=$(fdbcli -C "$cluster_file" --timeout 10 --exec "configure new $configuration" 2>&1 || true)
    case "$output" in
        *"Database created"*)
            log "created a new database: $configuration"
            configured=true
            break
            ;;
        *"already exists"*)
            log "database already exists"
            configured=true
            break
            ;;
        *)
            log "attempt $attempt/$attempts: configure not done yet: ${output//$'\n'/ }"
            sleep 2
            ;;
    esac
done
if [[ "$configured" != true ]]; then
    log "could not configure the database; see: docker compose logs foundationdb" >&2
    exit 1
fi

for attempt in $(seq "$attempts"); do
    if available; then
        log "database is available"
        exit 0
    fi
    log "attempt $attempt/$attempts: waiting for the database to become available"
    sleep 2
done
log "the database did not become available; last status: $(status_minimal)" >&2
exit 1
