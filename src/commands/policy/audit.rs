//! `dr-action policy audit`: reads the live bucket's default encryption, versioning, public
//! access block and policy through the run's S3 client and hands them to
//! [`crate::policy::audit`], which decides. Exit 0 when every finding is ok, 1 when any falls
//! short (the JSON is written either way), 2 when there is nothing to audit (a local store) or
//! the bucket cannot be reached at all.
//!
//! A missing configuration (`NoSuchBucketPolicy`…) is a finding, and so is a refused read: an
//! auditor role without `s3:GetBucketPolicy` still learns about everything else.

use std::path::PathBuf;

use anyhow::Result;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::config::{self, StorageKind};
use crate::env::Env;
use crate::error::Outcome;
use crate::output::Sink;
use crate::policy::audit::{
    self, AuditReport, BucketState, DefaultEncryption, Expected, Fetched, PublicAccessBlock,
};
use crate::store::s3::{SdkFailure, classify};
use crate::store::{StoreError, StoreErrorKind};

/// What `policy audit` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// The bucket to audit instead of the config's.
    pub bucket: Option<String>,
    /// Where the JSON result goes.
    pub out: PathBuf,
    /// Where the SARIF log goes, when asked for.
    pub sarif: Option<PathBuf>,
}

pub async fn run(req: Request, env: &Env, sink: &dyn Sink) -> Result<Outcome> {
    let loaded = config::load_required(req.config.as_deref())?;
    let bucket = match (req.bucket, loaded.storage()) {
        (Some(b), _) if !b.trim().is_empty() => b,
        (Some(_), _) => anyhow::bail!("--bucket is empty"),
        (None, StorageKind::Bucket(b)) => b,
        (None, StorageKind::Local(path)) => anyhow::bail!(
            "{} uses the local store {}: a local folder has no encryption, versioning or bucket policy to audit; set storage.bucket, or pass --bucket NAME",
            loaded.path.display(),
            path.display()
        ),
        (None, StorageKind::Azure(a)) => anyhow::bail!(
            "{} uses the Azure container {}: the policy audit reads S3 bucket settings and is AWS-only; audit the container with Azure Policy / Defender for Storage, or pass --bucket NAME",
            loaded.path.display(),
            a.container
        ),
    };
    let expected = Expected {
        bucket: bucket.clone(),
        kms_key_arn: loaded.config.storage.kms_key_arn.clone(),
        prefixes: loaded
            .config
            .targets
            .iter()
            .map(|t| t.prefix.clone())
            .collect(),
    };
    let (client, conn) = crate::aws::connect_s3(loaded.config.aws.as_ref(), &bucket, env).await?;
    // The masks go out the moment the credentials exist, so the job log hides them from here on.
    sink.lines(&conn.masks);
    let state = fetch_state(&client, &bucket).await;
    if let Some(err) = unreachable_bucket(&state) {
        anyhow::bail!("cannot audit bucket `{bucket}`: {err}");
    }
    let report = audit::audit(&expected, &state);
    let out = req.out;
    crate::atomic::write_json(&out, &report)?;
    if let Some(path) = &req.sarif {
        let log = crate::formats::sarif::render(&report, &sarif_uri(&loaded.path))?;
        crate::atomic::write(path, log.as_bytes())?;
        sink.line(&format!("sarif: {}", path.display()));
    }
    sink.lines(&table(&report, &out));
    Ok(Outcome::checked(report.ok))
}

