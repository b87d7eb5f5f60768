//! The nemesis: at random times it crashes a gateway, a compactor or a group
//! member (and starts it again later), or cuts a host off from the metadata
//! store, the object store or both (and heals the cut later). Every action
//! goes into the history and the run's counts.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::history::Event;
use crate::member::run_member;

/// How many of each action a run took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NemesisCounts {
    pub gateway_crashes: u64,
    pub compactor_crashes: u64,
    pub member_kills: u64,
    pub partitions: u64,
}

/// The running group members, so the nemesis can kill and restart them.
#[derive(Debug, Default)]
pub struct Members {
    tasks: Mutex<Vec<(JoinHandle<()>, u32)>>,
}

impl Members {
    pub fn start(cluster: &Arc<Cluster>) -> Arc<Self> {
        let members = Arc::new(Self::default());
        let mut tasks = members.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for i in 0..cluster.config.members {
            tasks.push((tokio::spawn(run_member(Arc::clone(cluster), i, 0)), 0));
        }
        drop(tasks);
        members
    }

    /// Kills member `i`; returns the incarnation to start later, new for
    /// every kill so two pending restarts never share a member id.
    fn kill(&self, i: usize) -> u32 {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks[i].0.abort();
        tasks[i].1 += 1;
        tasks[i].1
    }

    fn restart(&self, cluster: &Arc<Cluster>, i: usize, incarnation: u32) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks[i].0.abort();
        tasks[i].0 = tokio::spawn(run_member(Arc::clone(cluster), i, incarnation));
    }

    pub fn stop_all(&self) {
        for (task, _) in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            task.abort();
        }
    }
}

/// Acts until `until`; returns what it did.
pub async fn run_nemesis(
    cluster: Arc<Cluster>,
    members: Arc<Members>,
    until: Instant,
) -> NemesisCounts {
    let config = cluster.config.clone();
    let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(3000));
    let mut counts = NemesisCounts::default();
    let mut restarts: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let mean = config.nemesis_every.as_millis() as u64;
        let pause = Duration::from_millis(rng.random_range(mean / 2..=mean * 3 / 2));
        if Instant::now() + pause >= until {
            break;
        }
        tokio::time::sleep(pause).await;
        let back_in = Duration::from_millis(rng.random_range(300..=3000));
        let c = Arc::clone(&cluster);
        match rng.random_range(0..4) {
            0 => {
                let i = rng.random_range(0..config.gateways);
                if cluster.crash_gateway(i) {
                    counts.gateway_crashes += 1;
                    cluster
                        .history
                        .record(Event::Nemesis(format!("crash gateway {i}")));
                    restarts.push(tokio::spawn(async move {
                        tokio::time::sleep(back_in).await;
                        c.start_gateway(i);
                        c.history
                            .record(Event::Nemesis(format!("restart gateway {i}")));
                    }));
                }
            }
            1 => {
                let i = rng.random_range(0..config.compactors);
                if cluster.crash_compactor(i) {
                    counts.compactor_crashes += 1;
                    cluster
                        .history
                        .record(Event::Nemesis(format!("crash compactor {i}")));
                    restarts.push(tokio::spawn(async move {
                        tokio::time::sleep(back_in).await;
                        c.start_compactor(i);
                        c.history
                            .record(Event::Nemesis(format!("restart compactor {i}")));
                    }));
                }
            }
            2 if config.members > 0 => {
                let i = rng.random_range(0..config.members);
                let incarnation = members.kill(i);
                counts.member_kills += 1;
                cluster
                    .history
                    .record(Event::Nemesis(format!("kill member m{i}")));
                let m = Arc::clone(&members);
                restarts.push(tokio::spawn(async move {
                    tokio::time::sleep(back_in).await;
                    m.restart(&c, i, incarnation);
                }));
            }
            _ => {
                let gateway = rng.random_bool(0.7);
                let (meta, tier) = match rng.random_range(0..3) {
                    0 => (true, false),
                    1 => (false, true),
                    _ => (true, true),
                };
                let (host, link) = if gateway {
                    let i = rng.random_range(0..config.gateways);
                    (format!("gateway {i}"), Arc::clone(cluster.gateway_link(i)))
                } else {
                    let i = rng.random_range(0..config.compactors);
                    (
                        format!("compactor {i}"),
                        Arc::clone(cluster.compactor_link(i)),
                    )
                };
                link.cut(meta, tier);
                counts.partitions += 1;
                cluster.history.record(Event::Nemesis(format!(
                    "cut {host} from{}{}",
                    if meta { " metadata" } else { "" },
                    if tier { " objects" } else { "" }
                )));
                restarts.push(tokio::spawn(async move {
                    tokio::time::sleep(back_in).await;
                    link.heal();
                    c.history.record(Event::Nemesis(format!("heal {host}")));
                }));
            }
        }
    }
    for restart in restarts {
        let _ = restart.await;
    }
    counts
}
