//! The dry-run checks: listing, freshness, size, encryption, restorable (when the store reports
//! a storage class), format, checksum and retention.
//! One pass over the listing keeps only what the checks need (the six newest objects and the
//! days inside the retention window), so memory grows with the retention slots, not with the
//! number of objects. Weekly reads only metadata and the first bytes; monthly (`deep`)
//! streams the newest backup once, hashing and decompressing it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::archive;
use super::format;
use super::layers::{self, Keys};
use super::listing::{KeyFilter, summarize_listing_keeping};
use super::retention;
use super::stream;
use super::verdicts;
use super::verify::{self, VerifyContext};
use super::whole::{checksum, read_raw, read_whole, why_no_stored_sha256};
use crate::aws::arn::KmsKeyArn;
use crate::config::{ChecksumMode, Retention, Target};
use crate::report::Check;
use crate::report::{Evidence, Latest, TargetReport};
use crate::store::{BackupStore, ObjectHead, ObjectMeta, StoreError, StoreKind};
use crate::units::short_size;

/// How many bytes the format check reads from the start of the object.
const HEAD_BYTES: u64 = 64 * 1024;
/// What the checks of one run share.
pub struct CheckContext<'a> {
    pub store: &'a dyn BackupStore,
    pub now: DateTime<Utc>,
    /// Monthly: read the whole newest object (hash + decompress).
    pub deep: bool,
    pub kms_key_arn: Option<&'a str>,
    /// Where a long deep read says how far it got (objects done of the run's selection).
    pub progress: &'a dyn crate::output::Sink,
    /// The secrets the targets name (the keys of `encryption`), by variable.
    pub secrets: &'a std::collections::BTreeMap<String, secrecy::SecretString>,
    /// Monthly: the ledger and what the command line asked to deep-verify.
    pub verify: Option<VerifyContext<'a>>,
}

