//! DescribeCluster (the gateways, as brokers) and InitProducerId (ids for
//! idempotent producers; transactional ids are refused, see
//! `BrokerError::TransactionsUnsupported`).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, ResponseKind,
};

use super::{Answer, str_bytes};
use crate::{Broker, BrokerError, ProducerIdentity};

/// DescribeCluster's endpoint type for brokers (2 is controllers).
const ENDPOINT_BROKERS: i8 = 1;

pub(crate) async fn describe_cluster<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: DescribeClusterRequest,
) -> Answer {
    let mut out = DescribeClusterResponse::default();
    if version >= 1 && request.endpoint_type != ENDPOINT_BROKERS {
        let e = BrokerError::UnsupportedEndpointType(request.endpoint_type);
        out.endpoint_type = request.endpoint_type;
        return Ok(ResponseKind::DescribeCluster(
            out.with_error_code(e.code())
                .with_error_message(e.message()),
        ));
    }
    let cluster = match broker.cluster().await {
        Ok(cluster) => cluster,
        Err(e) => {
            return Ok(ResponseKind::DescribeCluster(
                out.with_error_code(e.code())
                    .with_error_message(e.message()),
            ));
        }
    };
    let brokers = cluster
        .brokers
        .iter()
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(str_bytes(&b.host))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.as_deref().map(str_bytes))
        })
        .collect();
    Ok(ResponseKind::DescribeCluster(
        out.with_cluster_id(str_bytes(&cluster.cluster_id))
            .with_controller_id(BrokerId(cluster.controller_id))
            .with_brokers(brokers),
    ))
}

pub(crate) async fn init_producer_id<B: Broker + ?Sized>(
    broker: &B,
    request: InitProducerIdRequest,
) -> ResponseKind {
    let out = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // Clients send null for idempotence alone; some send an empty string.
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.is_empty())
    {
        let e = BrokerError::TransactionsUnsupported;
        return ResponseKind::InitProducerId(out.with_error_code(e.code()));
    }
    let existing = (request.producer_id.0 >= 0).then_some(ProducerIdentity {
        id: request.producer_id.0,
        epoch: request.producer_epoch,
    });
    ResponseKind::InitProducerId(match broker.init_producer_id(existing).await {
        Ok(identity) => out
            .with_producer_id(ProducerId(identity.id))
            .with_producer_epoch(identity.epoch),
        Err(e) => out.with_error_code(e.code()),
    })
}
