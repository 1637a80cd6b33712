//! The monthly run's rolling deep reads of a target's retained backups, beyond the newest: which
//! to read (the ledger's selection under the target's `verify:` budget, or the backups named by
//! `--key` / `--since`), reading each whole once — hashed and decompressed by the same drain and
//! checked by the same checksum rule as the newest — and the `verify` and `tampered` checks and
//! the [`Verification`] the report carries (what was read, pruned, the coverage after it).
//!
//! Nothing is written here: the caller applies the report's verification to the ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use super::layers::Keys;
use super::stream::Drained;
use super::whole;
use crate::config::{ChecksumMode, Target, Verify};
use crate::ledger::{
    self, Budget, Coverage, Ledger, Pick, Plan, Proof, Reason, Verification, Verified,
};
use crate::output::Sink;
use crate::report::Check;
use crate::store::{BackupStore, ObjectMeta, StoreError};
use crate::units::short_size;

/// What the monthly run knows about the ledger and what was asked for on the command line.
#[derive(Clone, Copy)]
pub struct VerifyContext<'a> {
    pub ledger: &'a Ledger,
    /// The global `verify:`; a target's own wins.
    pub global: Option<&'a Verify>,
    /// `--key`: deep-verify these backups (instead of the rolling selection).
    pub keys: &'a [String],
    /// `--since`: deep-verify every backup modified at or after this.
    pub since: Option<DateTime<Utc>>,
}

impl VerifyContext<'_> {
    fn requested(&self) -> bool {
        !self.keys.is_empty() || self.since.is_some()
    }

    /// The settings of `target`'s deep reads this run: `None` when it has none configured and
    /// none were asked for.
    pub fn settings(&self, target: &Target) -> Option<Verify> {
        match (target.verify.as_ref().or(self.global), self.requested()) {
            (Some(v), _) => Some(v.clone()),
            (None, true) => Some(Verify::default()),
            (None, false) => None,
        }
    }
}

/// The requests one deep read takes: the read, plus the sidecar's HEAD and ranged read, or the
/// HEAD that carries the stored SHA-256.
pub fn requests_per_read(mode: ChecksumMode) -> u64 {
    match mode {
        ChecksumMode::Sidecar => 3,
        ChecksumMode::S3 => 2,
        ChecksumMode::None => 1,
    }
}

/// The objects inside the retention window (every one, without a policy).
pub fn retained(all: &[ObjectMeta], window: Option<NaiveDate>) -> Vec<ObjectMeta> {
    all.iter()
        .filter(|o| window.is_none_or(|start| o.last_modified.date_naive() >= start))
        .cloned()
        .collect()
}

/// What to read this run among `all` (every matching object) and `retained`.
pub fn plan(
    target: &Target,
    ctx: &VerifyContext<'_>,
    settings: &Verify,
    all: &[ObjectMeta],
    retained: &[ObjectMeta],
    now: DateTime<Utc>,
) -> Plan {
    let proofs = ctx.ledger.proofs(&target.name);
    if ctx.requested() {
        let named = all
            .iter()
            .filter(|o| {
                ctx.keys.contains(&o.key) || ctx.since.is_some_and(|s| o.last_modified >= s)
            })
            .cloned()
            .collect();
        let re_read = settings.re_read_after.secs();
        return ledger::requested(named, retained, &proofs, now, re_read);
    }
    let budget = Budget {
        bytes: settings.budget.bytes,
        requests: settings.requests,
        requests_per_read: requests_per_read(target.checksum),
        re_read_after_secs: settings.re_read_after.secs(),
    };
    ledger::select(retained, &proofs, now, &budget)
}

/// The record of one deep read: its drain and its checksum verdict, compared with what the
/// ledger proved before. Content that differs from an earlier proof under the same key is
/// tampered, whatever the sidecar says (it may have been replaced with the object).
pub fn verified(
    pick: &Pick,
    prior: Option<&Proof>,
    drained: &Result<Drained, StoreError>,
    checksum: &Check,
    now: DateTime<Utc>,
) -> Verified {
    let key = pick.object.key.clone();
    let failed = |error: String, tampered: bool| Verified {
        key: key.clone(),
        reason: pick.reason,
        ok: false,
        tampered,
        proof: None,
        error: Some(error),
    };
    let d = match drained {
        Ok(d) => d,
        Err(e) => return failed(format!("reading it failed: {e}"), false),
    };
    if let Some(p) = prior.filter(|p| p.sha256 != d.sha256) {
        return failed(
            format!(
                "its content changed under the same key: sha256 {} was proven on {}, the bytes now hash to {}",
                p.sha256,
                crate::report::rfc3339::format(&p.verified_at),
                d.sha256
            ),
            true,
        );
    }
    if let Some(err) = &d.error {
        return failed(
            format!(
                "decompression failed after {} stored: {err}",
                short_size(d.stored_bytes)
            ),
            false,
        );
    }
    if !checksum.ok {
        return failed(checksum.detail.clone(), false);
    }
    Verified {
        key,
        reason: pick.reason,
        ok: true,
        tampered: false,
        proof: Some(Proof {
            size: pick.object.size,
            last_modified: pick.object.last_modified.trunc_subsecs(0),
            sha256: d.sha256.clone(),
            decompressed: true,
            verified_at: now.trunc_subsecs(0),
            restored_at: None,
        }),
        error: None,
    }
}

