use std::sync::Arc;
use std::time::Duration;

use stratus_meta::memory::MemoryMetaStore;

use super::*;

fn registry() -> Registry {
    Registry::new(Arc::new(MemoryMetaStore::new()), KeySpace::new("test"))
}

fn endpoint(port: u16, zone: Option<&str>) -> GatewayEndpoint {
    GatewayEndpoint {
        kafka_host: "127.0.0.1".to_owned(),
        kafka_port: port,
        grpc: format!("127.0.0.1:{}", port + 1000),
        zone: zone.map(str::to_owned),
    }
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn ids_are_never_reused_and_every_change_is_a_new_generation() {
    let registry = registry();
    let a = registry
        .register(&endpoint(9092, None), LEASE)
        .await
        .unwrap();
    let b = registry
        .register(&endpoint(9093, None), LEASE)
        .await
        .unwrap();
    assert_eq!((a.id, b.id), (1, 2));
    let m = registry.membership().await.unwrap();
    assert_eq!(m.generation, 2);
    assert_eq!(m.gateways.iter().map(|g| g.id).collect::<Vec<_>>(), [1, 2]);

    registry.deregister(a.id).await.unwrap();
    let m = registry.membership().await.unwrap();
    assert_eq!(m.generation, 3);
    assert_eq!(m.gateways.iter().map(|g| g.id).collect::<Vec<_>>(), [2]);

    let c = registry
        .register(&endpoint(9092, None), LEASE)
        .await
        .unwrap();
    assert_eq!(c.id, 3, "a freed id is not handed out again");
}

#[tokio::test]
async fn renewing_keeps_the_generation_and_evicts_expired_peers() {
    let registry = registry();
    // The live gateway first: registering evicts expired peers too, and the
    // eviction under test is the renewal's.
    let live = registry
        .register(&endpoint(9093, None), LEASE)
        .await
        .unwrap();
    let dead = registry
        .register(&endpoint(9092, None), Duration::ZERO)
        .await
        .unwrap();
    let before = registry.membership().await.unwrap().generation;
    tokio::time::sleep(Duration::from_millis(5)).await;

    registry
        .renew(live.id, &live.endpoint, LEASE)
        .await
        .unwrap();
    let m = registry.membership().await.unwrap();
    assert!(m.gateway(dead.id).is_none(), "an expired lease is evicted");
    assert_eq!(m.generation, before + 1, "eviction is a new generation");

    registry
        .renew(live.id, &live.endpoint, LEASE)
        .await
        .unwrap();
    assert_eq!(
        registry.membership().await.unwrap().generation,
        before + 1,
        "a plain renewal changes nothing clients see"
    );
}

#[tokio::test]
async fn a_gateway_evicted_while_stalled_comes_back_under_its_id() {
    let registry = registry();
    let a = registry
        .register(&endpoint(9092, None), LEASE)
        .await
        .unwrap();
    registry.deregister(a.id).await.unwrap();
    let before = registry.membership().await.unwrap().generation;
    registry.renew(a.id, &a.endpoint, LEASE).await.unwrap();
    let m = registry.membership().await.unwrap();
    assert!(m.gateway(a.id).is_some());
    assert_eq!(m.generation, before + 1);
}

fn membership(zones: &[Option<&str>]) -> Membership {
    Membership {
        generation: 1,
        gateways: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| GatewayRecord {
                id: i as u32 + 1,
                endpoint: endpoint(9092 + i as u16, *zone),
                lease_until_ms: i64::MAX,
                registered_at_ms: 0,
            })
            .collect(),
    }
}

#[test]
fn leaders_spread_and_only_a_departed_gateways_partitions_move() {
    let four = membership(&[None, None, None, None]);
    let leaders: Vec<u32> = (0..1000)
        .map(|p| four.leader(None, 7, p).unwrap().id)
        .collect();
    for id in 1..=4 {
        let led = leaders.iter().filter(|l| **l == id).count();
        assert!(
            (150..350).contains(&led),
            "gateway {id} leads {led} of 1000"
        );
    }
    let mut three = four;
    three.gateways.retain(|g| g.id != 4);
    for (p, before) in leaders.iter().enumerate() {
        let after = three.leader(None, 7, p as u32).unwrap().id;
        if *before != 4 {
            assert_eq!(after, *before, "partition {p} moved off a live gateway");
        }
    }
}

#[test]
fn leaders_stay_in_the_clients_zone_when_it_has_gateways() {
    let m = membership(&[Some("a"), Some("b"), Some("b")]);
    for p in 0..100 {
        assert_eq!(m.leader(Some("a"), 1, p).unwrap().id, 1);
        assert_ne!(m.leader(Some("b"), 1, p).unwrap().id, 1);
        // A zone with no gateway falls back to all of them.
        assert!(m.leader(Some("c"), 1, p).is_some());
    }
    assert!(Membership::default().leader(None, 1, 0).is_none());
}