/// Runs every dry-run check of one target against `prefix` (the target's, or chaos's).
pub async fn check_target(target: &Target, prefix: &str, ctx: &CheckContext<'_>) -> TargetReport {
    // A backup kept as a folder of parts has its own checks (`checks::set`).
    if let Some(set) = &target.set {
        return super::set::check_target(target, set, prefix, ctx).await;
    }
    let filter = match KeyFilter::new(&target.pattern) {
        Ok(f) => f,
        Err(e) => {
            let check = Check::fail("listing", format!("bad match glob: {e}"));
            return TargetReport::new(&target.name, None, vec![check]);
        }
    };
    let today = ctx.now.date_naive();
    let window = target
        .retention
        .as_ref()
        .map(|r| retention::window_start(r, today));
    let where_ = format!("{} under `{prefix}`", ctx.store.describe());
    let settings = match (ctx.deep, &ctx.verify) {
        (true, Some(v)) => v.settings(target).map(|s| (v, s)),
        _ => None,
    };
    let keep_all = settings.is_some();
    let listed = summarize_listing_keeping(ctx.store, prefix, &filter, window, keep_all).await;
    let summary = match listed {
        Ok(s) => s,
        Err(e) => {
            let checks = vec![
                Check::fail("listing", format!("cannot list {where_}: {e}")),
                Check::fail("freshness", "no backup could be listed"),
            ];
            return TargetReport::new(&target.name, None, checks);
        }
    };
    let Some(newest) = summary.newest.first().cloned() else {
        let checks = vec![
            Check::fail(
                "listing",
                format!(
                    "no key matching `{}` in {where_} ({} other objects)",
                    target.pattern, summary.scanned
                ),
            ),
            Check::fail("freshness", "no backup found"),
        ];
        return TargetReport::new(&target.name, None, checks);
    };

    let age = (ctx.now - newest.last_modified).num_seconds().max(0) as u64;
    let latest = Latest {
        key: newest.key.clone(),
        size: newest.size,
        last_modified: newest.last_modified,
        age_seconds: age,
    };
    let mut checks = vec![
        Check::pass(
            "listing",
            format!(
                "{} match `{}` under `{prefix}`",
                crate::units::count(summary.matched, "backup"),
                target.pattern
            ),
        ),
        verdicts::rpo("freshness", "newest", age, target),
        verdicts::size(&summary.newest, target),
    ];

    let head = ctx.store.head(&newest.key).await;
    checks.push(match &head {
        Ok(Some(h)) => encryption(ctx.store.kind(), h, ctx.kms_key_arn),
        Ok(None) => Check::fail(
            "encryption",
            format!("{} vanished after listing", newest.key),
        ),
        Err(e) => Check::fail("encryption", format!("HEAD {} failed: {e}", newest.key)),
    });
    // An archived newest backup cannot be restored as it is; say so before the reads fail.
    if let Ok(Some(h)) = &head {
        checks.extend(archive::restorable(&newest.key, &archive::access(h)));
    }

    // Monthly with `verify:`: the ledger's selection decides whether the newest is read again.
    let rolling = settings.map(|(v, s)| {
        let all = summary.all.as_deref().unwrap_or_default();
        verify::Rolling::new(target, v, s, all, (prefix, window), ctx.now)
    });
    let proven_newest = rolling.as_ref().and_then(|r| r.proven(&newest));
    let read_newest = rolling.as_ref().is_none_or(|r| r.reads(&newest));
    let keys = layers::keys(target, ctx.secrets);
    let (format_check, readable) = format_check(ctx.store, &newest, target, &keys).await;
    let drained = match ctx.deep && read_newest && readable {
        true => Some(read_whole(ctx.store, &newest, &keys).await),
        false => None,
    };
    checks.push(deepen_format(format_check, drained.as_ref()));
    // A local file is cheap to read: the weekly check hashes it against its sidecar too (raw
    // bytes only; whether the stream decompresses stays the monthly check's question).
    let hashed = match (&drained, ctx.store.kind(), target.checksum) {
        (None, StoreKind::Local, ChecksumMode::Sidecar) if read_newest => {
            Some(read_raw(ctx.store, &newest.key).await)
        }
        _ => None,
    };
    let drained = drained.or(hashed);
    let head = head.as_ref().ok().and_then(|h| h.as_ref());
    let stored_sha = head.and_then(|h| h.sha256.clone());
    let no_stored_sha = why_no_stored_sha256(ctx.store.kind(), head);
    let checksum_check = match &proven_newest {
        Some(p) => verify::proven_checksum(p),
        None => {
            checksum(
                ctx.store,
                &newest.key,
                target.checksum,
                (stored_sha, &no_stored_sha),
                drained.as_ref(),
            )
            .await
        }
    };
    checks.push(checksum_check);

    let verified = match (&drained, checks.last()) {
        (Some(Ok(d)), Some(c)) if c.ok && target.checksum != ChecksumMode::None => {
            Some(d.sha256.clone())
        }
        _ => proven_newest.as_ref().map(|p| p.sha256.clone()),
    };
    let verification = match rolling {
        Some(r) => {
            let newest_read = (drained.as_ref(), checks.as_slice());
            let (found, v) = r
                .finish(
                    (ctx.store, ctx.progress),
                    (target, &keys),
                    &newest,
                    newest_read,
                    ctx.now,
                )
                .await;
            checks.extend(found);
            Some(v)
        }
        None => None,
    };
    let mut evidence = Evidence {
        uri: Some(ctx.store.uri(&newest.key)),
        sha256: verified,
        objects: Some(summary.matched),
        bytes: Some(summary.matched_bytes),
        ..Evidence::default()
    };
    if let Some(policy) = &target.retention {
        checks.push(retention_check(policy, today, &summary.days));
        if let Ok(missing) = retention::missing_slots(policy, today, &summary.days) {
            let wanted =
                u64::from(policy.daily) + u64::from(policy.weekly) + u64::from(policy.monthly);
            let missed =
                (missing.daily.len() + missing.weekly.len() + missing.monthly.len()) as u64;
            evidence.retention_slots = Some(wanted);
            evidence.retention_filled = Some(wanted.saturating_sub(missed));
        }
    }
    let mut report = TargetReport::new(&target.name, Some(latest), checks);
    report.evidence = evidence;
    report.verify = verification;
    report
}

/// `aws:kms` is required on S3, and the exact key when the config names one.
pub fn encryption(kind: StoreKind, head: &ObjectHead, want_key: Option<&str>) -> Check {
    if kind == StoreKind::Local {
        return Check::pass("encryption", "not applicable: local store");
    }
    if kind == StoreKind::Azure {
        return azure_encryption(head);
    }
    let sse = head.sse.as_deref().unwrap_or("none");
    if sse != "aws:kms" {
        return Check::fail(
            "encryption",
            format!("ServerSideEncryption is {sse}, expected aws:kms"),
        );
    }
    let actual = head.kms_key_id.as_deref();
    match (want_key, actual) {
        (None, Some(key)) => Check::pass("encryption", format!("aws:kms with key {key}")),
        (None, None) => Check::pass("encryption", "aws:kms"),
        (Some(want), Some(key)) if names_the_key(want, key) => Check::pass(
            "encryption",
            format!("aws:kms with the expected key {want}"),
        ),
        (Some(want), Some(key)) => Check::fail(
            "encryption",
            format!("aws:kms with key {key}, expected {want}"),
        ),
        (Some(want), None) => Check::fail(
            "encryption",
            format!("aws:kms but the store does not say which key; expected {want}"),
        ),
    }
}