/// Reads one backup whole and judges it as [`verified`] does.
pub async fn prove(
    store: &dyn BackupStore,
    target: &Target,
    keys: &Keys,
    pick: &Pick,
    prior: Option<&Proof>,
    now: DateTime<Utc>,
) -> Verified {
    let key = &pick.object.key;
    let drained = whole::read_whole(store, &pick.object, keys).await;
    let stored = match (target.checksum, &drained) {
        (ChecksumMode::S3, Ok(_)) => store.head(key).await.ok().flatten(),
        _ => None,
    };
    let why = whole::why_no_stored_sha256(store.kind(), stored.as_ref());
    let sha = stored.as_ref().and_then(|h| h.sha256.clone());
    let checksum = whole::checksum(store, key, target.checksum, (sha, &why), Some(&drained)).await;
    verified(pick, prior, &drained, &checksum, now)
}

/// The `verify` check (and a failed `tampered` check when content changed under a key) and the
/// verification the report carries, from this run's reads.
pub fn conclude(
    settings: &Verify,
    proofs: &BTreeMap<String, Proof>,
    retained: &[ObjectMeta],
    reads: Vec<Verified>,
    deferred: usize,
    now: DateTime<Utc>,
) -> (Vec<Check>, Verification) {
    let mut v = Verification {
        verified: reads,
        deferred: deferred as u64,
        pruned: ledger::prunable(proofs, retained),
        coverage: Coverage::default(),
    };
    let after = ledger::applied(proofs, &v);
    v.coverage = ledger::coverage(
        retained,
        &after,
        now,
        settings.re_read_after.secs(),
        settings.min_coverage,
    );
    let mut checks = vec![verify_check(&v)];
    let tampered: Vec<String> = v
        .verified
        .iter()
        .filter(|r| r.tampered)
        .map(|r| format!("{}: {}", r.key, r.error.as_deref().unwrap_or("")))
        .collect();
    if !tampered.is_empty() {
        checks.push(Check::fail("tampered", tampered.join("; ")));
    }
    (checks, v)
}

fn verify_check(v: &Verification) -> Check {
    let read = v.verified.len();
    let bytes: u64 = v
        .verified
        .iter()
        .filter_map(|r| r.proof.as_ref().map(|p| p.size))
        .sum();
    let mut why: BTreeMap<Reason, usize> = BTreeMap::new();
    for r in &v.verified {
        *why.entry(r.reason).or_default() += 1;
    }
    let why: Vec<String> = why
        .iter()
        .map(|(reason, n)| format!("{n} {}", reason_name(*reason)))
        .collect();
    let failed: Vec<String> = v
        .verified
        .iter()
        .filter(|r| !r.ok && !r.tampered)
        .map(|r| format!("{}: {}", r.key, r.error.as_deref().unwrap_or("failed")))
        .collect();
    let mut detail = format!(
        "deep-read {} ({} proven{}{})",
        crate::units::count(read as u64, "backup"),
        short_size(bytes),
        if why.is_empty() { "" } else { ": " },
        why.join(", ")
    );
    if !failed.is_empty() {
        detail.push_str(&format!("; {} failed: {}", failed.len(), failed.join("; ")));
    }
    detail.push_str(&format!("; coverage {}", v.coverage.describe()));
    if v.deferred > 0 {
        detail.push_str(&format!(
            "; {} left for later runs by the budget",
            crate::units::count(v.deferred, "due backup")
        ));
    }
    if !v.pruned.is_empty() {
        detail.push_str(&format!(
            "; {} pruned (no longer retained)",
            match v.pruned.len() {
                1 => "1 ledger entry".to_string(),
                n => format!("{n} ledger entries"),
            }
        ));
    }
    Check::new("verify", failed.is_empty(), detail)
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Changed => "changed since proven",
        Reason::Newest => "newest",
        Reason::Requested => "requested",
        Reason::Never => "never proven",
        Reason::Stale => "proven too long ago",
    }
}

