//! A container in Azure Blob Storage, read through Microsoft's `azure_storage_blob` with the one
//! container client of the run (built in [`crate::azure`]). The listing walks List Blobs one page
//! (at most 5,000 names) at a time, so memory stays flat however many blobs the prefix holds.
//! HEAD (Get Blob Properties) gives the size, the time, `Content-MD5` when the uploader set it,
//! the access tier (an `Archive` blob cannot be read until it is rehydrated) and how the blob is
//! encrypted at rest: Azure encrypts every blob (AES-256); the encryption scope names the key set
//! (a customer-managed key lives on the scope or the account, which a blob does not reveal).
//!
//! Every SDK error becomes a [`StoreError`] in one place, [`classify`]: a kind callers branch on,
//! Azure's own code kept for display (`ContainerNotFound`, `AuthenticationFailed`…).

use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders,
    BlobContainerClientListBlobsOptions, BlobItem,
};
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::{
    BackupStore, ObjectHead, ObjectMeta, ObjectReader, StoreError, StoreErrorKind, StoreKind,
};

/// A request is made 4 times in all when it gets no answer, a 5xx or a 429 (the SDK's policy,
/// set where the client is built, in `azure`).
pub const MAX_RETRIES: u32 = 3;

/// How [`crate::azure`] names SAS access, for messages.
pub const SAS: &str = "shared access signature";

pub struct AzureStore {
    client: BlobContainerClient,
    account: String,
    container: String,
    /// The blob service URL (no SAS), for messages and URIs.
    service: String,
    /// How requests are authorised, for messages (`shared access signature`…).
    auth: &'static str,
}

impl AzureStore {
    pub fn new(
        client: BlobContainerClient,
        account: &str,
        container: &str,
        service: &str,
        auth: &'static str,
    ) -> Self {
        AzureStore {
            client,
            account: account.to_string(),
            container: container.to_string(),
            service: service.to_string(),
            auth,
        }
    }

    fn error(&self, err: &azure_core::Error, op: Op, key: &str) -> StoreError {
        let Failure { kind, code, detail } = classify(err);
        let blob = format!("{}/{}/{key}", self.service, self.container);
        let message = match kind {
            StoreErrorKind::NoSuchBucket => format!(
                "container `{}` does not exist in account `{}` at {}: check storage.azure.container, account and endpoint",
                self.container, self.account, self.service
            ),
            StoreErrorKind::AccessDenied => format!(
                "{} {blob} was refused: the identity in use ({}) needs {} on the container; check its role assignment or the SAS permissions{}",
                op.name(),
                self.auth,
                op.permission(),
                if self.auth == SAS {
                    " (a SAS made from a wrong account key is refused the same way: check the account key / connection string)"
                } else {
                    ""
                }
            ),
            StoreErrorKind::BadCredentials => format!(
                "{} {blob} was refused ({}): the credentials ({}) are wrong or expired; check the account key / connection string, or the app registration's federated credential",
                op.name(),
                code.as_deref().unwrap_or("AuthenticationFailed"),
                self.auth
            ),
            StoreErrorKind::NoCredentials => format!(
                "{} {blob}: no Azure credentials: {detail}; in Actions set AZURE_CLIENT_ID and AZURE_TENANT_ID (with `permissions: id-token: write`), elsewhere storage.azure.connection-string-env / account-key-env or `az login`",
                op.name()
            ),
            StoreErrorKind::Unreachable => format!(
                "cannot connect to {} for {} {blob}: {detail}; check storage.azure.endpoint and the network",
                self.service,
                op.name()
            ),
            StoreErrorKind::Timeout => format!(
                "{} {blob} got no answer from {} in time: {detail}",
                op.name(),
                self.service
            ),
            StoreErrorKind::Throttled => format!(
                "{} {blob}: {} kept answering {} after {} attempts; it is throttling or unavailable, retry later or move the schedule",
                op.name(),
                self.service,
                code.as_deref().unwrap_or("503"),
                MAX_RETRIES + 1
            ),
            StoreErrorKind::Other if code.as_deref() == Some("BlobArchived") => format!(
                "{} {blob}: the blob is in the Archive tier and cannot be read; rehydrate it (Set Blob Tier to Hot or Cool, hours), or keep the newest backups in a readable tier with a lifecycle rule",
                op.name()
            ),
            StoreErrorKind::NotFound | StoreErrorKind::InvalidRange | StoreErrorKind::Other => {
                format!("{} {blob} failed: {detail}", op.name())
            }
        };
        let error = StoreError::new(kind, message);
        match code {
            Some(code) => error.with_code(code),
            None => error,
        }
    }

    fn blob(&self, key: &str) -> azure_storage_blob::BlobClient {
        self.client.blob_client(key)
    }
}

