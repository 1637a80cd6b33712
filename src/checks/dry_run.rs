//! The dry-run checks: listing, freshness, size, encryption, format, checksum and retention.
//! One pass over the listing keeps only what the checks need (the six newest objects and the
//! days inside the retention window), so memory grows with the retention slots, not with the
//! number of objects. Weekly reads only metadata and the first bytes; monthly (`deep`)
//! streams the newest backup once, hashing and decompressing it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;

use super::format::{self, Compression, Content};
use super::retention;
use super::stream;
use crate::aws::arn::KmsKeyArn;
use crate::config::{ChecksumMode, Retention, Target};
use crate::report::Check;
use crate::report::{Latest, TargetReport};
use crate::store::{BackupStore, ObjectHead, ObjectMeta, StoreError, StoreKind};
use crate::units::{short_duration, short_size};

/// How many of the newest objects the listing keeps: the newest and the five before it.
const KEEP_NEWEST: usize = 6;
/// How many bytes the format check reads from the start of the object.
const HEAD_BYTES: u64 = 64 * 1024;
/// The largest sidecar read; a `sha256sum` line is under 1 KiB.
const SIDECAR_MAX: u64 = 4096;

/// What the checks of one run share.
pub struct CheckContext<'a> {
    pub store: &'a dyn BackupStore,
    pub now: DateTime<Utc>,
    /// Monthly: read the whole newest object (hash + decompress).
    pub deep: bool,
    pub kms_key_arn: Option<&'a str>,
}

/// The listing, folded: what the checks need from it and nothing more.
#[derive(Debug, Default)]
pub struct ListingSummary {
    pub scanned: u64,
    pub matched: u64,
    /// Newest first, at most [`KEEP_NEWEST`].
    pub newest: Vec<ObjectMeta>,
    /// Days (UTC) inside the retention window that hold at least one backup.
    pub days: BTreeSet<NaiveDate>,
}

impl ListingSummary {
    fn add(&mut self, obj: ObjectMeta, window_start: Option<NaiveDate>) {
        self.matched += 1;
        let day = obj.last_modified.date_naive();
        if window_start.is_some_and(|start| day >= start) {
            self.days.insert(day);
        }
        let rank = |o: &ObjectMeta| (o.last_modified, o.key.clone());
        let pos = self.newest.partition_point(|o| rank(o) > rank(&obj));
        if pos < KEEP_NEWEST {
            self.newest.insert(pos, obj);
            self.newest.truncate(KEEP_NEWEST);
        }
    }
}

/// Whether a key is a backup of the target: its last segment matches the glob, and it is not a
/// sidecar or a folder marker.
pub struct KeyFilter {
    matcher: globset::GlobMatcher,
    wants_sidecars: bool,
}

impl KeyFilter {
    pub fn new(pattern: &str) -> Result<Self, globset::Error> {
        Ok(KeyFilter {
            matcher: globset::Glob::new(pattern)?.compile_matcher(),
            wants_sidecars: pattern.ends_with(".sha256"),
        })
    }

    pub fn matches(&self, key: &str) -> bool {
        if key.ends_with('/') || (!self.wants_sidecars && key.ends_with(".sha256")) {
            return false;
        }
        let last = key.rsplit('/').next().unwrap_or(key);
        self.matcher.is_match(last)
    }
}

/// Lists `prefix` once and folds it.
pub async fn summarize_listing(
    store: &dyn BackupStore,
    prefix: &str,
    filter: &KeyFilter,
    window_start: Option<NaiveDate>,
) -> Result<ListingSummary, StoreError> {
    let mut summary = ListingSummary::default();
    let mut objects = store.list(prefix);
    while let Some(obj) = objects.next().await {
        let obj = obj?;
        summary.scanned += 1;
        if filter.matches(&obj.key) {
            summary.add(obj, window_start);
        }
    }
    Ok(summary)
}

