//! [`Counting`]: a [`BackupStore`] over any other that counts what the checks ask of the store
//! — listing pages, HEADs, ranged and whole reads, and the bytes that came back — so every
//! store is counted the same way and a run can say what it cost. The counts are shared, so a
//! caller can take a [`Counts`] snapshot before and after a target.
//!
//! Listing pages are not visible through the trait (it yields objects): a listing counts one
//! page per started [`LIST_PAGE`] objects, and at least one — S3's `ListObjectsV2` pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use super::{BackupStore, ObjectHead, ObjectMeta, ObjectReader, StoreError, StoreKind};

/// Objects per listing page (S3's default and largest `max-keys`).
pub const LIST_PAGE: u64 = 1000;

/// What was asked of a store, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub list: u64,
    pub head: u64,
    /// Ranged reads (the first bytes, the sidecar).
    pub range: u64,
    /// The GETs of whole-object reads (a parallel read sends one per part).
    pub get: u64,
    /// Bytes read back, ranged and whole.
    pub bytes: u64,
}

impl Counts {
    /// The counts since `before`.
    pub fn since(&self, before: &Counts) -> Counts {
        Counts {
            list: self.list.saturating_sub(before.list),
            head: self.head.saturating_sub(before.head),
            range: self.range.saturating_sub(before.range),
            get: self.get.saturating_sub(before.get),
            bytes: self.bytes.saturating_sub(before.bytes),
        }
    }

    pub fn requests(&self) -> u64 {
        self.list + self.head + self.range + self.get
    }
}

#[derive(Default)]
struct Shared {
    list: AtomicU64,
    head: AtomicU64,
    range: AtomicU64,
    get: AtomicU64,
    bytes: Arc<AtomicU64>,
}

/// Counts the requests made through it to `inner`.
pub struct Counting<'a> {
    inner: &'a dyn BackupStore,
    shared: Arc<Shared>,
    /// What `inner` had sent for whole reads when counting began, when it counts them itself.
    reads_before: Option<u64>,
}

impl<'a> Counting<'a> {
    pub fn new(inner: &'a dyn BackupStore) -> Self {
        Counting {
            inner,
            shared: Arc::default(),
            reads_before: inner.reads_sent(),
        }
    }

    /// The counts so far. A whole read counts the GETs the store sent for it: one, or one per
    /// part of a parallel read.
    pub fn counts(&self) -> Counts {
        let s = &self.shared;
        let get = match (self.inner.reads_sent(), self.reads_before) {
            (Some(now), Some(before)) => now.saturating_sub(before),
            _ => s.get.load(Ordering::Relaxed),
        };
        Counts {
            list: s.list.load(Ordering::Relaxed),
            head: s.head.load(Ordering::Relaxed),
            range: s.range.load(Ordering::Relaxed),
            get,
            bytes: s.bytes.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
impl BackupStore for Counting<'_> {
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn uri(&self, key: &str) -> String {
        self.inner.uri(key)
    }

    fn list<'b>(&'b self, prefix: &'b str) -> BoxStream<'b, Result<ObjectMeta, StoreError>> {
        let shared = self.shared.clone();
        shared.list.fetch_add(1, Ordering::Relaxed);
        let mut seen = 0u64;
        self.inner
            .list(prefix)
            .inspect(move |_| {
                seen += 1;
                // Each object past a full page means one more page was fetched.
                if seen > 1 && (seen - 1).is_multiple_of(LIST_PAGE) {
                    shared.list.fetch_add(1, Ordering::Relaxed);
                }
            })
            .boxed()
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        self.shared.head.fetch_add(1, Ordering::Relaxed);
        self.inner.head(key).await
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        self.shared.range.fetch_add(1, Ordering::Relaxed);
        let bytes = self.inner.read_range(key, start, len).await?;
        self.shared
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    async fn request_restore(
        &self,
        key: &str,
        request: &crate::config::RestoreRequest,
    ) -> Result<super::RestoreRequested, StoreError> {
        self.inner.request_restore(key, request).await
    }

    fn reads_sent(&self) -> Option<u64> {
        Some(self.counts().get)
    }

    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError> {
        self.shared.get.fetch_add(1, Ordering::Relaxed);
        let inner = self.inner.read(key).await?;
        Ok(inner.counted(self.shared.bytes.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn every_kind_of_request_and_the_bytes_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            std::fs::write(dir.path().join(format!("b{i}")), b"0123456789").unwrap();
        }
        let local = super::super::local::LocalStore::new(dir.path());
        let store = Counting::new(&local);
        let listed: Vec<_> = store.list("").collect().await;
        assert_eq!(listed.len(), 3);
        store.head("b0").await.unwrap();
        assert_eq!(store.read_range("b1", 0, 4).await.unwrap().len(), 4);
        let before = store.counts();
        let mut all = Vec::new();
        store
            .read("b2")
            .await
            .unwrap()
            .read_to_end(&mut all)
            .await
            .unwrap();
        let counts = store.counts();
        assert_eq!(
            counts,
            Counts {
                list: 1,
                head: 1,
                range: 1,
                get: 1,
                bytes: 14
            }
        );
        assert_eq!(counts.since(&before).bytes, 10);
        assert_eq!(counts.requests(), 4);
    }
}
