//! The `Triggers` admin service: trigger definitions in metadata. Running
//! them is the dispatcher's job (crate `stratus-triggers`), not the gateway's.

use stratus_format::trigger::wire::{spec_from_wire, spec_to_wire};
use stratus_proto::v1::triggers_server::Triggers as TriggersApi;
use stratus_proto::v1::{
    CreateTriggerRequest, CreateTriggerResponse, DeleteTriggerRequest, DeleteTriggerResponse,
    DescribeTriggerRequest, DescribeTriggerResponse, ListTriggersRequest, ListTriggersResponse,
};
use stratus_storage::log::now_ms;
use stratus_storage::trigger::Triggers;
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
        let mut spec =
            spec_from_wire(wire).map_err(|e| GatewayError::InvalidArgument(e.to_string()))?;
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
