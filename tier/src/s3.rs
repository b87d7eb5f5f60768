//! `s3://bucket/prefix` tiers through `object_store`'s AmazonS3.
//!
//! Endpoint, region and credentials come from the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, instance/container roles…),
//! and any `object_store` S3 setting can be given per tier as a URL query
//! parameter, so the WAL and segment tiers can differ:
//! `s3://wal--use1-az4--x-s3/wal?s3_express=true&region=us-east-1` (an S3
//! Express One Zone directory bucket), or
//! `s3://stratus/wal?endpoint=http://127.0.0.1:9000&allow_http=true` (MinIO).
//! Requests are path-style unless `virtual_hosted_style_request=true`.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use url::Url;

use super::TierError;

pub(super) fn open_s3(url: &Url, raw: &str) -> Result<Arc<dyn ObjectStore>, TierError> {
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| TierError::InvalidUrl {
            url: raw.to_owned(),
            reason: "an s3 url needs a bucket: s3://BUCKET/PREFIX".to_owned(),
        })?;
    // Retries belong to `RetryStore` (see `S3_CLIENT_MAX_RETRIES`).
    let no_client_retries = object_store::RetryConfig {
        max_retries: super::limits::S3_CLIENT_MAX_RETRIES,
        ..object_store::RetryConfig::default()
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(no_client_retries);
    for (key, value) in url.query_pairs() {
        let config_key: AmazonS3ConfigKey = key.parse().map_err(|_| TierError::InvalidUrl {
            url: raw.to_owned(),
            reason: format!(
                "unknown S3 setting {key:?} in the query; use object_store's names such as \
                 endpoint, region, allow_http, s3_express, virtual_hosted_style_request"
            ),
        })?;
        builder = builder.with_config(config_key, value.as_ref());
    }
    let store = builder.build().map_err(|source| TierError::Open {
        url: raw.to_owned(),
        source,
    })?;
    let prefix = url.path().trim_matches('/');
    Ok(if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    })
}
