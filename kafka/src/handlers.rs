//! Request handlers: each turns one Kafka request into [`Broker`] calls and
//! the answers into a Kafka response at the request's version.
//!
//! Handlers never touch bytes on the wire (that is `decode`/`encode`) and
//! never write an error code (that is `BrokerError::code`). A field that a
//! version cannot carry is only set for versions that carry it; the versions
//! test encodes every handler's answer at every advertised version.

mod api_versions;
mod cluster;
mod configs;
mod fetch;
mod groups;
mod metadata;
mod offsets;
pub(crate) mod produce;
pub(crate) mod sasl;
mod scram_users;
mod topics;

use kafka_protocol::messages::{RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;

use uuid::Uuid;

use crate::{Broker, SessionOptions, TopicRef};

/// A response, or why the connection must close instead.
pub(crate) type Answer = Result<ResponseKind, String>;

/// Runs the handler of every advertised API but Produce (see `session`).
pub(crate) async fn dispatch<B: Broker + ?Sized>(
    broker: &B,
    options: &SessionOptions,
    version: i16,
    client_id: &str,
    body: RequestKind,
) -> Answer {
    use RequestKind as K;
    Ok(match body {
        K::ApiVersions(r) => api_versions::handle(version, &r),
        K::Metadata(r) => return metadata::handle(broker, options, version, client_id, r).await,
        K::Fetch(r) => return fetch::handle(broker, version, r).await,
        K::ListOffsets(r) => offsets::list_offsets(broker, version, r).await,
        K::OffsetForLeaderEpoch(r) => offsets::offset_for_leader_epoch(broker, r).await,
        K::DeleteRecords(r) => offsets::delete_records(broker, r).await,
        K::CreateTopics(r) => topics::create_topics(broker, options, version, r).await,
        K::DeleteTopics(r) => topics::delete_topics(broker, version, r).await,
        K::CreatePartitions(r) => topics::create_partitions(broker, r).await,
        K::DescribeConfigs(r) => configs::describe(broker, version, r).await,
        K::IncrementalAlterConfigs(r) => configs::alter(broker, r).await,
        K::DescribeCluster(r) => return cluster::describe_cluster(broker, version, r).await,
        K::InitProducerId(r) => cluster::init_producer_id(broker, r).await,
        K::FindCoordinator(r) => groups::find_coordinator(broker, version, r).await,
        K::JoinGroup(r) => groups::join_group(broker, version, client_id, r).await,
        K::SyncGroup(r) => groups::sync_group(broker, version, r).await,
        K::Heartbeat(r) => groups::heartbeat(broker, version, r).await,
        K::LeaveGroup(r) => groups::leave_group(broker, version, r).await,
        K::OffsetCommit(r) => groups::offset_commit(broker, version, r).await,
        K::OffsetFetch(r) => groups::offset_fetch(broker, version, r).await,
        K::DescribeGroups(r) => groups::describe_groups(broker, version, r).await,
        K::ListGroups(r) => groups::list_groups(broker, version, r).await,
        K::DeleteGroups(r) => groups::delete_groups(broker, r).await,
        K::OffsetDelete(r) => groups::offset_delete(broker, r).await,
        K::ConsumerGroupDescribe(r) => groups::consumer_group_describe(broker, r).await,
        K::ConsumerGroupHeartbeat(r) => {
            groups::consumer_group_heartbeat(broker, client_id, r).await
        }
        K::DescribeUserScramCredentials(r) => scram_users::describe(broker, r).await,
        K::AlterUserScramCredentials(r) => scram_users::alter(broker, r).await,
        K::SaslHandshake(_) | K::SaslAuthenticate(_) => {
            return Err("a SASL request reached dispatch; it must be admitted".into());
        }
        K::Produce(_) => {
            return Err("a Produce request reached dispatch; it must be admitted".into());
        }
        _ => return Err("a request of an API without a handler was admitted".into()),
    })
}

/// A topic named by a request that may give a name, an id or both: the name
/// wins unless it is null or empty (clients asking by id send a null name).
fn topic_ref(name: Option<&TopicName>, id: Uuid) -> TopicRef {
    match name {
        Some(name) if !name.is_empty() => TopicRef::Name(name.to_string()),
        _ if !id.is_nil() => TopicRef::Id(id),
        _ => TopicRef::Name(String::new()),
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}
