//! The compactor as an AWS Lambda function: each invocation (typically an
//! EventBridge schedule) runs one pass and answers with its report.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};

use crate::compactor::Compactor;
use crate::report::PassReport;

/// Serves invocations from the Lambda Runtime API named by
/// `AWS_LAMBDA_RUNTIME_API` until the runtime shuts the process down.
pub async fn run_lambda(compactor: Arc<Compactor>) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let compactor = compactor.clone();
        async move {
            tracing::debug!(request_id = %event.context.request_id, "compaction invocation");
            let report: PassReport = compactor.run_pass().await?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
