//! Where backups live. A [`BackupStore`] lists keys under a prefix as a stream (so memory does
//! not grow with the number of objects), reads an object's metadata, a byte range, or the whole
//! object as a stream. The local folder and S3 implement the same trait; the checks see only it.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use tokio::io::AsyncRead;

pub mod local;
pub mod s3;

/// One object as a listing reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// What a HEAD says about one object. Fields the store does not keep are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// The SHA-256 the store keeps for the whole object, as lowercase hex.
    pub sha256: Option<String>,
    /// A multipart upload's composite checksum (`base64-N`, a hash of the parts' hashes): kept
    /// so a check can say why there is no whole-object SHA-256 to compare.
    pub sha256_composite: Option<String>,
    /// `ServerSideEncryption` (`aws:kms`, `AES256`).
    pub sse: Option<String>,
    /// `SSEKMSKeyId`: the key id or ARN the object is encrypted with.
    pub kms_key_id: Option<String>,
}

/// The kind of store, which decides what some checks can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Local,
    S3,
}

/// A store operation that failed, with the store's own error code (`NoSuchBucket`,
/// `AccessDenied`, `NotFound`, `io`) so the check detail can quote it.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StoreError {
    pub code: String,
    pub message: String,
}

impl StoreError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A byte stream of an object's content.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

#[async_trait]
pub trait BackupStore: Send + Sync {
    fn kind(&self) -> StoreKind;

    /// Where the store is, for messages (`local folder ./backups`, `s3://bucket`).
    fn describe(&self) -> String;

    /// Every object whose key starts with `prefix`, in no particular order, one at a time.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>>;

    /// The object's metadata, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError>;

    /// Up to `len` bytes starting at `start` (fewer when the object is shorter).
    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError>;

    /// The whole object as a stream.
    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError>;
}
