//! A bucket in S3 or an S3-compatible store, read through `aws_sdk_s3` with a client built once in
//! the command layer (see [`crate::aws`]). The listing walks ListObjectsV2 one page (at most 1,000
//! keys) at a time, so memory stays flat however many objects the prefix holds. HEAD asks for the
//! stored checksum; S3 sends it as base64 and this store hands it on as hex, but only when it is a
//! SHA-256 of the whole object (a multipart upload's composite checksum, `xxx-3`, is not).
//!
//! Every SDK error becomes a [`StoreError`] in one place, [`classify`]: a kind callers branch on
//! (`NotFound`, `Throttled`, `Unreachable`…), S3's own code kept for display (`NoSuchBucket`,
//! `SlowDown`…), and a message that says what to check.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType, GlacierJobParameters, Tier};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::AsyncRead;

use crate::config::{ParallelReads, RestoreRequest};

use super::{
    BackupStore, ObjectHead, ObjectMeta, ObjectReader, RestoreRequested, RestoreStatus, StoreError,
    StoreErrorKind, StoreKind,
};

pub struct S3Store {
    client: Client,
    bucket: String,
    /// The custom endpoint, when there is one, for messages.
    endpoint: Option<String>,
    parallel: ParallelReads,
    /// The GETs `read` has sent: one, two, or one per part (each attempt of a part counts).
    reads_sent: Arc<AtomicU64>,
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>, endpoint: Option<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
            endpoint,
            parallel: ParallelReads::default(),
            reads_sent: Arc::default(),
        }
    }

    /// Reads large objects as ranged GETs, as `parallel` says (see [`S3Store::read`]).
    pub fn with_parallel_reads(mut self, parallel: ParallelReads) -> Self {
        self.parallel = parallel;
        self
    }

    /// One GET of `range` (or of the whole object), as a stream.
    async fn get(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StoreError> {
        let sent = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await;
        let err = match sent {
            Ok(out) => return Ok(out),
            Err(e) => e,
        };
        // An archived object answers `InvalidObjectState`; its class is in the answer, or else
        // in a HEAD, so the message can say which class and what to do.
        let class = match err.as_service_error() {
            Some(GetObjectError::InvalidObjectState(s)) => {
                Some(s.storage_class().map(|c| c.as_str().to_string()))
            }
            _ => None,
        };
        let error = self.error(err, Op::Get, key);
        match class {
            None => Err(error),
            Some(Some(class)) => Err(archived(error, &class)),
            Some(None) => {
                let head = self.head(key).await.ok().flatten();
                let class = head
                    .and_then(|h| h.storage_class)
                    .unwrap_or_else(|| "an archive storage class".to_string());
                Err(archived(error, &class))
            }
        }
    }

    /// The parts of `key` from `from` to `total`, in order. While the reader reads one part
    /// (at the start, the first part's own streamed GET), `in-flight - 1` more are fetched: at
    /// most `in-flight` GETs open, and as many parts in memory.
    fn parts_in_order(&self, key: &str, from: u64, total: u64) -> impl AsyncRead + Send + use<> {
        let part = self.parallel.part_size.bytes.max(1);
        let ahead = (self.parallel.in_flight as usize).saturating_sub(1).max(1);
        let ranges: Vec<(u64, u64)> = (0..)
            .map(|i| from + i * part)
            .take_while(|start| *start < total)
            .map(|start| (start, part.min(total - start)))
            .collect();
        let fetch = Part {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_string(),
            sent: self.reads_sent.clone(),
        };
        let parts = stream::iter(ranges)
            .map(move |(start, len)| {
                let fetch = fetch.clone();
                async move { fetch.get(start, len).await }
            })
            .buffered(ahead);
        // A task drives the GETs, so the next parts arrive while the consumer reads this one;
        // the channel holds one piece of a part more than those in flight.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(1);
        let task = tokio::spawn(async move {
            let mut parts = std::pin::pin!(parts);
            while let Some(part) = parts.next().await {
                match part {
                    Ok(pieces) => {
                        for piece in pieces {
                            if tx.send(Ok(piece)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        let guard = AbortOnDrop(task.abort_handle());
        let chunks = stream::poll_fn(move |cx| {
            let _held = &guard;
            rx.poll_recv(cx)
        });
        tokio_util::io::StreamReader::new(chunks)
    }

    fn where_(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("the S3 endpoint {e}"),
            None => "S3".to_string(),
        }
    }

    /// Turns an SDK error into a store error that names the operation, the object and what to do.
    fn error<E>(&self, err: SdkError<E, HttpResponse>, op: Op, key: &str) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let SdkFailure { kind, code, detail } = classify(&err);
        let shown = code.as_deref().unwrap_or(kind.as_str());
        let object = format!("s3://{}/{key}", self.bucket);
        let message = match kind {
            StoreErrorKind::NoSuchBucket => format!(
                "bucket `{}` does not exist at {}: check storage.bucket, aws.region and aws.endpoint",
                self.bucket,
                self.where_()
            ),
            StoreErrorKind::AccessDenied => format!(
                "{} {object} was refused: the credentials in use need {} on {}; check the role's policy, the bucket policy and the KMS key policy (policies/iam_role_policy.json)",
                op.name(),
                op.permission(),
                op.resource(&self.bucket, key)
            ),
            StoreErrorKind::Unreachable => format!(
                "cannot connect to {} for {} {object}: {detail}; check aws.endpoint / AWS_ENDPOINT_URL and the network",
                self.where_(),
                op.name()
            ),
            StoreErrorKind::Timeout => format!(
                "{} {object} got no answer from {} in time: {detail}",
                op.name(),
                self.where_()
            ),
            StoreErrorKind::Throttled => format!(
                "{} {object}: {} kept answering 503 ({shown}) after {} attempts; it is throttling, retry later or move the schedule",
                op.name(),
                self.where_(),
                crate::aws::MAX_ATTEMPTS
            ),
            StoreErrorKind::BadCredentials => {
                format!(
                    "{} {object} was refused ({shown}): the credentials are wrong or expired; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the assumed role, and aws.region",
                    op.name()
                )
            }
            StoreErrorKind::NoCredentials => format!(
                "{} {object}: no AWS credentials found: {detail}; in Actions set aws.role-arn (with `permissions: id-token: write`), elsewhere AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                op.name()
            ),
            StoreErrorKind::NotFound | StoreErrorKind::InvalidRange | StoreErrorKind::Other => {
                format!(
                    "{} {object} failed{}: {}",
                    op.name(),
                    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
                    err.message()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("no message from the server ({detail})"))
                )
            }
        };
        let error = StoreError::new(kind, message);
        match code {
            Some(code) => error.with_code(code),
            None => error,
        }
    }
}

/// The S3 operations this store makes, for messages.
#[derive(Clone, Copy)]
enum Op {
    List,
    Head,
    Get,
    Restore,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::List => "ListObjectsV2",
            Op::Head => "HeadObject",
            Op::Get => "GetObject",
            Op::Restore => "RestoreObject",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Op::List => "s3:ListBucket",
            Op::Head | Op::Get => "s3:GetObject (and kms:Decrypt on the object's key)",
            Op::Restore => "s3:RestoreObject",
        }
    }

    fn resource(self, bucket: &str, key: &str) -> String {
        match self {
            Op::List => format!("arn:aws:s3:::{bucket} (prefix `{key}`)"),
            Op::Head | Op::Get | Op::Restore => format!("arn:aws:s3:::{bucket}/{key}"),
        }
    }
}

/// A GET refused because the object is archived, said as such.
fn archived(error: StoreError, class: &str) -> StoreError {
    StoreError {
        message: format!(
            "{}: the object is in {class} and cannot be read until it is restored (hours); keep the newest backups in a readable class with a lifecycle rule, or set the target's `restore-request` so the quarterly restore asks for a copy first",
            error.message
        ),
        ..error
    }
}

/// What a failed SDK call was, in the store's terms.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SdkFailure {
    pub kind: StoreErrorKind,
    /// S3's own code, or `HTTP <status>` for an answer without one that has no kind of its own.
    pub code: Option<String>,
    /// The error's causes on one line.
    pub detail: String,
}

/// The one mapping of S3 SDK errors to store errors: no answer (`Timeout`, `Unreachable`), no
/// credentials, else S3's code, else the HTTP status of an answer without a body (HEAD).
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> SdkFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = causes(err);
    let no_answer = |kind| (kind, None);
    let (kind, code) = match err {
        SdkError::TimeoutError(_) => no_answer(StoreErrorKind::Timeout),
        SdkError::DispatchFailure(d) if d.is_timeout() => no_answer(StoreErrorKind::Timeout),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if mentions_credentials(&detail) =>
        {
            no_answer(StoreErrorKind::NoCredentials)
        }
        SdkError::DispatchFailure(_) => no_answer(StoreErrorKind::Unreachable),
        _ => match err.code() {
            Some(code) => (kind_of_code(code), Some(code.to_string())),
            None => kind_of_status(err.raw_response().map(|r| r.status().as_u16())),
        },
    };
    SdkFailure { kind, code, detail }
}