/// The config file as a SARIF location: relative to the working folder (the repository root
/// in a workflow), `/`-separated; an absolute path when it lies elsewhere.
fn sarif_uri(config: &std::path::Path) -> String {
    let cwd = std::env::current_dir().ok();
    let rel = cwd
        .as_deref()
        .and_then(|cwd| config.strip_prefix(cwd).ok())
        .unwrap_or(config);
    rel.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads the four settings; each read stands alone, so one refusal does not hide the others.
pub async fn fetch_state(client: &Client, bucket: &str) -> BucketState {
    let (encryption, versioning, public_access_block, policy) = tokio::join!(
        client.get_bucket_encryption().bucket(bucket).send(),
        client.get_bucket_versioning().bucket(bucket).send(),
        client.get_public_access_block().bucket(bucket).send(),
        client.get_bucket_policy().bucket(bucket).send(),
    );
    BucketState {
        encryption: fetched(encryption, |out| {
            let rule = out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first());
            let default = rule.and_then(|r| r.apply_server_side_encryption_by_default());
            DefaultEncryption {
                algorithm: default
                    .map(|d| d.sse_algorithm().as_str().to_string())
                    .unwrap_or_else(|| "none".into()),
                kms_key: default
                    .and_then(|d| d.kms_master_key_id())
                    .map(str::to_string),
                bucket_key: rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false),
            }
        }),
        versioning: fetched(versioning, |out| {
            out.status().map(|s| s.as_str().to_string())
        }),
        public_access_block: fetched(public_access_block, |out| {
            let c = out.public_access_block_configuration();
            let flag =
                |f: fn(&aws_sdk_s3::types::PublicAccessBlockConfiguration) -> Option<bool>| {
                    c.and_then(f).unwrap_or(false)
                };
            PublicAccessBlock {
                block_public_acls: flag(|c| c.block_public_acls()),
                ignore_public_acls: flag(|c| c.ignore_public_acls()),
                block_public_policy: flag(|c| c.block_public_policy()),
                restrict_public_buckets: flag(|c| c.restrict_public_buckets()),
            }
        }),
        policy: match fetched(policy, |out| out.policy().map(str::to_string)) {
            Fetched::Found(Some(text)) => Fetched::Found(text),
            Fetched::Found(None) | Fetched::Missing => Fetched::Missing,
            Fetched::Failed(err) => Fetched::Failed(err),
        },
    }
}

fn fetched<O, E, T>(
    result: Result<O, SdkError<E, HttpResponse>>,
    read: impl FnOnce(&O) -> T,
) -> Fetched<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(out) => Fetched::Found(read(&out)),
        Err(err) => {
            // "Not found" is the bucket having no such configuration (`NoSuchBucketPolicy`…).
            let SdkFailure { kind, code, detail } = classify(&err);
            if kind == StoreErrorKind::NotFound {
                return Fetched::Missing;
            }
            let message = err.message().map(str::to_string).unwrap_or(detail);
            Fetched::Failed(StoreError {
                kind,
                code,
                message,
            })
        }
    }
}

/// When every read failed the same way, and not by a refusal, the bucket itself is out of
/// reach (no such bucket, no network, no credentials): there is nothing to report on.
fn unreachable_bucket(state: &BucketState) -> Option<String> {
    let failures = [
        failure(&state.encryption),
        failure(&state.versioning),
        failure(&state.public_access_block),
        failure(&state.policy),
    ];
    let first = failures[0]?;
    let same = failures
        .iter()
        .all(|f| f.is_some_and(|f| f.label() == first.label()));
    (same && first.kind != StoreErrorKind::AccessDenied)
        .then(|| format!("{} ({})", first.message, first.label()))
}

fn failure<T>(f: &Fetched<T>) -> Option<&StoreError> {
    match f {
        Fetched::Failed(err) => Some(err),
        _ => None,
    }
}

/// `policy audit of s3://B: 2 of 7 findings fall short — report F`, then one line per finding.
fn table(report: &AuditReport, out: &std::path::Path) -> Vec<String> {
    let short = report.findings.iter().filter(|f| !f.ok).count();
    let verdict = if report.ok {
        "ok".to_string()
    } else {
        format!("{short} of {} findings fall short", report.findings.len())
    };
    let width = report
        .findings
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    let mut lines = vec![format!(
        "policy audit of s3://{}: {verdict} — report {}",
        report.bucket,
        out.display()
    )];
    lines.extend(report.findings.iter().map(|f| {
        format!(
            "  {} {:width$}  {}",
            if f.ok { "ok  " } else { "FAIL" },
            f.name,
            f.detail
        )
    }));
    lines
}
