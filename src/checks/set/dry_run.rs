//! The dry-run checks of a set target (weekly, and monthly with `deep`): `listing`, `set`,
//! `freshness`, `size`, `encryption`, a `part NAME` check per part of the newest folder, and
//! `retention`.

use super::{Part, Picked, latest, part_check_name, part_format, pick};
use crate::checks::archive;
use crate::checks::dry_run::{CheckContext, encryption, retention_check};
use crate::checks::format::{self, Content};
use crate::checks::layers::{self, Keys};
use crate::checks::whole::read_whole;
use crate::checks::{retention, verdicts};
use crate::config::{BackupFormat, BackupSet, Target};
use crate::report::{Check, Evidence, TargetReport};
use crate::store::{ObjectHead, ObjectMeta, StoreError, StoreKind};
use crate::units::short_size;

/// How many bytes the weekly check reads from the start of each part.
const HEAD_BYTES: u64 = 64 * 1024;

/// The dry-run checks of a set target: `listing`, `set`, `freshness`, `size`, `encryption`,
/// a `part NAME` check per part of the newest folder, and `retention`.
pub async fn check_target(
    target: &Target,
    set: &BackupSet,
    prefix: &str,
    ctx: &CheckContext<'_>,
) -> TargetReport {
    let picked = match pick(ctx.store, target, set, prefix, None).await {
        Ok(p) => p,
        Err(listing) => {
            let checks = vec![listing, Check::fail("freshness", "no backup set found")];
            return TargetReport::new(&target.name, None, checks);
        }
    };
    let Picked {
        listing,
        set: set_check,
        newest,
        complete,
        folders,
    } = picked;
    let mut checks = vec![listing, set_check];
    let latest = complete.as_ref().map(|c| latest(&c.folder, ctx.now));
    checks.push(match &latest {
        Some(l) => verdicts::rpo(
            "freshness",
            "the newest complete set",
            l.age_seconds,
            target,
        ),
        None => Check::fail("freshness", "no complete backup set"),
    });
    // The size history: the newest complete set against the folders before it.
    let sizes: Vec<ObjectMeta> = folders
        .iter()
        .skip_while(|f| complete.as_ref().is_some_and(|c| c.folder.name != f.name))
        .take(6)
        .map(|f| ObjectMeta {
            key: f.prefix.clone(),
            size: f.bytes,
            last_modified: f.last_modified,
        })
        .collect();
    if complete.is_some() && !sizes.is_empty() {
        checks.push(verdicts::size(&sizes, target));
    }
    if let Some(newest) = &newest {
        let keys = layers::keys(target, ctx.secrets);
        let heads = part_heads(ctx, &newest.parts).await;
        checks.push(encryption_of_parts(ctx, &heads));
        checks.extend(restorable_of_parts(&heads));
        for part in &newest.parts {
            let expected = part_format(target, set, &part.name);
            checks.push(check_part(ctx, part, expected, &keys).await);
        }
    }
    let today = ctx.now.date_naive();
    let mut evidence = Evidence {
        uri: latest.as_ref().map(|l| ctx.store.uri(&l.key)),
        objects: Some(folders.len() as u64),
        bytes: Some(folders.iter().map(|f| f.bytes).sum()),
        ..Evidence::default()
    };
    if let Some(policy) = &target.retention {
        let start = retention::window_start(policy, today);
        let days = folders
            .iter()
            .map(|f| f.last_modified.date_naive())
            .filter(|d| *d >= start)
            .collect();
        checks.push(retention_check(policy, today, &days));
        if let Ok(missing) = retention::missing_slots(policy, today, &days) {
            let wanted =
                u64::from(policy.daily) + u64::from(policy.weekly) + u64::from(policy.monthly);
            let missed =
                (missing.daily.len() + missing.weekly.len() + missing.monthly.len()) as u64;
            evidence.retention_slots = Some(wanted);
            evidence.retention_filled = Some(wanted.saturating_sub(missed));
        }
    }
    let mut report = TargetReport::new(&target.name, latest, checks);
    report.evidence = evidence;
    report
}

/// Every stored part's HEAD (none for a local store, which keeps neither encryption nor
/// storage classes).
async fn part_heads<'p>(
    ctx: &CheckContext<'_>,
    parts: &'p [Part],
) -> Vec<(&'p Part, Result<Option<ObjectHead>, StoreError>)> {
    let mut heads = Vec::new();
    if ctx.store.kind() == StoreKind::Local {
        return heads;
    }
    for part in parts.iter().filter(|p| p.stored.is_some()) {
        heads.push((part, ctx.store.head(&part.key).await));
    }
    heads
}