/// The newest backup's `checksum` check when the ledger already proves it and it is not read
/// again.
pub fn proven_checksum(p: &Proof) -> Check {
    Check::pass(
        "checksum",
        format!(
            "sha256 {} proven on {} by an earlier monthly run; size and last-modified unchanged since, so it is not read again (ledger)",
            &p.sha256[..p.sha256.len().min(12)],
            crate::report::rfc3339::format(&p.verified_at)
        ),
    )
}

/// The newest backup, picked but not drained: its format check failed before the read.
pub fn unread(pick: &Pick, checks: &[Check]) -> Verified {
    let why = checks
        .iter()
        .find(|c| c.name == "format" && !c.ok)
        .map_or("it could not be read".to_string(), |c| c.detail.clone());
    Verified {
        key: pick.object.key.clone(),
        reason: pick.reason,
        ok: false,
        tampered: false,
        proof: None,
        error: Some(why),
    }
}

/// The `--key`s under this target's prefix that name no backup of it: failed reads, so a
/// mistyped key is not a silent pass.
pub fn missing_keys(
    target: &Target,
    ctx: &VerifyContext<'_>,
    prefix: &str,
    all: &[ObjectMeta],
) -> Vec<Verified> {
    ctx.keys
        .iter()
        .filter(|k| k.starts_with(prefix) && !all.iter().any(|o| &o.key == *k))
        .map(|k| Verified {
            key: k.clone(),
            reason: Reason::Requested,
            ok: false,
            tampered: false,
            proof: None,
            error: Some(format!(
                "no backup with this key under `{prefix}` matches `{}`",
                target.pattern
            )),
        })
        .collect()
}

/// One target's rolling deep reads on a monthly run: what is retained, what the ledger proves,
/// what this run reads. Built from the listing before the newest is checked, so the newest's
/// own read is skipped when the ledger proves it; finished after its checksum check.
pub struct Rolling {
    settings: Verify,
    retained: Vec<ObjectMeta>,
    plan: Plan,
    proofs: BTreeMap<String, Proof>,
    missing: Vec<Verified>,
}

impl Rolling {
    /// The selection over `all` (every matching object of the listing) for `target`.
    pub fn new(
        target: &Target,
        ctx: &VerifyContext<'_>,
        settings: Verify,
        all: &[ObjectMeta],
        (prefix, window): (&str, Option<NaiveDate>),
        now: DateTime<Utc>,
    ) -> Self {
        let retained = retained(all, window);
        Rolling {
            plan: plan(target, ctx, &settings, all, &retained, now),
            proofs: ctx.ledger.proofs(&target.name),
            missing: missing_keys(target, ctx, prefix, all),
            settings,
            retained,
        }
    }

    /// Whether this run reads `newest` whole.
    pub fn reads(&self, newest: &ObjectMeta) -> bool {
        self.plan.picks.iter().any(|p| p.object.key == newest.key)
    }

    /// The proof the ledger holds of `newest` when this run does not read it again.
    pub fn proven(&self, newest: &ObjectMeta) -> Option<Proof> {
        match self.reads(newest) {
            true => None,
            false => self
                .proofs
                .get(&newest.key)
                .filter(|p| p.same_identity(newest))
                .cloned(),
        }
    }

    /// Reads every pick but the newest (whose `drained` read and `checks` so far, ending with
    /// its checksum check, are the dry run's own), and returns the checks and the verification.
    pub async fn finish(
        self,
        (store, progress): (&dyn BackupStore, &dyn Sink),
        (target, keys): (&Target, &Keys),
        newest: &ObjectMeta,
        (drained, checks): (Option<&Result<Drained, StoreError>>, &[Check]),
        now: DateTime<Utc>,
    ) -> (Vec<Check>, Verification) {
        let total = self.plan.picks.len();
        let mut reads = Vec::with_capacity(total + self.missing.len());
        for (i, pick) in self.plan.picks.iter().enumerate() {
            let prior = self.proofs.get(&pick.object.key);
            let read = match (pick.object.key == newest.key, drained, checks.last()) {
                (true, Some(d), Some(c)) => verified(pick, prior, d, c, now),
                (true, _, _) => unread(pick, checks),
                (false, _, _) => {
                    // The key comes from the store: escaped onto one line.
                    progress.progress(&format!(
                        "{}: deep read {} of {total}: {} ({})",
                        target.name,
                        i + 1,
                        pick.object.key.escape_debug(),
                        crate::units::short_size(pick.object.size)
                    ));
                    prove(store, target, keys, pick, prior, now).await
                }
            };
            reads.push(read);
        }
        progress.progress_done();
        reads.extend(self.missing);
        conclude(
            &self.settings,
            &self.proofs,
            &self.retained,
            reads,
            self.plan.deferred,
            now,
        )
    }
}