/// The kind of an S3 error code. The `NoSuch…Configuration` codes of the bucket reads the
/// policy audit makes are "not found" too: the bucket has no such setting.
fn kind_of_code(code: &str) -> StoreErrorKind {
    match code {
        "NoSuchBucket" => StoreErrorKind::NoSuchBucket,
        "AccessDenied" => StoreErrorKind::AccessDenied,
        "NotFound"
        | "NoSuchKey"
        | "NoSuchBucketPolicy"
        | "ServerSideEncryptionConfigurationNotFoundError"
        | "NoSuchPublicAccessBlockConfiguration" => StoreErrorKind::NotFound,
        "InvalidRange" => StoreErrorKind::InvalidRange,
        "SlowDown" | "ServiceUnavailable" => StoreErrorKind::Throttled,
        "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "ExpiredToken" | "InvalidToken" => {
            StoreErrorKind::BadCredentials
        }
        _ => StoreErrorKind::Other,
    }
}

/// The kind of an error answer without a code (HEAD has no body), and the status as its code
/// when the kind does not say it all.
fn kind_of_status(status: Option<u16>) -> (StoreErrorKind, Option<String>) {
    match status {
        Some(403) => (StoreErrorKind::AccessDenied, None),
        Some(404) => (StoreErrorKind::NotFound, None),
        Some(503) => (StoreErrorKind::Throttled, Some("HTTP 503".into())),
        Some(s) => (StoreErrorKind::Other, Some(format!("HTTP {s}"))),
        None => (StoreErrorKind::Other, None),
    }
}

