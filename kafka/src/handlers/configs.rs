//! DescribeConfigs and IncrementalAlterConfigs for topics and brokers
//! (gateways). Each resource is one broker call. Synonyms are not reported;
//! broker-logger resources are refused.

use futures::future::join_all;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, ResponseKind,
};

use super::str_bytes;
use crate::error::code_of;
use crate::{
    Broker, BrokerError, ConfigChange, ConfigEntry, ConfigKind, ConfigResource, ConfigSource,
};

/// Kafka's `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

fn resource(kind: i8, name: &str) -> Result<ConfigResource, BrokerError> {
    match kind {
        RESOURCE_TOPIC => Ok(ConfigResource::Topic(name.to_owned())),
        RESOURCE_BROKER => Ok(ConfigResource::Broker(name.to_owned())),
        other => Err(BrokerError::InvalidRequest(format!(
            "config resource type {other} is not served; ask for topics (2) or brokers (4)"
        ))),
    }
}

pub(crate) async fn describe<B: Broker + ?Sized>(
    broker: &B,
    version: i16,
    request: DescribeConfigsRequest,
) -> ResponseKind {
    let documentation = version >= 3 && request.include_documentation;
    let results = request.resources.into_iter().map(|r| async move {
        let outcome = match resource(r.resource_type, &r.resource_name) {
            Ok(res) => {
                // Null or empty both mean every key, as in Kafka.
                let keys = r
                    .configuration_keys
                    .filter(|keys| !keys.is_empty())
                    .map(|keys| keys.iter().map(ToString::to_string).collect());
                broker.describe_configs(res, keys).await
            }
            Err(e) => Err(e),
        };
        let out = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name)
            .with_error_code(code_of(&outcome));
        match outcome {
            Ok(entries) => out.with_configs(
                entries
                    .iter()
                    .map(|e| entry(version, documentation, e))
                    .collect(),
            ),
            Err(e) => out.with_error_message(e.message()),
        }
    });
    ResponseKind::DescribeConfigs(
        DescribeConfigsResponse::default().with_results(join_all(results).await),
    )
}

fn entry(version: i16, documentation: bool, e: &ConfigEntry) -> DescribeConfigsResourceResult {
    let mut out = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(&e.name))
        .with_value(e.value.as_deref().map(str_bytes))
        .with_read_only(e.read_only)
        .with_is_sensitive(e.sensitive)
        .with_config_source(source_code(e.source));
    if version >= 3 {
        out.config_type = kind_code(e.kind);
        if documentation {
            out.documentation = e.documentation.as_deref().map(str_bytes);
        }
    }
    out
}

/// Kafka's `DescribeConfigsResponse.ConfigSource` codes.
fn source_code(source: ConfigSource) -> i8 {
    match source {
        ConfigSource::Topic => 1,
        ConfigSource::DynamicBroker => 2,
        ConfigSource::StaticBroker => 4,
        ConfigSource::Default => 5,
    }
}

/// Kafka's `ConfigDef.Type` codes as DescribeConfigs v3 sends them.
fn kind_code(kind: ConfigKind) -> i8 {
    match kind {
        ConfigKind::Unknown => 0,
        ConfigKind::Boolean => 1,
        ConfigKind::String => 2,
        ConfigKind::Int => 3,
        ConfigKind::Long => 5,
        ConfigKind::Double => 6,
        ConfigKind::List => 7,
        ConfigKind::Password => 9,
    }
}

pub(crate) async fn alter<B: Broker + ?Sized>(
    broker: &B,
    request: IncrementalAlterConfigsRequest,
) -> ResponseKind {
    let validate_only = request.validate_only;
    let results = request.resources.into_iter().map(|r| async move {
        let outcome = match (
            resource(r.resource_type, &r.resource_name),
            changes(&r.configs),
        ) {
            (Ok(res), Ok(changes)) => broker.alter_configs(res, changes, validate_only).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name)
            .with_error_code(code_of(&outcome))
            .with_error_message(outcome.err().and_then(|e| e.message()))
    });
    ResponseKind::IncrementalAlterConfigs(
        IncrementalAlterConfigsResponse::default().with_responses(join_all(results).await),
    )
}

/// Kafka's `AlterConfigOp.OpType` codes, with their values.
fn changes(configs: &[AlterableConfig]) -> Result<Vec<ConfigChange>, BrokerError> {
    configs
        .iter()
        .map(|c| {
            let name = c.name.to_string();
            let value = || {
                c.value.as_ref().map(ToString::to_string).ok_or_else(|| {
                    BrokerError::InvalidConfig(format!("config {name:?} needs a value for this operation"))
                })
            };
            Ok(match c.config_operation {
                0 => ConfigChange::Set(name.clone(), value()?),
                1 => ConfigChange::Delete(name),
                2 => ConfigChange::Append(name.clone(), value()?),
                3 => ConfigChange::Subtract(name.clone(), value()?),
                op => {
                    return Err(BrokerError::InvalidRequest(format!(
                        "config {name:?}: operation {op} is not one of 0 (set), 1 (delete), 2 (append), 3 (subtract)"
                    )));
                }
            })
        })
        .collect()
}
