//! AWS Lambda's Invoke API: `POST /2015-03-31/functions/{arn}/invocations`,
//! SigV4-signed (service `lambda`) with the dispatcher's AWS credentials.
//!
//! A function error comes back as 200 with `X-Amz-Function-Error`; any other
//! non-2xx (throttling, missing permission, no such function) is an error the
//! delivery policy retries like a function error.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use stratus_format::trigger::FunctionArn;

use super::webhook::transport;
use super::{InvokeError, Invoker};
use crate::limits::LAMBDA_TIMEOUT_MARGIN;

/// AWS credentials, read from the standard environment variables.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Self {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            }),
            _ => Err(
                "a Lambda target needs AWS credentials; set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) \
                 in the dispatcher's environment"
                    .to_owned(),
            ),
        }
    }
}

#[derive(Debug)]
pub struct LambdaInvoker {
    client: reqwest::Client,
    url: String,
    region: String,
    identity: Identity,
    timeout: Duration,
}

impl LambdaInvoker {
    pub fn new(
        function_arn: &str,
        endpoint: Option<&str>,
        timeout: Duration,
        credentials: Credentials,
    ) -> Result<Self, String> {
        let arn = FunctionArn::parse(function_arn).map_err(|e| e.to_string())?;
        let endpoint = endpoint.map_or_else(
            || format!("https://lambda.{}.amazonaws.com", arn.region),
            |e| e.trim_end_matches('/').to_owned(),
        );
        let url = format!(
            "{endpoint}/2015-03-31/functions/{}/invocations",
            percent_encode(function_arn)
        );
        // The function may run up to `timeout`; leave room for the round trip.
        let client = reqwest::Client::builder()
            .timeout(timeout + LAMBDA_TIMEOUT_MARGIN)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let credentials = aws_credential_types::Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
            None,
            "environment",
        );
        Ok(Self {
            client,
            url,
            region: arn.region,
            identity: credentials.into(),
            timeout,
        })
    }

    fn signed(&self, payload: &Bytes) -> Result<http::Request<Bytes>, InvokeError> {
        let signing = |e: &dyn std::fmt::Display| {
            InvokeError::Transport(format!("cannot sign the request: {e}"))
        };
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing(&e))?
            .into();
        let headers = [
            ("content-type", "application/json"),
            ("x-amz-invocation-type", "RequestResponse"),
        ];
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(payload),
        )
        .map_err(|e| signing(&e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| signing(&e))?
            .into_parts();
        let mut request = http::Request::post(&self.url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(payload.clone()).map_err(|e| signing(&e))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let request = reqwest::Request::try_from(self.signed(&payload)?)
            .map_err(|e| InvokeError::Transport(e.to_string()))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| transport(&e, self.timeout))?;
        let status = response.status();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| transport(&e, self.timeout))?;
        if let Some(kind) = function_error {
            return Err(InvokeError::from_error_body(&body, &kind));
        }
        if !status.is_success() {
            // Lambda's service errors carry `{"Type", "message"}` and the
            // error name in `x-amzn-ErrorType`.
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let message = json
                .get("message")
                .or_else(|| json.get("Message"))
                .and_then(|m| m.as_str())
                .map_or_else(
                    || String::from_utf8_lossy(&body).into_owned(),
                    str::to_owned,
                );
            return Err(InvokeError::Function {
                error_type: format!("Lambda HTTP {}", status.as_u16()),
                message,
            });
        }
        Ok(body)
    }
}

/// Percent-encodes a path segment (an ARN's `:` and anything unusual).
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