/// Runs every dry-run check of one target against `prefix` (the target's, or chaos's).
pub async fn check_target(target: &Target, prefix: &str, ctx: &CheckContext<'_>) -> TargetReport {
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
    let summary = match summarize_listing(ctx.store, prefix, &filter, window).await {
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
                "{} backups match `{}` under `{prefix}`",
                summary.matched, target.pattern
            ),
        ),
        freshness(age, target),
        size(&summary.newest, target),
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

    let (format_check, compression) = format_check(ctx.store, &newest.key, target).await;
    let drained = match (ctx.deep, compression) {
        (true, Some(c)) => Some(read_whole(ctx.store, &newest.key, c).await),
        _ => None,
    };
    checks.push(deepen_format(format_check, drained.as_ref()));
    let head = head.as_ref().ok().and_then(|h| h.as_ref());
    let stored_sha = head.and_then(|h| h.sha256.clone());
    let no_stored_sha = why_no_stored_sha256(ctx.store.kind(), head);
    checks.push(
        checksum(
            ctx.store,
            &newest.key,
            target.checksum,
            (stored_sha, &no_stored_sha),
            drained.as_ref(),
        )
        .await,
    );

    if let Some(policy) = &target.retention {
        checks.push(retention_check(policy, today, &summary.days));
    }
    TargetReport::new(&target.name, Some(latest), checks)
}

fn freshness(age: u64, target: &Target) -> Check {
    let ok = age <= target.rpo.secs();
    let detail = if ok {
        format!("newest is {} old (rpo {})", short_duration(age), target.rpo)
    } else {
        format!(
            "newest is {} old, older than the rpo of {}",
            short_duration(age),
            target.rpo
        )
    };
    Check::new("freshness", ok, detail)
}

/// The newest must reach `min-size` and not fall below half the median of the previous five.
fn size(newest_first: &[ObjectMeta], target: &Target) -> Check {
    let newest = newest_first[0].size;
    if let Some(min) = &target.min_size
        && newest < min.bytes
    {
        return Check::fail(
            "size",
            format!("newest is {}, below min-size {min}", short_size(newest)),
        );
    }
    let mut previous: Vec<u64> = newest_first[1..].iter().map(|o| o.size).collect();
    if previous.is_empty() {
        return Check::pass(
            "size",
            format!(
                "newest is {} (no earlier backup to compare)",
                short_size(newest)
            ),
        );
    }
    previous.sort_unstable();
    let median = median(&previous);
    let n = previous.len();
    if (newest as f64) < median / 2.0 {
        return Check::fail(
            "size",
            format!(
                "newest is {}, less than half the median of the previous {n} ({}): a sudden shrink",
                short_size(newest),
                short_size(median as u64)
            ),
        );
    }
    Check::pass(
        "size",
        format!(
            "newest is {} (median of the previous {n}: {})",
            short_size(newest),
            short_size(median as u64)
        ),
    )
}