/// The Blob service operations this store makes, for messages.
#[derive(Clone, Copy)]
enum Op {
    List,
    Head,
    Get,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::List => "List Blobs",
            Op::Head => "Get Blob Properties",
            Op::Get => "Get Blob",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Op::List => "list (Storage Blob Data Reader, or SAS permission `l`)",
            Op::Head | Op::Get => "read (Storage Blob Data Reader, or SAS permission `r`)",
        }
    }
}

/// What a failed SDK call was, in the store's terms.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    kind: StoreErrorKind,
    /// Azure's own code (`x-ms-error-code`), or `HTTP <status>` for an answer without one.
    code: Option<String>,
    /// The error and its causes on one line.
    detail: String,
}

/// The one mapping of SDK errors to store errors.
fn classify(err: &azure_core::Error) -> Failure {
    let detail = causes(err);
    let (kind, code) = match err.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => match error_code.as_deref() {
            Some(code) => (kind_of_code(code, *status), Some(code.to_string())),
            None => kind_of_status(*status),
        },
        ErrorKind::Credential => (StoreErrorKind::NoCredentials, None),
        ErrorKind::Connection => (StoreErrorKind::Unreachable, None),
        ErrorKind::Io if detail.to_ascii_lowercase().contains("timed out") => {
            (StoreErrorKind::Timeout, None)
        }
        ErrorKind::Io => (StoreErrorKind::Unreachable, None),
        _ => (StoreErrorKind::Other, None),
    };
    Failure { kind, code, detail }
}

/// The kind of an Azure error code (`x-ms-error-code`, also sent on HEAD answers).
fn kind_of_code(code: &str, status: StatusCode) -> StoreErrorKind {
    match code {
        "ContainerNotFound" | "ContainerBeingDeleted" => StoreErrorKind::NoSuchBucket,
        "BlobNotFound" | "ResourceNotFound" => StoreErrorKind::NotFound,
        "AuthenticationFailed" | "InvalidAuthenticationInfo" | "NoAuthenticationInformation" => {
            StoreErrorKind::BadCredentials
        }
        "AuthorizationFailure"
        | "AuthorizationPermissionMismatch"
        | "AuthorizationResourceTypeMismatch"
        | "AuthorizationServiceMismatch"
        | "AuthorizationSourceIPMismatch"
        | "AuthorizationProtocolMismatch"
        | "InsufficientAccountPermissions" => StoreErrorKind::AccessDenied,
        "InvalidRange" => StoreErrorKind::InvalidRange,
        "ServerBusy" | "OperationTimedOut" | "InternalError" => StoreErrorKind::Throttled,
        _ => kind_of_status(status).0,
    }
}

/// The kind of an error answer without a code, and the status as its code when the kind does
/// not say it all.
fn kind_of_status(status: StatusCode) -> (StoreErrorKind, Option<String>) {
    match u16::from(status) {
        401 => (StoreErrorKind::BadCredentials, Some("HTTP 401".into())),
        403 => (StoreErrorKind::AccessDenied, None),
        404 => (StoreErrorKind::NotFound, None),
        416 => (StoreErrorKind::InvalidRange, None),
        429 | 503 => (StoreErrorKind::Throttled, Some(format!("HTTP {status}"))),
        s => (StoreErrorKind::Other, Some(format!("HTTP {s}"))),
    }
}

/// The error and its sources, each once, on one line.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("To troubleshoot"))
            .collect::<Vec<_>>()
            .join("; ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    redact_queries(&parts.join(": "))
}