/// Azure encrypts every blob at rest; what a HEAD can prove is that the service says so
/// (`x-ms-server-encrypted`), and with which encryption scope or customer-provided key.
fn azure_encryption(head: &ObjectHead) -> Check {
    match (head.sse.as_deref(), head.kms_key_id.as_deref()) {
        (Some(sse), Some(scope)) => Check::pass("encryption", format!("{sse} at rest, {scope}")),
        (Some(sse), None) => Check::pass(
            "encryption",
            format!("{sse} at rest with the account's key (no encryption scope)"),
        ),
        (None, _) => Check::fail(
            "encryption",
            "the service does not confirm the blob is encrypted at rest (x-ms-server-encrypted is not true)",
        ),
    }
}

/// Whether the key S3 reports is the configured one (validated with the config, so a value
/// that does not parse can only be a mismatch).
fn names_the_key(want: &str, reported: &str) -> bool {
    KmsKeyArn::parse(want).is_ok_and(|want| want.is_named_by(reported))
}

/// Reads the first bytes: encryption, compression, then content. Returns whether the object
/// can be read through its layers (a deep read makes sense).
async fn format_check(
    store: &dyn BackupStore,
    object: &ObjectMeta,
    target: &Target,
    keys: &Keys,
) -> (Check, bool) {
    let key = &object.key;
    let head = match store
        .read_range(key, 0, layers::head_bytes(keys, HEAD_BYTES))
        .await
    {
        Ok(h) => h,
        Err(e) => {
            return (
                Check::fail(
                    "format",
                    format!("reading the first bytes of {key} failed: {e}"),
                ),
                false,
            );
        }
    };
    let peeled = match layers::peel(key, &head, object.size, keys) {
        Ok(p) => p,
        Err(why) => return (Check::fail("format", why), false),
    };
    let check = match format::verify(target.format, &peeled.content) {
        Ok(found) => Check::pass("format", format!("{}, {}", peeled.layers(), found.name())),
        Err(e) => Check::fail("format", format!("{}: {e}", peeled.layers())),
    };
    (check, true)
}

/// Monthly: the format check also says whether the whole stream decompresses.
fn deepen_format(check: Check, drained: Option<&Result<stream::Drained, StoreError>>) -> Check {
    match drained {
        None => check,
        Some(Err(e)) => Check::fail(
            "format",
            format!("{}; reading the whole object failed: {e}", check.detail),
        ),
        Some(Ok(d)) => match &d.error {
            Some(err) => Check::fail(
                "format",
                format!(
                    "{}; decompression failed after reading {} stored ({} unpacked): {err}",
                    check.detail,
                    short_size(d.stored_bytes),
                    short_size(d.content_bytes)
                ),
            ),
            None => Check::new(
                "format",
                check.ok,
                format!(
                    "{}; whole stream intact ({} unpacked)",
                    check.detail,
                    short_size(d.content_bytes)
                ),
            ),
        },
    }
}

pub fn retention_check(policy: &Retention, today: NaiveDate, days: &BTreeSet<NaiveDate>) -> Check {
    match retention::missing_slots(policy, today, days) {
        Ok(missing) => Check::new(
            "retention",
            missing.is_empty(),
            retention::describe(policy, &missing),
        ),
        Err(e) => Check::fail("retention", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_requires_kms_and_the_configured_key() {
        let arn = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222";
        let head = |sse: Option<&str>, key: Option<&str>| ObjectHead {
            sse: sse.map(Into::into),
            kms_key_id: key.map(Into::into),
            ..ObjectHead::default()
        };
        assert!(encryption(StoreKind::S3, &head(Some("aws:kms"), Some(arn)), Some(arn)).ok);
        assert!(
            encryption(
                StoreKind::S3,
                &head(Some("aws:kms"), Some("1111-2222")),
                Some(arn)
            )
            .ok
        );
        let c = encryption(StoreKind::S3, &head(Some("AES256"), None), Some(arn));
        assert_eq!(c.detail, "ServerSideEncryption is AES256, expected aws:kms");
        let other = "arn:aws:kms:eu-west-1:123456789012:key/9999";
        assert!(
            !encryption(
                StoreKind::S3,
                &head(Some("aws:kms"), Some(other)),
                Some(arn)
            )
            .ok
        );
        let other_account = "arn:aws:kms:eu-west-1:999999999999:key/1111-2222";
        assert!(
            !encryption(
                StoreKind::S3,
                &head(Some("aws:kms"), Some(other_account)),
                Some(arn)
            )
            .ok
        );
        assert!(encryption(StoreKind::Local, &head(None, None), Some(arn)).ok);
    }
}