/// One `encryption` check over the parts: the first part that fails names the fault.
fn encryption_of_parts(
    ctx: &CheckContext<'_>,
    heads: &[(&Part, Result<Option<ObjectHead>, StoreError>)],
) -> Check {
    if ctx.store.kind() == StoreKind::Local {
        return Check::pass("encryption", "not applicable: local store");
    }
    let mut last = Check::pass("encryption", "no part stored");
    for (part, head) in heads {
        let check = match head {
            Ok(Some(h)) => encryption(ctx.store.kind(), h, ctx.kms_key_arn),
            Ok(None) => Check::fail("encryption", "vanished after listing".to_string()),
            Err(e) => Check::fail("encryption", format!("HEAD failed: {e}")),
        };
        if !check.ok {
            return Check::fail(
                "encryption",
                format!("part {}: {}", part.name, check.detail),
            );
        }
        last = Check::pass("encryption", format!("{} (every part)", check.detail));
    }
    last
}

/// One `restorable` check over the parts, when the store reports storage classes: the first
/// archived part fails it, named; none when no part has a class.
fn restorable_of_parts(heads: &[(&Part, Result<Option<ObjectHead>, StoreError>)]) -> Option<Check> {
    let mut passed = None;
    for (part, head) in heads {
        let Ok(Some(h)) = head else { continue };
        let access = archive::access(h);
        let Some(check) = archive::restorable(&part.key, &access) else {
            continue;
        };
        if !check.ok {
            return Some(Check::fail(
                archive::NAME,
                format!("part {}: {}", part.name, check.detail),
            ));
        }
        passed = Some(Check::pass(
            archive::NAME,
            format!("{} (every part with a class)", check.detail),
        ));
    }
    passed
}

/// A part's check. Weekly: stored with the listed size, its first bytes are what its name
/// promises, and its content is `expected` (what its engine restores, see `part_format`).
/// Monthly: its SHA-256 over the stored bytes matches, and it decompresses whole.
async fn check_part(
    ctx: &CheckContext<'_>,
    part: &Part,
    expected: Option<BackupFormat>,
    keys: &Keys,
) -> Check {
    let name = part_check_name(&part.name);
    if let Some(fault) = part.fault() {
        return Check::fail(&name, fault);
    }
    let Some(object) = part.stored.as_ref() else {
        return Check::fail(&name, "missing".to_string());
    };
    let size = object.size;
    let head = match ctx
        .store
        .read_range(&part.key, 0, layers::head_bytes(keys, HEAD_BYTES))
        .await
    {
        Ok(h) => h,
        Err(e) => return Check::fail(&name, format!("reading its first bytes failed: {e}")),
    };
    let peeled = match layers::peel(&part.key, &head, size, keys) {
        Ok(p) => p,
        Err(why) => return Check::fail(&name, why),
    };
    let content = &peeled.content;
    let seen = format!(
        "{}, {}, {}",
        short_size(size),
        peeled.layers(),
        Content::detect(content).name()
    );
    if let Some(format) = expected
        && let Err(e) = format::verify(format, content)
    {
        return Check::fail(&name, format!("{}: {e}", peeled.layers()));
    }
    if !ctx.deep {
        let listed = if part.listed_size.is_some() {
            "the size the manifest lists"
        } else {
            "with its sidecar"
        };
        return Check::pass(
            &name,
            format!("present, {seen} ({listed}); the monthly check hashes it"),
        );
    }
    let expected = match part.expected_sha256(ctx.store).await {
        Ok(h) => h,
        Err(e) => return Check::fail(&name, e),
    };
    let drained = match read_whole(ctx.store, object, keys).await {
        Ok(d) => d,
        Err(e) => return Check::fail(&name, format!("reading it failed: {e}")),
    };
    if drained.sha256 != expected {
        return Check::fail(
            &name,
            format!(
                "sha256 of the stored bytes is {}, expected {expected}",
                drained.sha256
            ),
        );
    }
    if let Some(err) = &drained.error {
        return Check::fail(
            &name,
            format!(
                "sha256 matches but decompression failed after {} unpacked: {err}",
                short_size(drained.content_bytes)
            ),
        );
    }
    Check::pass(
        &name,
        format!(
            "{seen}; sha256 {} matches, whole stream intact ({} unpacked)",
            &expected[..12],
            short_size(drained.content_bytes)
        ),
    )
}
