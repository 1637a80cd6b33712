//! Where backups live. A [`BackupStore`] lists keys under a prefix as a stream (so memory does
//! not grow with the number of objects), reads an object's metadata, a byte range, or the whole
//! object as a stream. The local folder, S3 and Azure Blob implement the same trait; the checks
//! see only it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

pub mod azure;
pub mod counting;
pub mod local;
pub mod reader;
pub mod s3;

pub use reader::{LocalFile, ObjectReader};

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
    /// The storage class or access tier (`GLACIER`, `DEEP_ARCHIVE`; Azure `Hot`, `Cool`,
    /// `Archive`): an archived object cannot be read until it is restored or rehydrated.
    pub storage_class: Option<String>,
    /// The MD5 the store keeps for the whole object (Azure `Content-MD5`), as lowercase hex.
    pub md5: Option<String>,
    /// Where a restore of an archived object stands (S3's `x-amz-restore`); `None` when none
    /// was asked for, or the store has no such thing.
    pub restore: Option<RestoreStatus>,
}

/// A restore of an archived object, as HEAD reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreStatus {
    /// Asked for and still running (`ongoing-request="true"`): not readable yet.
    InProgress,
    /// Done (`ongoing-request="false"`): a readable copy is kept until `expires` (as the store
    /// wrote it, when it did).
    Readable { expires: Option<String> },
}

impl RestoreStatus {
    /// Reads S3's `x-amz-restore` header: `ongoing-request="false", expiry-date="Fri, 21 Dec
    /// 2012 00:00:00 GMT"`. A value without `ongoing-request` says nothing.
    pub fn from_header(value: &str) -> Option<RestoreStatus> {
        let field = |name: &str| {
            value.split(',').map(str::trim).find_map(|part| {
                let (k, v) = part.split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        // The date holds a comma of its own (`Fri, 21 Dec…`): take everything after its `=`.
        let expires = value
            .split_once("expiry-date=")
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty());
        match field("ongoing-request")?.as_str() {
            "true" => Some(RestoreStatus::InProgress),
            "false" => Some(RestoreStatus::Readable { expires }),
            _ => None,
        }
    }
}

/// What a restore request of an archived object got for an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreRequested {
    /// A new restore was started.
    Started,
    /// A restore asked for earlier is still running (`RestoreAlreadyInProgress`).
    AlreadyInProgress,
}

/// The kind of store, which decides what some checks can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Local,
    S3,
    Azure,
}

/// What went wrong with a store operation, for callers to branch on. The provider's own code
/// (`NoSuchKey`, `SlowDown`…) stays in `StoreError::code` for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// No such object, or no such configuration of the bucket.
    NotFound,
    AccessDenied,
    /// The bucket (or the local store's folder) does not exist.
    NoSuchBucket,
    /// No connection could be made.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// The store kept answering that it is busy (`SlowDown`, 503).
    Throttled,
    /// Credentials were found but refused: wrong, expired, or signed for another region.
    BadCredentials,
    /// No credentials could be found at all.
    NoCredentials,
    /// A byte range past the end of the object.
    InvalidRange,
    /// Anything else; the code and message say what.
    Other,
}

impl StoreErrorKind {
    /// The name a message shows when the provider gave no code of its own.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::NotFound => "NotFound",
            StoreErrorKind::AccessDenied => "AccessDenied",
            StoreErrorKind::NoSuchBucket => "NoSuchBucket",
            StoreErrorKind::Unreachable => "Unreachable",
            StoreErrorKind::Timeout => "Timeout",
            StoreErrorKind::Throttled => "Throttled",
            StoreErrorKind::BadCredentials => "BadCredentials",
            StoreErrorKind::NoCredentials => "NoCredentials",
            StoreErrorKind::InvalidRange => "InvalidRange",
            StoreErrorKind::Other => "Unknown",
        }
    }
}

impl std::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store operation that failed: its kind, the provider's own code when there is one (an S3
/// error code, `HTTP 503` for an answer without one, `io` for a local error of no other kind),
/// and a message that says what to check. Shown as `CODE: message`, the kind standing in for a
/// missing code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.label())]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// The same error, with the provider's own code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The provider's code, else the kind's name.
    pub fn label(&self) -> &str {
        self.code.as_deref().unwrap_or(self.kind.as_str())
    }
}

#[async_trait]
pub trait BackupStore: Send + Sync {
    fn kind(&self) -> StoreKind;

    /// Where the store is, for messages (`local folder ./backups`, `s3://bucket`).
    fn describe(&self) -> String;

    /// The URI naming `key` in this store (`s3://bucket/key`, `file:///folder/key`), as the
    /// attestation names the backups it covers.
    fn uri(&self, key: &str) -> String;

    /// Every object whose key starts with `prefix`, in no particular order, one at a time.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>>;

    /// The object's metadata, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError>;

    /// Up to `len` bytes starting at `start` (fewer when the object is shorter).
    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError>;

    /// The whole object as a stream.
    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError>;

    /// The requests [`BackupStore::read`] has sent since the store was made, for a store whose
    /// one read can send several (S3's parallel ranged reads); `None` when every read is one
    /// request.
    fn reads_sent(&self) -> Option<u64> {
        None
    }

    /// Asks for a readable copy of an archived object, kept `request.days` days. Only S3 has
    /// such a request; the other stores refuse it.
    async fn request_restore(
        &self,
        key: &str,
        request: &crate::config::RestoreRequest,
    ) -> Result<RestoreRequested, StoreError> {
        let _ = request;
        Err(StoreError::new(
            StoreErrorKind::Other,
            format!(
                "{} has no restore request for archived objects ({key})",
                self.describe()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_header_says_whether_the_copy_is_ready_and_until_when() {
        assert_eq!(
            RestoreStatus::from_header(r#"ongoing-request="true""#),
            Some(RestoreStatus::InProgress)
        );
        assert_eq!(
            RestoreStatus::from_header(
                r#"ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT""#
            ),
            Some(RestoreStatus::Readable {
                expires: Some("Fri, 21 Dec 2012 00:00:00 GMT".into())
            })
        );
        assert_eq!(
            RestoreStatus::from_header(r#"ongoing-request="false""#),
            Some(RestoreStatus::Readable { expires: None })
        );
        assert_eq!(RestoreStatus::from_header("garbage"), None);
    }
}