/// The error and its sources, each once, joined by `: ` (`dispatch failure: io error: … Connection
/// refused`), without the debug dump `DisplayErrorContext` adds.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        // One line: the credential chain lists what it tried one per line.
        let text = e
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        if !text.is_empty() && !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn mentions_credentials(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("credentials") || d.contains("identity")
}

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or(DateTime::UNIX_EPOCH)
}

/// What HEAD's `x-amz-checksum-sha256` means: a whole-object SHA-256 (as hex), or a multipart
/// composite (a hash of the parts' hashes, `base64-N`), which no sidecar can equal.
#[derive(Debug, PartialEq, Eq)]
pub enum StoredSha256 {
    FullObject(String),
    Composite(String),
}

pub fn stored_sha256(value: &str, kind: Option<&ChecksumType>) -> Option<StoredSha256> {
    let composite = matches!(kind, Some(ChecksumType::Composite))
        || value
            .rsplit_once('-')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if composite {
        return Some(StoredSha256::Composite(value.to_string()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    (bytes.len() == 32).then(|| StoredSha256::FullObject(hex::encode(bytes)))
}

/// Where the listing is: the next page's token and what is left of the current page.
struct Pages {
    token: Option<String>,
    page: VecDeque<ObjectMeta>,
    done: bool,
}

#[async_trait]
impl BackupStore for S3Store {
    fn kind(&self) -> StoreKind {
        StoreKind::S3
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("s3://{} at {e}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>> {
        let start = Pages {
            token: None,
            page: VecDeque::new(),
            done: false,
        };
        stream::unfold(start, move |mut pages| async move {
            loop {
                if let Some(obj) = pages.page.pop_front() {
                    return Some((Ok(obj), pages));
                }
                if pages.done {
                    return None;
                }
                let sent = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(pages.token.take())
                    .send()
                    .await;
                let out = match sent {
                    Ok(out) => out,
                    Err(e) => {
                        pages.done = true;
                        return Some((Err(self.error(e, Op::List, prefix)), pages));
                    }
                };
                pages.token = out.next_continuation_token;
                pages.done = !out.is_truncated.unwrap_or(false) || pages.token.is_none();
                pages.page = out
                    .contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| {
                        Some(ObjectMeta {
                            size: o.size.unwrap_or(0).max(0) as u64,
                            last_modified: o
                                .last_modified
                                .as_ref()
                                .map(to_chrono)
                                .unwrap_or(DateTime::UNIX_EPOCH),
                            key: o.key?,
                        })
                    })
                    .collect();
            }
        })
        .boxed()
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        let sent = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let err = self.error(e, Op::Head, key);
                return match err.kind {
                    StoreErrorKind::NotFound => Ok(None),
                    _ => Err(err),
                };
            }
        };
        let stored = out
            .checksum_sha256()
            .and_then(|v| stored_sha256(v, out.checksum_type()));
        let (sha256, sha256_composite) = match stored {
            Some(StoredSha256::FullObject(h)) => (Some(h), None),
            Some(StoredSha256::Composite(c)) => (None, Some(c)),
            None => (None, None),
        };
        Ok(Some(ObjectHead {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            last_modified: out.last_modified().map(to_chrono),
            sha256,
            sha256_composite,
            sse: out.server_side_encryption().map(|s| s.as_str().to_string()),
            kms_key_id: out.ssekms_key_id().map(str::to_string),
            // S3 leaves the header out for STANDARD: no class means a readable one.
            storage_class: out.storage_class().map(|c| c.as_str().to_string()),
            restore: out.restore().and_then(RestoreStatus::from_header),
            ..ObjectHead::default()
        }))
    }

    async fn request_restore(
        &self,
        key: &str,
        request: &RestoreRequest,
    ) -> Result<RestoreRequested, StoreError> {
        let job = GlacierJobParameters::builder()
            .tier(Tier::from(request.tier.as_str()))
            .build()
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Other,
                    format!("RestoreObject s3://{}/{key}: {e}", self.bucket),
                )
            })?;
        let sent = self
            .client
            .restore_object()
            .bucket(&self.bucket)
            .key(key)
            .restore_request(
                aws_sdk_s3::types::RestoreRequest::builder()
                    .days(i32::try_from(request.days).unwrap_or(i32::MAX))
                    .glacier_job_parameters(job)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(_) => Ok(RestoreRequested::Started),
            // Asked for before (by an earlier run, or by hand): the copy is on its way.
            Err(e) if e.code() == Some("RestoreAlreadyInProgress") => {
                Ok(RestoreRequested::AlreadyInProgress)
            }
            Err(e) => Err(self.error(e, Op::Restore, key)),
        }
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes={start}-{}", start + len - 1);
        let out = match self.get(key, Some(range)).await {
            Ok(out) => out,
            // A range starting at or past the end (an empty object) is no bytes, not an error.
            Err(err) if err.kind == StoreErrorKind::InvalidRange => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let bytes = out.body.collect().await.map_err(|e| {
            StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "GetObject s3://{}/{key}: the body broke off: {e}",
                    self.bucket
                ),
            )
            .with_code("ReadError")
        })?;
        let mut bytes = bytes.to_vec();
        // A server that ignores Range sends the whole object; keep only what was asked for.
        bytes.truncate(len.min(usize::MAX as u64) as usize);
        Ok(bytes)
    }

    /// With parallel reads on (`in-flight` above 1), the first GET asks for the first part,
    /// and its answer says the object's size: an object of one part takes that one GET; one up
    /// to `threshold` one more GET for the rest, streamed; a larger one its remaining parts,
    /// `in-flight` at a time, put back in order.
    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError> {
        use tokio::io::AsyncReadExt;
        self.reads_sent.fetch_add(1, Ordering::Relaxed);
        if self.parallel.in_flight <= 1 {
            let out = self.get(key, None).await?;
            return Ok(ObjectReader::stream(out.body.into_async_read()));
        }
        let part = self.parallel.part_size.bytes.max(1);
        let first = match self.get(key, Some(format!("bytes=0-{}", part - 1))).await {
            Ok(out) => out,
            // A range of an empty object is refused: it has no bytes.
            Err(e) if e.kind == StoreErrorKind::InvalidRange => {
                return Ok(ObjectReader::stream(tokio::io::empty()));
            }
            Err(e) => return Err(e),
        };
        let total = first.content_range().and_then(total_size);
        let head = first.body.into_async_read();
        let Some(total) = total.filter(|t| *t > part) else {
            // One part, or a server that ignored the range and sent everything.
            return Ok(ObjectReader::stream(head));
        };
        if total <= self.parallel.threshold.bytes {
            self.reads_sent.fetch_add(1, Ordering::Relaxed);
            let rest = self.get(key, Some(format!("bytes={part}-"))).await?;
            return Ok(ObjectReader::stream(
                head.chain(rest.body.into_async_read()),
            ));
        }
        Ok(ObjectReader::stream(
            head.chain(self.parts_in_order(key, part, total)),
        ))
    }

    fn reads_sent(&self) -> Option<u64> {
        Some(self.reads_sent.load(Ordering::Relaxed))
    }
}

