//! The hosts of one run and how clients find them: which gateways and
//! compactors are up, and each host's link to the stores.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::Rng;
use rand::rngs::StdRng;
use stratus_storage::group::Groups;
use stratus_storage::log::Log;
use stratus_storage::topic::TopicRecord;

use crate::compaction::CompactorHost;
use crate::config::SimConfig;
use crate::gateway::{Gateway, ProduceCall};
use crate::history::{Event, History};
use crate::link::Link;
use crate::stores::Stores;

/// Every host of a run.
#[derive(Debug)]
pub struct Cluster {
    pub config: SimConfig,
    pub stores: Stores,
    pub topic: TopicRecord,
    pub history: History,
    gateways: Mutex<Vec<Option<Gateway>>>,
    gateway_links: Vec<Arc<Link>>,
    compactors: Mutex<Vec<Option<CompactorHost>>>,
    compactor_links: Vec<Arc<Link>>,
}

/// What a client needs of the gateway it picked.
#[derive(Debug, Clone)]
pub struct GatewayView {
    pub index: usize,
    pub log: Arc<Log>,
    pub groups: Arc<Groups>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cluster {
    pub fn new(config: SimConfig, stores: Stores, topic: TopicRecord, history: History) -> Self {
        let links = |n: usize| (0..n).map(|_| Arc::new(Link::default())).collect();
        Self {
            gateway_links: links(config.gateways),
            compactor_links: links(config.compactors),
            gateways: Mutex::new((0..config.gateways).map(|_| None).collect()),
            compactors: Mutex::new((0..config.compactors).map(|_| None).collect()),
            config,
            stores,
            topic,
            history,
        }
    }

    /// Starts gateway `i` unless it runs.
    pub fn start_gateway(&self, i: usize) {
        let mut gateways = lock(&self.gateways);
        if gateways[i].is_none() {
            gateways[i] = Some(Gateway::start(
                &self.stores,
                &self.gateway_links[i],
                self.topic.clone(),
                self.config.bug,
            ));
        }
    }

    /// Crashes gateway `i`; `false` if it was down.
    pub fn crash_gateway(&self, i: usize) -> bool {
        let gateway = lock(&self.gateways)[i].take();
        gateway.map(Gateway::crash).is_some()
    }

    /// Starts compactor `i` unless it runs.
    pub fn start_compactor(&self, i: usize) {
        let mut compactors = lock(&self.compactors);
        if compactors[i].is_none() {
            compactors[i] = Some(CompactorHost::start(&self.stores, &self.compactor_links[i]));
        }
    }

    /// Crashes compactor `i`; `false` if it was down.
    pub fn crash_compactor(&self, i: usize) -> bool {
        let compactor = lock(&self.compactors)[i].take();
        compactor.map(CompactorHost::crash).is_some()
    }

    pub fn gateway_link(&self, i: usize) -> &Arc<Link> {
        &self.gateway_links[i]
    }

    pub fn compactor_link(&self, i: usize) -> &Arc<Link> {
        &self.compactor_links[i]
    }

    /// Heals every link and starts every host that is down.
    pub fn heal_all(&self) {
        for link in self.gateway_links.iter().chain(&self.compactor_links) {
            link.heal();
        }
        for i in 0..self.config.gateways {
            self.start_gateway(i);
        }
        for i in 0..self.config.compactors {
            self.start_compactor(i);
        }
        self.history
            .record(Event::Nemesis("heal everything".into()));
    }

    /// Stops every host (at the end of a run).
    pub fn crash_all(&self) {
        for i in 0..self.config.gateways {
            self.crash_gateway(i);
        }
        for i in 0..self.config.compactors {
            self.crash_compactor(i);
        }
    }

    /// A gateway that is up, chosen at random, as a client's load balancer
    /// would; `None` when all are down.
    pub fn pick_gateway(&self, rng: &mut StdRng) -> Option<GatewayView> {
        let gateways = lock(&self.gateways);
        let up: Vec<usize> = (0..gateways.len())
            .filter(|i| gateways[*i].is_some())
            .collect();
        if up.is_empty() {
            return None;
        }
        let index = up[rng.random_range(0..up.len())];
        let g = gateways[index].as_ref()?;
        Some(GatewayView {
            index,
            log: Arc::clone(&g.log),
            groups: Arc::clone(&g.groups),
        })
    }

    /// Sends a produce call to gateway `i`; `false` if it is down.
    pub fn submit(&self, i: usize, call: ProduceCall) -> bool {
        lock(&self.gateways)[i]
            .as_ref()
            .is_some_and(|g| g.submit(call))
    }
}
