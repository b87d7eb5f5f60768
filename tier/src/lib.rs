//! Object-store tiers chosen by URL.
//!
//! A tier is any [`ObjectStore`]; this module only turns a URL into one with
//! the durability Stratus needs. Policy (retries, metrics, fault injection)
//! belongs in wrappers, not here; every bound of the wrappers is in [`limits`].

use std::path::PathBuf;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};

pub mod counting;
#[cfg(feature = "faults")]
pub mod faults;
pub mod limits;
pub mod operation;
pub mod retry;
mod s3;
pub mod staging;

pub use counting::{Counters, CountingStore, OpCounts, OpStats};
#[cfg(feature = "faults")]
pub use faults::{FaultConfig, FaultRule, FaultSpecError, FaultStore, Latency};
pub use operation::Operation;
pub use retry::{RetryConfig, RetryStore};
pub use staging::{StagingSweep, file_tier_dir, sweep_staging_files};

/// A tier URL that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    #[error(
        "tier url {url:?} is not a valid url: {reason}; use file:///absolute/path or memory://"
    )]
    InvalidUrl { url: String, reason: String },
    #[error(
        "tier url {url:?} uses the unsupported scheme {scheme:?}; use s3://bucket/prefix, file:///absolute/path or memory://"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("cannot create the directory {path:?} for tier {url:?}: {source}")]
    CreateDir {
        url: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open tier {url:?}: {source}")]
    Open {
        url: String,
        source: object_store::Error,
    },
    #[error(
        "tier {url:?} is not usable: {operation} of a probe object failed: {source}; \
         check the bucket exists, the endpoint and region are right and the credentials may write"
    )]
    Unusable {
        url: String,
        operation: &'static str,
        source: object_store::Error,
    },
}

/// Opens the tier at `url`:
/// - `file:///absolute/path`: the local filesystem. Every PUT writes a staged
///   file, fsyncs it, publishes it atomically and fsyncs the directory before
///   returning, so an acknowledged object survives power loss. A staged
///   file left by a process killed mid-PUT is deleted by the compactor's
///   orphan scan (see [`staging`]).
/// - `memory://`: process memory; for tests only, nothing survives a restart.
/// - `s3://bucket/prefix`: S3 or any S3-compatible store; see [`s3`] for the
///   settings. Create-only PUTs use `If-None-Match: *`.
pub fn open_tier(url: &str) -> Result<Arc<dyn ObjectStore>, TierError> {
    let parsed = url::Url::parse(url).map_err(|e| TierError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "memory" => Ok(Arc::new(InMemory::new())),
        "file" => {
            let path = parsed.to_file_path().map_err(|()| TierError::InvalidUrl {
                url: url.to_owned(),
                reason: "a file url needs an absolute path".to_owned(),
            })?;
            create_dir_durably(&path).map_err(|source| TierError::CreateDir {
                url: url.to_owned(),
                path: path.clone(),
                source,
            })?;
            let store = LocalFileSystem::new_with_prefix(&path)
                .map_err(|source| TierError::Open {
                    url: url.to_owned(),
                    source,
                })?
                .with_fsync(true);
            Ok(Arc::new(store))
        }
        "s3" | "s3a" => s3::open_s3(&parsed, url),
        scheme => Err(TierError::UnsupportedScheme {
            url: url.to_owned(),
            scheme: scheme.to_owned(),
        }),
    }
}

/// A tier with Stratus's policy applied: retries with backoff and a per-call
/// timeout over request counting. Counting sits under the retries so every
/// attempt is counted, as the object store bills it. Fault injection (feature
/// `faults`) wraps the base store before it is layered.
#[derive(Debug, Clone)]
pub struct LayeredTier {
    pub store: Arc<dyn ObjectStore>,
    pub counters: Arc<Counters>,
}

/// Wraps `base` as described on [`LayeredTier`].
pub fn layer(base: Arc<dyn ObjectStore>, retry: RetryConfig) -> LayeredTier {
    let counting = CountingStore::new(base);
    let counters = counting.counters();
    LayeredTier {
        store: Arc::new(RetryStore::new(counting, retry)),
        counters,
    }
}

/// Proves a tier works before a gateway accepts writes: writes a small object
/// lists, writes a small object create-only, reads its metadata and deletes it. A missing bucket, a wrong
/// endpoint or credentials that may not write fail here, at start, instead
/// of on the first produce.
pub async fn probe_tier(store: &dyn ObjectStore, url: &str) -> Result<(), TierError> {
    let key = Path::from(format!("_stratus/probe/{}", ulid::Ulid::generate()));
    let unusable = |operation| {
        move |source| TierError::Unusable {
            url: url.to_owned(),
            operation,
            source,
        }
    };
    // List first: it fails on a missing bucket even where a lenient store
    // would create the bucket on PUT, and garbage collection needs it anyway.
    store
        .list_with_delimiter(Some(&Path::from("_stratus/probe")))
        .await
        .map_err(unusable("list"))?;
    store
        .put_opts(&key, "probe".into(), PutOptions::from(PutMode::Create))
        .await
        .map_err(unusable("create-only put"))?;
    store.head(&key).await.map_err(unusable("head"))?;
    store.delete(&key).await.map_err(unusable("delete"))?;
    Ok(())
}

/// Turns a local directory into a `file://` tier URL.
pub fn file_url(path: &std::path::Path) -> String {
    url::Url::from_directory_path(path)
        .map(|u| u.to_string())
        .unwrap_or_else(|()| format!("file://{}", path.display()))
}

/// Creates `path` and makes its directory entry durable, so a tier created just
/// before a crash is still there after it.
fn create_dir_durably(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path)?;
    let mut dir = Some(path);
    while let Some(d) = dir {
        std::fs::File::open(d)?.sync_all()?;
        dir = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStoreExt, PutMode, PutOptions, path::Path};

    #[tokio::test]
    async fn file_tier_round_trips_and_refuses_overwrite_in_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_tier(&file_url(&dir.path().join("wal"))).unwrap();
        let key = Path::from("wal/a.wal");
        let create = PutOptions::from(PutMode::Create);
        store
            .put_opts(&key, "one".into(), create.clone())
            .await
            .unwrap();
        let again = store.put_opts(&key, "two".into(), create).await;
        assert!(matches!(
            again,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(&bytes[..], b"one");
    }

    #[test]
    fn unsupported_scheme_names_the_fix() {
        let err = open_tier("ftp://x/y").unwrap_err().to_string();
        assert!(err.contains("ftp") && err.contains("file:///"), "{err}");
    }
}