/// Ends the task that fetches the parts when the reader is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What one ranged GET needs, cheap to clone into each.
#[derive(Clone)]
struct Part {
    client: Client,
    bucket: String,
    key: String,
    sent: Arc<AtomicU64>,
}

impl Part {
    /// The bytes `start..start + len`, in the pieces they arrived in, retried as a whole when
    /// the answer breaks off or comes short (the SDK already retries a refused request, a 503
    /// included). The pieces are kept as they came: joining them would allocate a buffer of the
    /// part's size for each part, which the allocator keeps long after (the peak memory of a
    /// 400 MB read grew by half).
    async fn get(&self, start: u64, len: u64) -> std::io::Result<Vec<bytes::Bytes>> {
        let policy = crate::retry::RetryPolicy::new(
            crate::aws::MAX_ATTEMPTS,
            std::time::Duration::from_millis(200),
        );
        let what = format!(
            "GetObject s3://{}/{} bytes {start}+{len}",
            self.bucket, self.key
        );
        let attempt = || async {
            self.sent.fetch_add(1, Ordering::Relaxed);
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .range(format!("bytes={start}-{}", start + len - 1))
                .send()
                .await
                .map_err(|e| {
                    let SdkFailure { kind, code, detail } = classify(&e);
                    let err = StoreError::new(kind, detail);
                    match code {
                        Some(code) => err.with_code(code),
                        None => err,
                    }
                })?;
            let mut body = out.body;
            let (mut pieces, mut got) = (Vec::new(), 0u64);
            while let Some(piece) = body.next().await {
                let piece = piece.map_err(|e| {
                    StoreError::new(StoreErrorKind::Other, format!("the body broke off: {e}"))
                        .with_code("ReadError")
                })?;
                got += piece.len() as u64;
                if got > len {
                    return Err(StoreError::new(
                        StoreErrorKind::Other,
                        format!("more than the {len} bytes asked came back"),
                    ));
                }
                pieces.push(piece);
            }
            if got != len {
                return Err(StoreError::new(
                    StoreErrorKind::Other,
                    format!("{got} bytes came back for {len} asked"),
                ));
            }
            Ok(pieces)
        };
        let verdict = |e: &StoreError| match e.kind {
            StoreErrorKind::Other
            | StoreErrorKind::Throttled
            | StoreErrorKind::Timeout
            | StoreErrorKind::Unreachable => crate::retry::Verdict::Retry,
            _ => crate::retry::Verdict::GiveUp,
        };
        crate::retry::run(&policy, &what, attempt, verdict)
            .await
            .map_err(|f| {
                std::io::Error::other(format!(
                    "{what} failed after {} attempts: {}",
                    f.attempts, f.error
                ))
            })
    }
}

