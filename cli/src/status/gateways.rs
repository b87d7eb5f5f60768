//! `stratus status --gateways`: the cluster's gateways as the gateway
//! registry in metadata has them (id, advertised Kafka address, zone, gRPC
//! address, lease deadline), read in one snapshot from the shared metadata
//! store. A gateway whose lease has run out is still listed, as expired,
//! until a live gateway renews and evicts it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use stratus_storage::keys::KeySpace;
use stratus_storage::registry::{GatewayRecord, Membership, Registry};

use crate::serve::open_metadata;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GatewaysArgs {
    /// The cluster's shared metadata store, e.g.
    /// `postgres://user:password@host:5432/db` or `fdb:///path/fdb.cluster`.
    #[arg(long, env = "STRATUS_METADATA")]
    metadata: Option<String>,
    /// Name of the cluster in metadata (the gateways' `gateway.cluster`).
    #[arg(long, env = "STRATUS_GATEWAY__CLUSTER", default_value = "default")]
    cluster: String,
    /// With --gateways: one JSON object instead of a table.
    #[arg(long, requires = "gateways")]
    json: bool,
}

/// One gateway as printed.
#[derive(Debug, Serialize)]
struct GatewayRow {
    id: u32,
    /// `HOST:PORT` Kafka clients are told to connect to; absent without a
    /// Kafka listener.
    kafka: Option<String>,
    zone: Option<String>,
    grpc: String,
    lease_until_ms: i64,
    /// Milliseconds until the lease ends; negative once it has.
    lease_remaining_ms: i64,
    registered_at_ms: i64,
}

#[derive(Debug, Serialize)]
struct GatewaysView {
    cluster: String,
    generation: i64,
    gateways: Vec<GatewayRow>,
}

pub(crate) async fn run(args: GatewaysArgs) -> anyhow::Result<()> {
    let spec = args.metadata.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "--gateways reads the gateway registry from the cluster's metadata store; pass \
             --metadata (or STRATUS_METADATA), e.g. postgres://user:password@host:5432/db"
        )
    })?;
    anyhow::ensure!(
        !matches!(spec, "embedded" | "memory://"),
        "--metadata {spec:?} is private to one process; pass the store the gateways share, \
         e.g. postgres://user:password@host:5432/db"
    );
    anyhow::ensure!(
        !args.cluster.is_empty(),
        "--cluster must not be empty; pass the gateways' gateway.cluster (default \"default\")"
    );
    // Only `embedded` reads the data directory, and it is refused above.
    let meta = open_metadata(spec, Path::new(".")).await?;
    let registry = Registry::new(meta, KeySpace::new(&args.cluster));
    let membership = registry
        .membership()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the gateway registry: {e}"))?;
    let view = view(&args.cluster, membership, now_ms());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print!("{}", render(&view));
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn view(cluster: &str, membership: Membership, now_ms: i64) -> GatewaysView {
    let mut gateways: Vec<GatewayRow> = membership
        .gateways
        .into_iter()
        .map(|g| row(g, now_ms))
        .collect();
    gateways.sort_by_key(|g| g.id);
    GatewaysView {
        cluster: cluster.to_owned(),
        generation: membership.generation,
        gateways,
    }
}

fn row(g: GatewayRecord, now_ms: i64) -> GatewayRow {
    let endpoint = g.endpoint;
    GatewayRow {
        id: g.id,
        kafka: (endpoint.kafka_port != 0)
            .then(|| format!("{}:{}", endpoint.kafka_host, endpoint.kafka_port)),
        zone: endpoint.zone,
        grpc: endpoint.grpc,
        lease_until_ms: g.lease_until_ms,
        lease_remaining_ms: g.lease_until_ms.saturating_sub(now_ms),
        registered_at_ms: g.registered_at_ms,
    }
}

/// `2026-12-04T19:05:01Z, in 8.2s` or `..., expired 3.0s ago`.
fn lease(row: &GatewayRow) -> String {
    let at = u64::try_from(row.lease_until_ms).map_or_else(
        |_| row.lease_until_ms.to_string(),
        |ms| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string(),
    );
    let secs = row.lease_remaining_ms as f64 / 1000.0;
    if row.lease_remaining_ms >= 0 {
        format!("{at} (in {secs:.1}s)")
    } else {
        format!("{at} (expired {:.1}s ago)", -secs)
    }
}

fn render(view: &GatewaysView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {}  generation {}  {} gateway{}",
        view.cluster,
        view.generation,
        view.gateways.len(),
        if view.gateways.len() == 1 { "" } else { "s" }
    );
    if view.gateways.is_empty() {
        let _ = writeln!(
            out,
            "no gateway is registered; is --cluster the gateways' gateway.cluster?"
        );
        return out;
    }
    let kafka = |g: &GatewayRow| g.kafka.clone().unwrap_or_else(|| "-".to_owned());
    let zone = |g: &GatewayRow| g.zone.clone().unwrap_or_else(|| "-".to_owned());
    let width = |f: &dyn Fn(&GatewayRow) -> String, title: &str| {
        view.gateways
            .iter()
            .map(|g| f(g).len())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (wk, wz, wg) = (
        width(&kafka, "KAFKA"),
        width(&zone, "ZONE"),
        width(&|g: &GatewayRow| g.grpc.clone(), "GRPC"),
    );
    let _ = writeln!(
        out,
        "{:>4}  {:wk$}  {:wz$}  {:wg$}  LEASE UNTIL",
        "ID", "KAFKA", "ZONE", "GRPC"
    );
    for g in &view.gateways {
        let _ = writeln!(
            out,
            "{:>4}  {:wk$}  {:wz$}  {:wg$}  {}",
            g.id,
            kafka(g),
            zone(g),
            g.grpc,
            lease(g)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use stratus_storage::registry::GatewayEndpoint;

    use super::*;

    fn record(id: u32, kafka_port: u16, zone: Option<&str>, lease_until_ms: i64) -> GatewayRecord {
        GatewayRecord {
            id,
            endpoint: GatewayEndpoint {
                kafka_host: "10.0.0.1".to_owned(),
                kafka_port,
                grpc: format!("10.0.0.1:74{id:02}"),
                zone: zone.map(str::to_owned),
            },
            lease_until_ms,
            registered_at_ms: 0,
        }
    }

    #[test]
    fn gateways_are_listed_by_id_with_their_lease() {
        let now = 1_796_411_101_000; // 2026-12-04T19:05:01Z
        let membership = Membership {
            generation: 7,
            gateways: vec![
                record(3, 0, None, now - 3_000),
                record(1, 9092, Some("eu-west-1a"), now + 8_200),
            ],
        };
        let view = view("prod", membership, now);
        let text = render(&view);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "cluster prod  generation 7  2 gateways");
        assert!(lines[1].starts_with("  ID  KAFKA"), "{text}");
        assert!(
            lines[2].contains("10.0.0.1:9092") && lines[2].contains("eu-west-1a"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("2026-12-04T19:05:09Z (in 8.2s)"),
            "{text}"
        );
        assert!(lines[3].trim_start().starts_with("3  -"), "{text}");
        assert!(lines[3].ends_with("(expired 3.0s ago)"), "{text}");
    }

    #[test]
    fn an_empty_registry_says_what_to_check() {
        let view = view("other", Membership::default(), 0);
        assert!(render(&view).contains("no gateway is registered"));
    }
}