/// The text with every URL's query removed: a request URL carries the SAS (`sig=…`), which
/// the SDK's errors quote.
fn redact_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>'))
            .unwrap_or(url.len());
        let (token, after) = url.split_at(end);
        match token.find('?') {
            Some(q) => {
                out.push_str(&token[..q]);
                out.push_str("?…");
            }
            None => out.push_str(token),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn to_chrono(t: azure_core::time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or(DateTime::UNIX_EPOCH)
}

/// A listed blob, when it has a name.
fn meta_of(item: BlobItem) -> Option<ObjectMeta> {
    let key = item.name?;
    let props = item.properties;
    Some(ObjectMeta {
        key,
        size: props.as_ref().and_then(|p| p.content_length).unwrap_or(0),
        last_modified: props
            .and_then(|p| p.last_modified)
            .map(to_chrono)
            .unwrap_or(DateTime::UNIX_EPOCH),
    })
}

/// The head of a blob from its properties. Azure encrypts every blob at rest with AES-256;
/// `sse` says so when the service confirms it (`x-ms-server-encrypted`), `kms_key_id` carries
/// the encryption scope, or the customer-provided key's SHA-256.
pub fn head_of(props: &impl BlobClientGetPropertiesResultHeaders) -> ObjectHead {
    let md5 = props.content_md5().ok().flatten().map(hex::encode);
    let scope = props.encryption_scope().ok().flatten();
    let cpk = props
        .encryption_key_sha256()
        .ok()
        .flatten()
        .map(|sha| format!("customer-provided key (SHA-256 {sha})"));
    let encrypted = props.is_server_encrypted().ok().flatten() == Some(true);
    ObjectHead {
        size: props.content_length().ok().flatten().unwrap_or(0),
        last_modified: props.last_modified().ok().flatten().map(to_chrono),
        sse: encrypted.then(|| "AES256".to_string()),
        kms_key_id: scope.map(|s| format!("encryption scope {s}")).or(cpk),
        storage_class: props.access_tier().ok().flatten(),
        md5,
        ..ObjectHead::default()
    }
}

#[async_trait]
impl BackupStore for AzureStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Azure
    }

    fn describe(&self) -> String {
        format!("Azure container {} at {}", self.container, self.service)
    }

    fn uri(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.service, self.container)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            ..Default::default()
        };
        let pages = match self.client.list_blobs(Some(options)) {
            Ok(pager) => pager.into_pages(),
            Err(e) => {
                return stream::once(async move { Err(self.error(&e, Op::List, prefix)) }).boxed();
            }
        };
        pages
            .map_err(move |e| self.error(&e, Op::List, prefix))
            .and_then(move |page| async move {
                let page = page
                    .into_model()
                    .map_err(|e| self.error(&e, Op::List, prefix))?;
                tracing::debug!(blobs = page.blob_items.len(), "List Blobs page");
                Ok(stream::iter(
                    page.blob_items.into_iter().filter_map(meta_of).map(Ok),
                ))
            })
            // The first error ends the listing: a half listing must not look complete.
            .scan(false, |failed, item| {
                let out = (!*failed).then_some(item);
                *failed = *failed || out.as_ref().is_some_and(|i| i.is_err());
                async move { out }
            })
            .try_flatten()
            .boxed()
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        match self.blob(key).get_properties(None).await {
            Ok(response) => Ok(Some(head_of(&response))),
            Err(e) => {
                let err = self.error(&e, Op::Head, key);
                match err.kind {
                    StoreErrorKind::NotFound => Ok(None),
                    _ => Err(err),
                }
            }
        }
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let options = BlobClientDownloadOptions {
            range: Some((start..start.saturating_add(len)).into()),
            parallel: Some(std::num::NonZero::<usize>::MIN),
            ..Default::default()
        };
        let result = match self.blob(key).download(Some(options)).await {
            Ok(r) => r,
            Err(e) => {
                let err = self.error(&e, Op::Get, key);
                // A range starting at or past the end (an empty blob) is no bytes, not an error.
                return match err.kind {
                    StoreErrorKind::InvalidRange => Ok(Vec::new()),
                    _ => Err(err),
                };
            }
        };
        let bytes = result.body.collect().await.map_err(|e| {
            StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "Get Blob {}: the body broke off: {}",
                    self.uri(key),
                    causes(&e)
                ),
            )
            .with_code("ReadError")
        })?;
        let mut bytes = bytes.to_vec();
        bytes.truncate(len.min(usize::MAX as u64) as usize);
        Ok(bytes)
    }

    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let result = self
            .blob(key)
            .download(None)
            .await
            .map_err(|e| self.error(&e, Op::Get, key))?;
        let body = result.body.map_err(|e| std::io::Error::other(causes(&e)));
        Ok(ObjectReader::stream(tokio_util::io::StreamReader::new(
            body,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sas_in_an_error_text_is_removed() {
        let text = "error sending request for url (http://h:1/a/c?comp=list&sig=S3CR%2BT&sv=1): refused; see https://x.example/doc";
        let shown = redact_queries(text);
        assert_eq!(
            shown,
            "error sending request for url (http://h:1/a/c?…): refused; see https://x.example/doc"
        );
    }

    #[test]
    fn azure_codes_map_to_the_kinds_callers_branch_on() {
        use StoreErrorKind::*;
        let s = |n: u16| StatusCode::from(n);
        for (code, status, kind) in [
            ("ContainerNotFound", 404, NoSuchBucket),
            ("BlobNotFound", 404, NotFound),
            ("AuthenticationFailed", 403, BadCredentials),
            ("AuthorizationPermissionMismatch", 403, AccessDenied),
            ("AuthorizationFailure", 403, AccessDenied),
            ("InvalidRange", 416, InvalidRange),
            ("ServerBusy", 503, Throttled),
            ("SomethingNew", 503, Throttled),
            ("SomethingElse", 400, Other),
        ] {
            assert_eq!(kind_of_code(code, s(status)), kind, "{code}");
        }
        assert_eq!(kind_of_status(s(404)), (NotFound, None));
        assert_eq!(kind_of_status(s(503)).0, Throttled);
        assert_eq!(kind_of_status(s(500)), (Other, Some("HTTP 500".into())));
    }
}