/// The object's size from a `Content-Range` answer (`bytes 0-99/1234`); `None` when unknown.
fn total_size(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_comes_from_the_content_range() {
        assert_eq!(total_size("bytes 0-8388607/1073741824"), Some(1 << 30));
        assert_eq!(total_size("bytes 0-99/*"), None);
        assert_eq!(total_size("garbage"), None);
    }

    #[test]
    fn a_full_object_sha256_is_handed_on_as_hex() {
        // sha256("hello"), as S3 sends it.
        let got = stored_sha256("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", None);
        assert_eq!(
            got,
            Some(StoredSha256::FullObject(
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into()
            ))
        );
        let full = Some(&ChecksumType::FullObject);
        assert!(matches!(
            stored_sha256("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", full),
            Some(StoredSha256::FullObject(_))
        ));
    }

    #[test]
    fn a_multipart_composite_checksum_is_not_a_sha256_of_the_object() {
        let v = "/agOvXgumZFNCnEj5RXbpyBQJQ+0n9btF5GDNQ+SO9A=-3";
        assert_eq!(
            stored_sha256(v, None),
            Some(StoredSha256::Composite(v.into()))
        );
        // Some servers drop the suffix but still say COMPOSITE.
        let bare = "/agOvXgumZFNCnEj5RXbpyBQJQ+0n9btF5GDNQ+SO9A=";
        assert_eq!(
            stored_sha256(bare, Some(&ChecksumType::Composite)),
            Some(StoredSha256::Composite(bare.into()))
        );
    }

    #[test]
    fn a_value_that_is_not_32_bytes_of_base64_is_ignored() {
        assert_eq!(stored_sha256("not base64!", None), None);
        assert_eq!(stored_sha256("aGVsbG8=", None), None);
    }

    #[test]
    fn bodiless_errors_get_a_kind_from_their_status() {
        use StoreErrorKind::*;
        assert_eq!(kind_of_status(Some(403)), (AccessDenied, None));
        assert_eq!(kind_of_status(Some(404)), (NotFound, None));
        assert_eq!(
            kind_of_status(Some(503)),
            (Throttled, Some("HTTP 503".into()))
        );
        assert_eq!(kind_of_status(Some(500)), (Other, Some("HTTP 500".into())));
        assert_eq!(kind_of_status(None), (Other, None));
    }

    #[test]
    fn s3_codes_map_to_the_kinds_callers_branch_on() {
        use StoreErrorKind::*;
        for (code, kind) in [
            ("NoSuchBucket", NoSuchBucket),
            ("NoSuchKey", NotFound),
            ("NotFound", NotFound),
            ("NoSuchBucketPolicy", NotFound),
            ("ServerSideEncryptionConfigurationNotFoundError", NotFound),
            ("NoSuchPublicAccessBlockConfiguration", NotFound),
            ("AccessDenied", AccessDenied),
            ("InvalidRange", InvalidRange),
            ("SlowDown", Throttled),
            ("ServiceUnavailable", Throttled),
            ("SignatureDoesNotMatch", BadCredentials),
            ("ExpiredToken", BadCredentials),
            ("InternalError", Other),
        ] {
            assert_eq!(kind_of_code(code), kind, "{code}");
        }
    }
}
