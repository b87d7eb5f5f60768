//! A plain HTTP target: POST the event as JSON; any 2xx is success and its
//! body may carry a partial batch response.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{InvokeError, Invoker};

#[derive(Debug)]
pub struct WebhookInvoker {
    client: reqwest::Client,
    url: String,
    timeout: Duration,
}

impl WebhookInvoker {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            timeout,
        })
    }
}

#[async_trait]
impl Invoker for WebhookInvoker {
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .map_err(|e| transport(&e, self.timeout))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport(&e, self.timeout))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(InvokeError::from_error_body(
                &body,
                &format!("HTTP {}", status.as_u16()),
            ))
        }
    }
}

pub(super) fn transport(e: &reqwest::Error, timeout: Duration) -> InvokeError {
    if e.is_timeout() {
        InvokeError::Timeout(timeout)
    } else {
        InvokeError::Transport(e.to_string())
    }
}
