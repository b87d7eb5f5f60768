//! Targets against real HTTP peers on loopback: a fake Lambda Invoke
//! endpoint that checks the SigV4 header, a webhook, and the local Runtime
//! API driven the way `lambda_runtime` drives it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;

type Seen = Arc<Mutex<Vec<(String, String, Option<String>, Bytes)>>>;

/// An HTTP server answering every request with `answer(body)`, recording
/// (method, path, authorization, body).
async fn server(answer: fn(&Bytes) -> Response<Full<Bytes>>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let method = request.method().to_string();
                        let path = request.uri().path().to_owned();
                        let auth = request
                            .headers()
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned());
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let response = answer(&body);
                        log.lock().unwrap().push((method, path, auth, body));
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: None,
    }
}

const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:orders";

#[tokio::test]
async fn lambda_invoke_is_signed_and_reads_function_errors() {
    let (url, seen) = server(|body| {
        if body.as_ref() == b"{\"fail\":true}" {
            let mut r = Response::new(Full::new(Bytes::from_static(
                br#"{"errorType":"Boom","errorMessage":"bad record"}"#,
            )));
            r.headers_mut()
                .insert("x-amz-function-error", "Unhandled".parse().unwrap());
            r
        } else {
            Response::new(Full::new(Bytes::from_static(b"{\"batchItemFailures\":[]}")))
        }
    })
    .await;
    let lambda =
        LambdaInvoker::new(ARN, Some(&url), Duration::from_secs(5), credentials()).unwrap();
    let ok = lambda.invoke(Bytes::from_static(b"{}")).await.unwrap();
    assert_eq!(ok.as_ref(), b"{\"batchItemFailures\":[]}");
    let err = lambda
        .invoke(Bytes::from_static(b"{\"fail\":true}"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        InvokeError::Function {
            error_type: "Boom".into(),
            message: "bad record".into()
        }
    );
    let seen = seen.lock().unwrap();
    let (method, path, auth, body) = &seen[0];
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/invocations"
    );
    let auth = auth.as_deref().expect("signed");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/eu-west-1/lambda/aws4_request"),
        "{auth}"
    );
    assert!(auth.contains("Signature="), "{auth}");
    assert_eq!(body.as_ref(), b"{}");
}

#[tokio::test]
async fn lambda_service_errors_are_errors() {
    let (url, _) = server(|_| {
        let mut r = Response::new(Full::new(Bytes::from_static(
            br#"{"message":"Rate exceeded"}"#,
        )));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        r
    })
    .await;
    let lambda =
        LambdaInvoker::new(ARN, Some(&url), Duration::from_secs(5), credentials()).unwrap();
    let err = lambda.invoke(Bytes::new()).await.unwrap_err();
    assert!(
        err.to_string().contains("Rate exceeded") && err.to_string().contains("429"),
        "{err}"
    );
}

#[tokio::test]
async fn webhook_success_and_failure() {
    let (url, seen) = server(|body| {
        let mut r = Response::new(Full::new(Bytes::from_static(b"nope")));
        if body.as_ref() == b"bad" {
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        r
    })
    .await;
    let hook = WebhookInvoker::new(&format!("{url}/hook"), Duration::from_secs(5)).unwrap();
    assert!(hook.invoke(Bytes::from_static(b"good")).await.is_ok());
    let err = hook.invoke(Bytes::from_static(b"bad")).await.unwrap_err();
    assert_eq!(err.kind(), "HTTP 500");
    assert_eq!(seen.lock().unwrap()[0].1, "/hook");
}

#[tokio::test]
async fn local_runtime_serves_the_lambda_runtime_api() {
    let runtime = Arc::new(
        LocalRuntime::bind(
            "127.0.0.1:0".parse().unwrap(),
            "arn:aws:lambda:local:000000000000:function:f".into(),
            Duration::from_millis(500),
        )
        .await
        .unwrap(),
    );
    let base = format!("http://{}/2018-06-01/runtime", runtime.local_addr());
    let http = reqwest::Client::new();
    // Success: next → response.
    let invoking = tokio::spawn({
        let runtime = Arc::clone(&runtime);
        async move { runtime.invoke(Bytes::from_static(b"{\"n\":1}")).await }
    });
    let next = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(next.headers().contains_key("lambda-runtime-deadline-ms"));
    assert_eq!(
        next.headers()["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:local:000000000000:function:f"
    );
    assert_eq!(next.bytes().await.unwrap().as_ref(), b"{\"n\":1}");
    let posted = http
        .post(format!("{base}/invocation/{id}/response"))
        .body("done")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    assert_eq!(invoking.await.unwrap().unwrap().as_ref(), b"done");
    // A second answer for the same id is refused.
    let again = http
        .post(format!("{base}/invocation/{id}/response"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // Error: next → error.
    let invoking = tokio::spawn({
        let runtime = Arc::clone(&runtime);
        async move { runtime.invoke(Bytes::from_static(b"{}")).await }
    });
    let next = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    http.post(format!("{base}/invocation/{id}/error"))
        .body(r#"{"errorType":"Oops","errorMessage":"it broke"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(invoking.await.unwrap().unwrap_err().kind(), "Oops");

    // Timeout: the function takes the event and never answers.
    let invoking = tokio::spawn({
        let runtime = Arc::clone(&runtime);
        async move { runtime.invoke(Bytes::from_static(b"{}")).await }
    });
    let _ = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        invoking.await.unwrap(),
        Err(InvokeError::Timeout(_))
    ));

    // Init error fails the waiting events.
    let invoking = tokio::spawn({
        let runtime = Arc::clone(&runtime);
        async move { runtime.invoke(Bytes::from_static(b"{}")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    http.post(format!("{base}/init/error"))
        .body(r#"{"errorType":"Init","errorMessage":"no config"}"#)
        .send()
        .await
        .unwrap();
    let err = invoking.await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("failed to initialize: no config"),
        "{err}"
    );
}
