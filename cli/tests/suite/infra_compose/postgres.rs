//! The compose file's `postgres` profile: a second cluster whose metadata is
//! on PostgreSQL. Its gateways and compactor must reach the `postgres`
//! service with the credentials that service creates, wait for it to be
//! healthy, need nothing of FoundationDB (so the profile runs without it),
//! and keep their objects under a prefix no other cluster uses.

use std::collections::BTreeSet;

use super::{COMPOSE, Compose, Service, cluster_identity, url_parts};

const PROFILE: &str = "postgres";

/// `postgres://user:password@host:port/database` split into its parts.
struct PostgresUrl {
    user: String,
    password: String,
    host: String,
    port: u16,
    database: String,
}

fn parse_postgres_url(url: &str) -> Option<PostgresUrl> {
    let rest = url.strip_prefix("postgres://")?;
    let (credentials, address) = rest.split_once('@')?;
    let (user, password) = credentials.split_once(':')?;
    let (host_port, database) = address.split_once('/')?;
    let (host, port) = host_port.split_once(':')?;
    Some(PostgresUrl {
        user: user.to_owned(),
        password: password.to_owned(),
        host: host.to_owned(),
        port: port.parse().ok()?,
        database: database.to_owned(),
    })
}

fn on_postgres<'a>(compose: &'a Compose) -> Vec<Service<'a>> {
    compose
        .services()
        .into_iter()
        .filter(|s| {
            s.setting("--metadata", "STRATUS_METADATA")
                .is_some_and(|m| m.starts_with("postgres://"))
        })
        .collect()
}

#[test]
fn the_postgres_profile_has_a_database_gateways_and_a_compactor() {
    let compose = Compose::load();
    let postgres = compose.service("postgres");
    assert_eq!(
        postgres.profiles(),
        [PROFILE],
        "{COMPOSE}: the postgres service runs only with `--profile {PROFILE}`"
    );
    assert!(
        postgres.has_healthcheck(),
        "{COMPOSE}: postgres needs a healthcheck (pg_isready) for its clients to wait on"
    );
    let services = on_postgres(&compose);
    let subcommands: BTreeSet<String> = services
        .iter()
        .filter_map(Service::stratus_subcommand)
        .collect();
    assert!(
        subcommands.contains("gateway") && subcommands.contains("compactor"),
        "{COMPOSE}: the {PROFILE} profile needs gateways and a compactor on PostgreSQL; it has \
         {subcommands:?}"
    );
    let gateways = services
        .iter()
        .filter(|s| s.stratus_subcommand().as_deref() == Some("gateway"))
        .count();
    assert!(
        gateways >= 2,
        "{COMPOSE}: the {PROFILE} profile shows several gateways on one store; it has {gateways}"
    );
}

#[test]
fn postgres_clients_use_the_credentials_the_database_is_created_with() {
    let compose = Compose::load();
    let postgres = compose.service("postgres");
    let env = postgres.environment();
    let services = on_postgres(&compose);
    assert!(!services.is_empty(), "{COMPOSE}: no service on PostgreSQL");
    for service in services {
        let metadata = service.setting("--metadata", "STRATUS_METADATA").unwrap();
        let url = parse_postgres_url(&metadata).unwrap_or_else(|| {
            panic!(
                "{COMPOSE}: `{}` uses metadata {metadata:?}; write \
                 postgres://USER:PASSWORD@postgres:5432/DATABASE",
                service.name
            )
        });
        assert_eq!(
            url.host, "postgres",
            "{COMPOSE}: `{}` must reach the postgres service",
            service.name
        );
        assert!(
            postgres.ports().iter().any(|p| p.container == url.port),
            "{COMPOSE}: `{}` connects to port {}, which postgres does not serve",
            service.name,
            url.port
        );
        for (got, key) in [
            (&url.user, "POSTGRES_USER"),
            (&url.password, "POSTGRES_PASSWORD"),
            (&url.database, "POSTGRES_DB"),
        ] {
            assert_eq!(
                Some(got),
                env.get(key),
                "{COMPOSE}: `{}`'s metadata URL must use postgres's {key}",
                service.name
            );
        }
        assert_eq!(
            service.depends_on_condition("postgres").as_deref(),
            Some("service_healthy"),
            "{COMPOSE}: `{}` must wait for postgres to be healthy: it opens metadata at start",
            service.name
        );
        assert_eq!(
            service.profiles(),
            [PROFILE],
            "{COMPOSE}: `{}` needs the postgres service, so it must be in profile {PROFILE}",
            service.name
        );
        // Runs without FoundationDB: `up gateway-pg-a ...` starts dependencies.
        for (dependency, _) in service.depends_on() {
            assert!(
                !dependency.starts_with("foundationdb"),
                "{COMPOSE}: `{}` depends on {dependency}; the {PROFILE} profile must run \
                 without FoundationDB",
                service.name
            );
        }
        assert!(
            service.mounts().iter().all(|m| m.source != "fdb-cluster"),
            "{COMPOSE}: `{}` mounts the FoundationDB cluster file it does not use",
            service.name
        );
    }
}

#[test]
fn each_cluster_has_a_compactor_and_tier_prefixes_of_its_own() {
    let compose = Compose::load();
    let services: Vec<Service<'_>> = compose
        .services()
        .into_iter()
        .filter(|s| {
            matches!(
                s.stratus_subcommand().as_deref(),
                Some("gateway" | "compactor")
            )
        })
        .collect();
    let identity = |kind: &str| -> BTreeSet<String> {
        services
            .iter()
            .filter(|s| s.stratus_subcommand().as_deref() == Some(kind))
            .map(cluster_identity)
            .collect()
    };
    let (gateways, compactors) = (identity("gateway"), identity("compactor"));
    assert!(
        gateways.len() >= 2,
        "{COMPOSE}: expected the FoundationDB and PostgreSQL clusters, found {gateways:?}"
    );
    assert_eq!(
        gateways, compactors,
        "{COMPOSE}: every cluster needs a compactor with the same cluster name, metadata and \
         tiers (or its WAL objects pile up)"
    );
    // A compactor deletes every object under its tiers that its metadata
    // does not reference, so no two clusters may share a prefix.
    let mut prefixes: Vec<(String, String)> = Vec::new();
    for service in &services {
        let cluster = cluster_identity(service);
        for (flag, env) in [("--wal", "STRATUS_WAL"), ("--segments", "STRATUS_SEGMENTS")] {
            if let Some(tier) = service.setting(flag, env) {
                let url = url_parts(&tier).expect("tiers are URLs");
                let prefix = format!("{}/{}/", url.host, url.path.trim_matches('/'));
                prefixes.push((cluster.clone(), prefix));
            }
        }
    }
    for (a_cluster, a) in &prefixes {
        for (b_cluster, b) in &prefixes {
            assert!(
                a_cluster == b_cluster || !(a.starts_with(b.as_str()) || b.starts_with(a.as_str())),
                "{COMPOSE}: clusters `{a_cluster}` and `{b_cluster}` share the tier prefix \
                 {a} / {b}; each one's compactor would delete the other's objects"
            );
        }
    }
}

#[test]
fn postgres_urls_are_parsed() {
    let url = parse_postgres_url("postgres://u:p@db:5433/name").unwrap();
    assert_eq!(
        (
            url.user.as_str(),
            url.password.as_str(),
            url.host.as_str(),
            url.port,
            url.database.as_str()
        ),
        ("u", "p", "db", 5433, "name")
    );
    assert!(parse_postgres_url("postgres://db/name").is_none());
}
