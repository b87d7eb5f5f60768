//! Every topic's name, listed at most once per
//! [`TOPIC_NAMES_CACHE_TTL`] per gateway, for resolving KIP-848 pattern
//! subscriptions: each heartbeat of a pattern member resolves its pattern
//! again, and a cluster of many pattern members would otherwise list every
//! topic once per heartbeat.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::BrokerError;
use crate::limits::TOPIC_NAMES_CACHE_TTL;

#[derive(Debug, Default)]
pub(super) struct TopicNames {
    /// When the names were listed, and the names. The lock is held while
    /// listing, so concurrent heartbeats wait for one listing instead of
    /// each starting their own.
    listed: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl TopicNames {
    /// The names, listed by `list` if the last listing is older than the TTL
    /// (or failed).
    pub(super) async fn get<F, Fut>(&self, list: F) -> Result<Vec<String>, BrokerError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<String>, BrokerError>>,
    {
        let mut listed = self.listed.lock().await;
        if let Some((at, names)) = listed.as_ref()
            && at.elapsed() < TOPIC_NAMES_CACHE_TTL
        {
            return Ok(names.as_ref().clone());
        }
        let names = Arc::new(list().await?);
        *listed = Some((Instant::now(), Arc::clone(&names)));
        Ok(names.as_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn names_are_listed_once_per_ttl() {
        let names = TopicNames::default();
        let listings = AtomicUsize::new(0);
        let list = || async {
            listings.fetch_add(1, Ordering::SeqCst);
            Ok(vec!["a".to_owned()])
        };
        assert_eq!(names.get(list).await.unwrap(), ["a"]);
        assert_eq!(names.get(list).await.unwrap(), ["a"]);
        assert_eq!(listings.load(Ordering::SeqCst), 1);
        // A failed listing is not kept.
        let failing = || async { Err(BrokerError::Internal("down".into())) };
        tokio::time::advance(TOPIC_NAMES_CACHE_TTL).await;
        assert!(names.get(failing).await.is_err());
        assert_eq!(names.get(list).await.unwrap(), ["a"]);
        assert_eq!(listings.load(Ordering::SeqCst), 2);
    }
}
