//! The network between one host and the shared stores, which the nemesis can
//! cut. While the link to a store is cut, every call to it from that host
//! waits a moment and fails; a metadata commit fails with an unknown outcome
//! without reaching the store (its request was lost on the way). Other hosts
//! reach the stores as usual.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, Error, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use stratus_meta::{CommitInfo, MetaError, MetaStore, RangeOptions, Transaction, Watch};

/// How long a call over a cut link takes to fail (a connect timeout).
const CUT_DELAY: Duration = Duration::from_millis(200);

/// Whether a host can reach the metadata store and the object store.
#[derive(Debug, Default)]
pub struct Link {
    meta_cut: AtomicBool,
    tier_cut: AtomicBool,
}

impl Link {
    pub fn cut(&self, meta: bool, tier: bool) {
        self.meta_cut.store(meta, Ordering::SeqCst);
        self.tier_cut.store(tier, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.cut(false, false);
    }

    fn meta_cut(&self) -> bool {
        self.meta_cut.load(Ordering::SeqCst)
    }

    fn tier_cut(&self) -> bool {
        self.tier_cut.load(Ordering::SeqCst)
    }
}

fn meta_unreachable() -> MetaError {
    MetaError::Backend("simulated network partition: the metadata store is unreachable".into())
}

/// A host's view of the metadata store, through its [`Link`].
#[derive(Debug)]
pub struct LinkedMeta {
    inner: Arc<dyn MetaStore>,
    link: Arc<Link>,
}

impl LinkedMeta {
    pub fn new(inner: Arc<dyn MetaStore>, link: Arc<Link>) -> Self {
        Self { inner, link }
    }
}

#[async_trait]
impl MetaStore for LinkedMeta {
    async fn begin(&self) -> Result<Box<dyn Transaction>, MetaError> {
        if self.link.meta_cut() {
            tokio::time::sleep(CUT_DELAY).await;
            return Err(meta_unreachable());
        }
        let inner = self.inner.begin().await?;
        Ok(Box::new(LinkedTransaction {
            inner,
            link: Arc::clone(&self.link),
        }))
    }

    fn watch(&self, key: &[u8]) -> Watch {
        self.inner.watch(key)
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

struct LinkedTransaction {
    inner: Box<dyn Transaction>,
    link: Arc<Link>,
}

impl LinkedTransaction {
    /// Takes the link alone: the inner transaction is `Send` but not `Sync`.
    async fn reachable(link: &Link) -> Result<(), MetaError> {
        if link.meta_cut() {
            tokio::time::sleep(CUT_DELAY).await;
            return Err(meta_unreachable());
        }
        Ok(())
    }
}

#[async_trait]
impl Transaction for LinkedTransaction {
    fn read_version(&self) -> u64 {
        self.inner.read_version()
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        Self::reachable(&self.link).await?;
        self.inner.get(key).await
    }

    async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Bytes>, MetaError> {
        Self::reachable(&self.link).await?;
        self.inner.snapshot_get(key).await
    }

    async fn get_range(
        &mut self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, MetaError> {
        Self::reachable(&self.link).await?;
        self.inner.get_range(begin, end, options).await
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        self.inner.set(key, value)
    }

    fn clear(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.inner.clear(key)
    }

    fn clear_range(&mut self, begin: &[u8], end: &[u8]) -> Result<(), MetaError> {
        self.inner.clear_range(begin, end)
    }

    fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), MetaError> {
        self.inner.atomic_add(key, delta)
    }

    fn set_versionstamped_value(
        &mut self,
        key: &[u8],
        value_prefix: &[u8],
    ) -> Result<(), MetaError> {
        self.inner.set_versionstamped_value(key, value_prefix)
    }

    fn add_read_conflict_key(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.inner.add_read_conflict_key(key)
    }

    async fn commit(self: Box<Self>) -> Result<CommitInfo, MetaError> {
        if self.link.meta_cut() {
            tokio::time::sleep(CUT_DELAY).await;
            // The request was lost: nothing applied, and the caller cannot
            // tell.
            return Err(MetaError::CommitUnknownResult);
        }
        self.inner.commit().await
    }
}

fn tier_unreachable(location: &str) -> Error {
    Error::Generic {
        store: "sim-network",
        source: format!(
            "simulated network partition: the object store is unreachable (for {location:?})"
        )
        .into(),
    }
}

/// A host's view of an object store, through its [`Link`].
#[derive(Debug)]
pub struct LinkedStore {
    inner: Arc<dyn ObjectStore>,
    link: Arc<Link>,
}

impl LinkedStore {
    pub fn new(inner: Arc<dyn ObjectStore>, link: Arc<Link>) -> Self {
        Self { inner, link }
    }

    async fn reachable(&self, location: &str) -> Result<()> {
        if self.link.tier_cut() {
            tokio::time::sleep(CUT_DELAY).await;
            return Err(tier_unreachable(location));
        }
        Ok(())
    }

    fn cut_stream<T: Send + 'static>(
        &self,
        label: String,
        inner: BoxStream<'static, Result<T>>,
    ) -> BoxStream<'static, Result<T>> {
        if !self.link.tier_cut() {
            return inner;
        }
        stream::once(async move {
            tokio::time::sleep(CUT_DELAY).await;
            Err(tier_unreachable(&label))
        })
        .boxed()
    }
}

impl fmt::Display for LinkedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkedStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for LinkedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.reachable(location.as_ref()).await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.reachable(location.as_ref()).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.reachable(location.as_ref()).await?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = self.inner.delete_stream(locations);
        self.cut_stream("delete".to_owned(), inner)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let label = prefix.map(Path::to_string).unwrap_or_default();
        let inner = self.inner.list(prefix);
        self.cut_stream(label, inner)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let label = prefix.map(Path::to_string).unwrap_or_default();
        let inner = self.inner.list_with_offset(prefix, offset);
        self.cut_stream(label, inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.reachable(prefix.map(Path::as_ref).unwrap_or_default())
            .await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.reachable(to.as_ref()).await?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.reachable(to.as_ref()).await?;
        self.inner.rename_opts(from, to, options).await
    }
}
