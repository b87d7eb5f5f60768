//! The `Triggers` admin service: trigger definitions in metadata. Running
//! them is the dispatcher's job (crate `stratus-triggers`), not the gateway's.

use stratus_proto::v1::trigger::Target as WireTarget;
use stratus_proto::v1::triggers_server::Triggers as TriggersApi;
use stratus_proto::v1::{
    CreateTriggerRequest, CreateTriggerResponse, DeleteTriggerRequest, DeleteTriggerResponse,
    DescribeTriggerRequest, DescribeTriggerResponse, LambdaTarget, ListTriggersRequest,
    ListTriggersResponse, LocalTarget, StartPosition as WireStart, Trigger, WebhookTarget,
};
use stratus_storage::log::now_ms;
use stratus_storage::trigger::{StartPosition, Target, TriggerSpec, Triggers};
use tonic::{Request, Response, Status};

use crate::error::GatewayError;

#[derive(Debug)]
pub(crate) struct TriggersService(pub(crate) Triggers);

#[tonic::async_trait]
impl TriggersApi for TriggersService {
    async fn create_trigger(
        &self,
        request: Request<CreateTriggerRequest>,
    ) -> Result<Response<CreateTriggerResponse>, Status> {
        let wire = request.into_inner().trigger.ok_or_else(|| {
            GatewayError::InvalidArgument("the request has no trigger; send one".to_owned())
        })?;
        let mut spec = spec_from_wire(wire)?;
        spec.created_at_ms = now_ms();
        let spec = self.0.create(spec).await.map_err(GatewayError::from)?;
        tracing::info!(trigger = %spec.name, topic = %spec.topic, target = %spec.target.describe(), "trigger created");
        Ok(Response::new(CreateTriggerResponse {
            trigger: Some(spec_to_wire(&spec)),
        }))
    }

    async fn list_triggers(
        &self,
        _request: Request<ListTriggersRequest>,
    ) -> Result<Response<ListTriggersResponse>, Status> {
        let specs = self.0.list().await.map_err(GatewayError::from)?;
        Ok(Response::new(ListTriggersResponse {
            triggers: specs.iter().map(spec_to_wire).collect(),
        }))
    }

    async fn describe_trigger(
        &self,
        request: Request<DescribeTriggerRequest>,
    ) -> Result<Response<DescribeTriggerResponse>, Status> {
        let spec = self
            .0
            .get(&request.into_inner().name)
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(DescribeTriggerResponse {
            trigger: Some(spec_to_wire(&spec)),
        }))
    }

    async fn delete_trigger(
        &self,
        request: Request<DeleteTriggerRequest>,
    ) -> Result<Response<DeleteTriggerResponse>, Status> {
        let spec = self
            .0
            .delete(&request.into_inner().name)
            .await
            .map_err(GatewayError::from)?;
        tracing::info!(trigger = %spec.name, "trigger deleted");
        Ok(Response::new(DeleteTriggerResponse {}))
    }
}

fn spec_from_wire(t: Trigger) -> Result<TriggerSpec, GatewayError> {
    let timeout_ms = t.timeout_ms;
    let target = match t.target {
        Some(WireTarget::Lambda(l)) => Target::Lambda {
            function_arn: l.function_arn,
            timeout_ms,
            endpoint: Some(l.endpoint).filter(|e| !e.is_empty()),
        },
        Some(WireTarget::Local(l)) => Target::Local {
            listen: l.listen,
            timeout_ms,
        },
        Some(WireTarget::Webhook(w)) => Target::Webhook {
            url: w.url,
            timeout_ms,
        },
        None => {
            return Err(GatewayError::InvalidArgument(
                "the trigger has no target; pass one of --lambda ARN, --local HOST:PORT or --webhook URL"
                    .to_owned(),
            ));
        }
    };
    let start = match WireStart::try_from(t.start) {
        Ok(WireStart::Latest) => StartPosition::Latest,
        Ok(WireStart::Earliest | WireStart::Unspecified) => StartPosition::Earliest,
        Err(_) => {
            return Err(GatewayError::InvalidArgument(format!(
                "unknown start position {}; use earliest or latest",
                t.start
            )));
        }
    };
    Ok(TriggerSpec {
        name: t.name,
        topic: t.topic,
        partitions: t.partitions,
        target,
        batch_size: t.batch_size,
        max_batch_bytes: t.max_batch_bytes,
        batching_window_ms: t.batching_window_ms,
        start,
        max_retries: t.max_retries,
        max_record_age_ms: t.max_record_age_ms,
        bisect_on_error: t.bisect_on_error,
        on_failure_topic: Some(t.on_failure_topic).filter(|f| !f.is_empty()),
        created_at_ms: t.created_at_ms,
    })
}

fn spec_to_wire(spec: &TriggerSpec) -> Trigger {
    let target = match &spec.target {
        Target::Lambda {
            function_arn,
            endpoint,
            ..
        } => WireTarget::Lambda(LambdaTarget {
            function_arn: function_arn.clone(),
            endpoint: endpoint.clone().unwrap_or_default(),
        }),
        Target::Local { listen, .. } => WireTarget::Local(LocalTarget {
            listen: listen.clone(),
        }),
        Target::Webhook { url, .. } => WireTarget::Webhook(WebhookTarget { url: url.clone() }),
    };
    Trigger {
        name: spec.name.clone(),
        topic: spec.topic.clone(),
        partitions: spec.partitions.clone(),
        target: Some(target),
        timeout_ms: spec.target.timeout_ms(),
        batch_size: spec.batch_size,
        max_batch_bytes: spec.max_batch_bytes,
        batching_window_ms: spec.batching_window_ms,
        start: match spec.start {
            StartPosition::Earliest => WireStart::Earliest,
            StartPosition::Latest => WireStart::Latest,
        } as i32,
        max_retries: spec.max_retries,
        max_record_age_ms: spec.max_record_age_ms,
        bisect_on_error: spec.bisect_on_error,
        on_failure_topic: spec.on_failure_topic.clone().unwrap_or_default(),
        created_at_ms: spec.created_at_ms,
        group: spec.group(),
    }
}
