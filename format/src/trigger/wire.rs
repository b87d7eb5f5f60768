//! Trigger definitions as the `Triggers` gRPC service carries them: the one
//! mapping between [`TriggerSpec`] and `stratus.v1.Trigger`, used by the
//! gateway that serves the service and the dispatcher that reads it.

use stratus_proto::v1::trigger::Target as WireTarget;
use stratus_proto::v1::{
    LambdaTarget, LocalTarget, StartPosition as WireStart, Trigger, WebhookTarget,
};

use super::{StartPosition, Target, TriggerSpec, TriggerSpecError};

/// A definition from the wire; a missing target or an unknown enum value is
/// refused. The result is not yet [validated](TriggerSpec::validate).
pub fn spec_from_wire(t: Trigger) -> Result<TriggerSpec, TriggerSpecError> {
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
            return Err(TriggerSpecError(
                "trigger has no target; pass one of --lambda ARN, --local HOST:PORT or --webhook URL"
                    .to_owned(),
            ));
        }
    };
    let start = match WireStart::try_from(t.start) {
        Ok(WireStart::Latest) => StartPosition::Latest,
        Ok(WireStart::Earliest | WireStart::Unspecified) => StartPosition::Earliest,
        Err(_) => {
            return Err(TriggerSpecError(format!(
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

/// A definition for the wire.
pub fn spec_to_wire(spec: &TriggerSpec) -> Trigger {
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
