//! `stratus verify`: a correctness check a user runs against any Stratus
//! deployment. Producers write records carrying unique ids and keep every
//! acknowledgement; readers then read the topic back, and the checker
//! counts what was lost, duplicated, reordered or left a gap. With `--dev`
//! it runs its own `stratus dev`, and with `--kill-every` SIGKILLs and
//! restarts it while producing.
//!
//! It never deletes or rewrites records: on an existing topic it checks
//! only the records of its own run.

mod acks;
mod args;
mod check;
mod dev;
mod produce;
mod read;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stratus_sdk::{Client, TopicConfig, TopicDescription};
use tokio::sync::watch;

pub(crate) use args::VerifyArgs;

use acks::History;
use check::Range;
use dev::DevChild;
use report::{Reader, Report};

pub(crate) async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let mut child = if args.dev {
        Some(DevChild::start(args.data_dir.as_deref()).await?)
    } else {
        None
    };
    let server = child
        .as_ref()
        .map_or(args.server.server.clone(), |c| c.url.clone());
    let client = Client::connect(&server).await?;
    let started = Instant::now();
    let (history, kills, errors) = if args.check_only {
        let path = args.acks.as_deref().expect("clap requires --acks");
        let history = History::load(path)?;
        anyhow::ensure!(
            history.topic == args.topic,
            "{} holds acknowledgements for topic {:?}, not {:?}",
            path.display(),
            history.topic,
            args.topic
        );
        (history, 0, Vec::new())
    } else {
        let produced = produce_run(&args, &client, child.as_mut()).await?;
        if let Some(path) = &args.acks {
            produced.0.save(path)?;
        }
        produced
    };
    let produce_seconds = started.elapsed().as_secs_f64();
    let topic = client.admin().describe_topic(&args.topic).await?;
    let ranges = ranges(&history, &topic);
    let target = read::Target {
        topic: &args.topic,
        run: &history.run,
        ranges: &ranges,
        timeout: args.timeout,
    };
    let plain = read::plain(&client, target).await?;
    let group = match &args.group {
        Some(group) => Some(read::group(&client, group, target).await?),
        None => None,
    };
    let reader = |reads: read::Reads| Reader {
        figures: check::check(&history.acks, &ranges, &reads.seen),
        timed_out: reads.timed_out,
    };
    let mut report = Report {
        topic: args.topic.clone(),
        run: history.run.clone(),
        partitions: u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX),
        producers: history.producers,
        check_only: args.check_only,
        sent: history.sent,
        acknowledged: history.acks.len() as u64,
        failed: history.failed,
        kills,
        produce_seconds: if args.check_only {
            0.0
        } else {
            produce_seconds
        },
        errors,
        plain: reader(plain),
        group: group.map(reader),
        ok: false,
    };
    report.judge();
    report.print(args.json)?;
    if let Some(child) = child {
        child.stop().await;
    }
    if report.ok {
        Ok(())
    } else {
        anyhow::bail!("verification failed: {}", report.failures())
    }
}

/// Creates the topic if missing, produces, and kills the `--dev` child on
/// schedule meanwhile. Returns the history, the number of kills and the
/// errors of producers that stopped early.
async fn produce_run(
    args: &VerifyArgs,
    client: &Client,
    child: Option<&mut DevChild>,
) -> anyhow::Result<(History, u64, Vec<String>)> {
    let topic = ensure_topic(client, &args.topic, args.partitions).await?;
    let partitions = u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX);
    let run = acks::new_run_id();
    let (stop, stopped) = watch::channel(false);
    let producing = async {
        let produced = produce::run(
            client,
            &args.topic,
            &run,
            partitions,
            args.producers,
            args.budget(),
        )
        .await;
        let _ = stop.send(true);
        produced
    };
    let killing = kill_on_schedule(child, args.kill_every, stopped);
    let (produced, kills) = tokio::join!(producing, killing);
    let kills = kills?;
    let history = History {
        run,
        topic: args.topic.clone(),
        producers: args.producers,
        starts: topic
            .partitions
            .iter()
            .map(|p| (p.partition, p.next_offset))
            .collect(),
        sent: produced.sent,
        failed: produced.failed,
        acks: produced.acks,
    };
    Ok((history, kills, produced.errors))
}

/// SIGKILLs and restarts `child` every `every` until `stopped` turns true.
async fn kill_on_schedule(
    child: Option<&mut DevChild>,
    every: Option<Duration>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<u64> {
    let (Some(child), Some(every)) = (child, every) else {
        return Ok(0);
    };
    let mut kills = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|stop| *stop) => return Ok(kills),
        }
        child.kill_and_restart().await?;
        kills += 1;
    }
}

async fn ensure_topic(
    client: &Client,
    name: &str,
    partitions: u32,
) -> anyhow::Result<TopicDescription> {
    let admin = client.admin();
    match admin.describe_topic(name).await {
        Ok(topic) => Ok(topic),
        Err(e) if e.code() == Some(tonic::Code::NotFound) => {
            match admin
                .create_topic(name, partitions, TopicConfig::default())
                .await
            {
                Ok(topic) => Ok(topic),
                // Created meanwhile by someone else: use it.
                Err(e) if e.code() == Some(tonic::Code::AlreadyExists) => {
                    Ok(admin.describe_topic(name).await?)
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Each partition's offsets the run's records must fill: from its start
/// (or the log start, if records below were deleted since) to its end now.
fn ranges(history: &History, topic: &TopicDescription) -> BTreeMap<u32, Range> {
    topic
        .partitions
        .iter()
        .filter_map(|p| {
            let start = *history.starts.get(&p.partition)?;
            Some((
                p.partition,
                Range {
                    from: start.max(p.log_start_offset),
                    end: p.next_offset,
                },
            ))
        })
        .collect()
}
