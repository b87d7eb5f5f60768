//! Where batches go: one [`Invoker`] per target kind.
//!
//! An invoker sends one event and returns the function's response body, or
//! why the invocation failed. It never retries: retry policy lives in
//! [`crate::deliver`], the same for every target.

mod lambda;
mod local;
mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use stratus_format::trigger::{Target, TriggerSpec};

use crate::limits::ERROR_BODY_EXCERPT_BYTES;

pub use lambda::{Credentials, LambdaInvoker};
pub use local::LocalRuntime;
pub use webhook::WebhookInvoker;

/// Why an invocation did not succeed. Each is retried; the text ends up in the
/// on-failure topic's headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and reported an error (Runtime API `/error`, Lambda's
    /// `X-Amz-Function-Error`, a webhook's non-2xx status).
    #[error("function error {error_type}: {message}")]
    Function { error_type: String, message: String },
    #[error("function did not answer within {0:?}")]
    Timeout(Duration),
    /// The request did not reach the function or its answer was lost.
    #[error("cannot invoke the function: {0}")]
    Transport(String),
}

impl InvokeError {
    /// A short kind for headers and metrics.
    pub fn kind(&self) -> &str {
        match self {
            InvokeError::Function { error_type, .. } => error_type,
            InvokeError::Timeout(_) => "Timeout",
            InvokeError::Transport(_) => "Transport",
        }
    }

    /// The function's error, from a Lambda-style `{errorType, errorMessage}` body.
    pub fn from_error_body(body: &[u8], fallback_type: &str) -> Self {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        InvokeError::Function {
            error_type: field("errorType").unwrap_or_else(|| fallback_type.to_owned()),
            message: field("errorMessage").unwrap_or_else(|| {
                String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_EXCERPT_BYTES)])
                    .into_owned()
            }),
        }
    }
}

/// Sends one event to a function.
#[async_trait]
pub trait Invoker: Send + Sync + std::fmt::Debug {
    /// The response body on success.
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError>;
}

/// The invoker for a trigger's target. A local target binds its Runtime API
/// address here, so two dispatchers cannot serve the same function.
pub async fn invoker_for(spec: &TriggerSpec) -> Result<Box<dyn Invoker>, String> {
    let timeout = Duration::from_millis(spec.target.timeout_ms());
    Ok(match &spec.target {
        Target::Lambda {
            function_arn,
            endpoint,
            ..
        } => Box::new(LambdaInvoker::new(
            function_arn,
            endpoint.as_deref(),
            timeout,
            Credentials::from_env()?,
        )?),
        Target::Local { listen, .. } => {
            let addr = listen
                .parse()
                .map_err(|_| format!("local runtime address {listen:?} is not HOST:PORT"))?;
            let arn = format!("arn:aws:lambda:local:000000000000:function:{}", spec.name);
            Box::new(LocalRuntime::bind(addr, arn, timeout).await?)
        }
        Target::Webhook { url, .. } => Box::new(WebhookInvoker::new(url, timeout)?),
    })
}

#[cfg(test)]
mod tests;