fn median(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// `aws:kms` is required on S3, and the exact key when the config names one.
pub fn encryption(kind: StoreKind, head: &ObjectHead, want_key: Option<&str>) -> Check {
    if kind == StoreKind::Local {
        return Check::pass("encryption", "not applicable: local store");
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

/// Whether the key S3 reports is the configured one (validated with the config, so a value
/// that does not parse can only be a mismatch).
fn names_the_key(want: &str, reported: &str) -> bool {
    KmsKeyArn::parse(want).is_ok_and(|want| want.is_named_by(reported))
}

/// Reads the first bytes: compression, then content. Returns the compression when recognised.
async fn format_check(
    store: &dyn BackupStore,
    key: &str,
    target: &Target,
) -> (Check, Option<Compression>) {
    let head = match store.read_range(key, 0, HEAD_BYTES).await {
        Ok(h) => h,
        Err(e) => {
            return (
                Check::fail(
                    "format",
                    format!("reading the first bytes of {key} failed: {e}"),
                ),
                None,
            );
        }
    };
    let compression = Compression::detect(&head);
    if let Some(promised) = Compression::from_key(key)
        && promised != compression
    {
        let detail = format!(
            "the key says {} but the bytes are {}",
            promised.name(),
            compression.name()
        );
        return (Check::fail("format", detail), None);
    }
    let content = match compression {
        Compression::None => head,
        c => stream::decompress_prefix(head, c, 4096).await,
    };
    let found = Content::detect(&content);
    let check = match format::matches(target.format, found) {
        Ok(()) => Check::pass(
            "format",
            format!("{}, {}", compression.name(), found.name()),
        ),
        Err(e) => Check::fail("format", format!("{}: {e}", compression.name())),
    };
    (check, Some(compression))
}

async fn read_whole(
    store: &dyn BackupStore,
    key: &str,
    compression: Compression,
) -> Result<stream::Drained, StoreError> {
    let reader = store.read(key).await?;
    Ok(stream::drain(reader, compression).await)
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
                    "{}; decompression failed after {} of {} read: {err}",
                    check.detail,
                    short_size(d.content_bytes),
                    short_size(d.stored_bytes)
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

/// Parses a `sha256sum` line (`<hex>  name` or `<hex> *name`) or a bare hex digest.
pub fn parse_sidecar(text: &str) -> Option<String> {
    let token = text.split_whitespace().next()?;
    let valid = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| token.to_ascii_lowercase())
}

pub async fn read_sidecar(store: &dyn BackupStore, key: &str) -> Result<String, String> {
    let sidecar = format!("{key}.sha256");
    match store.head(&sidecar).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(format!("sidecar {sidecar} is missing")),
        Err(e) => return Err(format!("HEAD {sidecar} failed: {e}")),
    }
    let bytes = store
        .read_range(&sidecar, 0, SIDECAR_MAX)
        .await
        .map_err(|e| format!("reading {sidecar} failed: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_sidecar(&text)
        .ok_or_else(|| format!("sidecar {sidecar} holds no SHA-256 in sha256sum format"))
}

fn short_hash(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Why a HEAD carries no whole-object SHA-256, for the checksum check's detail.
fn why_no_stored_sha256(kind: StoreKind, head: Option<&ObjectHead>) -> String {
    match (kind, head.and_then(|h| h.sha256_composite.as_deref())) {
        (StoreKind::Local, _) => "this store keeps no checksum of its own".into(),
        (StoreKind::S3, Some(c)) => format!(
            "S3 keeps only a multipart composite checksum ({c}), a hash of the parts' hashes, not a SHA-256 of the whole object"
        ),
        (StoreKind::S3, None) => "the object was stored without a SHA-256 checksum".into(),
    }
}

async fn checksum(
    store: &dyn BackupStore,
    key: &str,
    mode: ChecksumMode,
    (stored, no_stored_why): (Option<String>, &str),
    drained: Option<&Result<stream::Drained, StoreError>>,
) -> Check {
    const NAME: &str = "checksum";
    let expected = match mode {
        ChecksumMode::None => return Check::pass(NAME, "not configured (checksum: none)"),
        ChecksumMode::Sidecar => match read_sidecar(store, key).await {
            Ok(h) => h,
            Err(e) => return Check::fail(NAME, e),
        },
        ChecksumMode::S3 => match &stored {
            Some(h) => h.clone(),
            None => {
                return Check::fail(
                    NAME,
                    format!(
                        "{key} has no stored SHA-256: {no_stored_why} (upload it with a full-object SHA-256 checksum, or use checksum: sidecar)"
                    ),
                );
            }
        },
    };
    let source = if mode == ChecksumMode::S3 {
        "the stored SHA-256"
    } else {
        "the sidecar"
    };
    match drained {
        Some(Ok(d)) if d.sha256 == expected => Check::pass(
            NAME,
            format!(
                "sha256 {} matches {source} (whole object read: {})",
                short_hash(&d.sha256),
                short_size(d.stored_bytes)
            ),
        ),
        Some(Ok(d)) => Check::fail(
            NAME,
            format!(
                "sha256 of the object is {}, {source} says {}",
                d.sha256, expected
            ),
        ),
        Some(Err(e)) => Check::fail(NAME, format!("reading {key} to hash it failed: {e}")),
        None => match (&stored, mode) {
            (Some(s), ChecksumMode::Sidecar) if *s == expected => Check::pass(
                NAME,
                format!(
                    "the store's SHA-256 {} matches the sidecar (not downloaded)",
                    short_hash(s)
                ),
            ),
            (Some(s), ChecksumMode::Sidecar) => Check::fail(
                NAME,
                format!("the store's SHA-256 is {s}, the sidecar says {expected}"),
            ),
            (_, ChecksumMode::S3) => Check::pass(
                NAME,
                format!(
                    "stored SHA-256 {} present; the monthly check hashes the content",
                    short_hash(&expected)
                ),
            ),
            _ => Check::pass(
                NAME,
                format!(
                    "sidecar present (sha256 {}); {no_stored_why}, so the monthly check hashes the content",
                    short_hash(&expected)
                ),
            ),
        },
    }
}

fn retention_check(policy: &Retention, today: NaiveDate, days: &BTreeSet<NaiveDate>) -> Check {
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
    use chrono::TimeZone;

    fn obj(key: &str, size: u64, day: u32) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            last_modified: Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_listing_keeps_only_the_six_newest() {
        let mut s = ListingSummary::default();
        for day in [3, 9, 1, 7, 5, 2, 8, 4, 6] {
            s.add(obj(&format!("k{day}"), 10, day), None);
        }
        let keys: Vec<_> = s.newest.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["k9", "k8", "k7", "k6", "k5", "k4"]);
        assert_eq!(s.matched, 9);
        assert!(s.days.is_empty());
    }

    #[test]
    fn key_filter_matches_the_last_segment_and_skips_sidecars() {
        let f = KeyFilter::new("*.dump.gz").unwrap();
        assert!(f.matches("pwm/orders/2026-11-22.dump.gz"));
        assert!(!f.matches("pwm/orders/2026-11-22.dump.gz.sha256"));
        assert!(!f.matches("pwm/orders.dump.gz/"));
        let all = KeyFilter::new("*").unwrap();
        assert!(!all.matches("a/b.sha256"));
        assert!(all.matches("a/b"));
    }

    #[test]
    fn a_sudden_shrink_fails_the_size_check() {
        let target: Target =
            serde_norway::from_str("name: t\nformat: file\nrpo: 1d\nmin-size: 1KiB").unwrap();
        let history = |newest: u64| {
            let mut v = vec![obj("new", newest, 9)];
            v.extend(
                [100_000, 110_000, 90_000, 105_000, 95_000]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| obj("old", *s, 8 - i as u32)),
            );
            v
        };
        let c = size(&history(49_000), &target);
        assert!(!c.ok && c.detail.contains("sudden shrink"), "{c:?}");
        let c = size(&history(51_000), &target);
        assert!(c.ok, "{c:?}");
        let c = size(&[obj("only", 500, 9)], &target);
        assert!(!c.ok && c.detail.contains("below min-size 1KiB"), "{c:?}");
    }

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

    #[test]
    fn sidecars_in_sha256sum_format_parse() {
        let h = "a".repeat(64);
        assert_eq!(parse_sidecar(&format!("{h}  backup.gz\n")), Some(h.clone()));
        assert_eq!(
            parse_sidecar(&format!("{} *backup.gz", h.to_uppercase())),
            Some(h.clone())
        );
        assert_eq!(parse_sidecar(&h), Some(h));
        assert_eq!(parse_sidecar("not a hash  backup.gz"), None);
        assert_eq!(parse_sidecar(""), None);
    }
}
