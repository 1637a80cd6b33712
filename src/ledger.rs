//! The verification ledger (`badges/dr_ledger.json`): for each target, what the monthly runs
//! have proven about each retained backup — the store's identity of the object when it was read
//! (size and last-modified), the SHA-256 computed from its bytes, whether it decompressed, and
//! when. Pure: the model, its deterministic text (sorted, one proof a line), the rolling
//! selection of what to deep-read under a budget, coverage, and applying a run's
//! [`Verification`] (prune what is no longer retained, record what was proven).
//!
//! The selection order: objects whose identity changed since they were proven (a replacement
//! under the same key), the newest backup, backups never proven (newest first), then proofs
//! older than `re-read-after` (oldest first) — until the budget of bytes or requests is spent.
//! Proofs younger than `re-read-after` are not read again: reading them sooner spends money
//! without raising coverage. The first pick is always read, so a monthly run proves something
//! even when one backup is larger than the budget.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::ObjectMeta;
use crate::units::rfc3339;

/// The format version of the ledger file.
pub const SCHEMA_VERSION: u32 = 1;

/// Every target's proofs, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub schema: u32,
    pub targets: BTreeMap<String, BTreeMap<String, Proof>>,
}

/// What one deep read of one object proved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// The object's size when it was read.
    pub size: u64,
    /// Its last-modified time when it was read (whole seconds).
    #[serde(with = "rfc3339")]
    pub last_modified: DateTime<Utc>,
    /// The SHA-256 of its stored bytes.
    pub sha256: String,
    /// Whether the whole stream decompressed.
    pub decompressed: bool,
    /// When it was proven.
    #[serde(with = "rfc3339")]
    pub verified_at: DateTime<Utc>,
    /// When a quarterly full restore last restored it (and validated what it restored).
    #[serde(
        with = "rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub restored_at: Option<DateTime<Utc>>,
}

impl Proof {
    /// Whether the object listed is the one that was proven: same size, same last-modified
    /// (compared in whole seconds, as the ledger keeps it).
    pub fn same_identity(&self, object: &ObjectMeta) -> bool {
        self.size == object.size
            && self.last_modified.timestamp() == object.last_modified.timestamp()
    }
}

/// Why an object is read this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Its identity changed since it was proven: replaced under the same key.
    Changed,
    /// The newest backup.
    Newest,
    /// Named on the command line (`--key`, `--since`).
    Requested,
    /// Never proven.
    Never,
    /// Proven longer ago than `re-read-after`.
    Stale,
}

/// The limits of one run's deep reads of one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    pub requests: u64,
    /// The requests one deep read takes (the read, plus the sidecar or the HEAD).
    pub requests_per_read: u64,
    pub re_read_after_secs: u64,
}

/// One object chosen to be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    pub object: ObjectMeta,
    pub reason: Reason,
}

/// What a run reads, and how many due objects the budget left for a later run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub picks: Vec<Pick>,
    pub deferred: usize,
}

/// Chooses what to deep-read this run among the `retained` objects of a target, in the order
/// the module header gives, within `budget`.
pub fn select(
    retained: &[ObjectMeta],
    proofs: &BTreeMap<String, Proof>,
    now: DateTime<Utc>,
    budget: &Budget,
) -> Plan {
    let newest_first = |a: &&ObjectMeta, b: &&ObjectMeta| {
        (b.last_modified, &b.key).cmp(&(a.last_modified, &a.key))
    };
    let mut changed = Vec::new();
    let mut never = Vec::new();
    let mut stale = Vec::new();
    for o in retained {
        match proofs.get(&o.key) {
            Some(p) if !p.same_identity(o) => changed.push(o),
            Some(p) if is_stale(p, now, budget.re_read_after_secs) => {
                stale.push((p.verified_at, o))
            }
            Some(_) => {}
            None => never.push(o),
        }
    }
    changed.sort_by(newest_first);
    never.sort_by(newest_first);
    stale.sort_by(|(a, ao), (b, bo)| (a, &ao.key).cmp(&(b, &bo.key)));
    let newest = retained.iter().max_by_key(|o| (o.last_modified, &o.key));
    let mut order: Vec<Pick> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |o: &ObjectMeta, reason: Reason, order: &mut Vec<Pick>| {
        if seen.insert(o.key.clone()) {
            order.push(Pick {
                object: o.clone(),
                reason,
            });
        }
    };
    for o in changed {
        push(o, Reason::Changed, &mut order);
    }
    if let Some(n) = newest.filter(|n| {
        proofs
            .get(&n.key)
            .is_none_or(|p| is_stale(p, now, budget.re_read_after_secs))
    }) {
        push(n, Reason::Newest, &mut order);
    }
    for o in never {
        push(o, Reason::Never, &mut order);
    }
    for (_, o) in stale {
        push(o, Reason::Stale, &mut order);
    }
    within_budget(order, budget)
}

/// The `requested` objects (`--key`, `--since`), newest first, whatever the budget and the
/// ledger say: the user asked for them. The newest backup of `retained` comes first when the
/// ledger does not prove it within `re-read-after`, as on every monthly run.
pub fn requested(
    named: Vec<ObjectMeta>,
    retained: &[ObjectMeta],
    proofs: &BTreeMap<String, Proof>,
    now: DateTime<Utc>,
    re_read_after_secs: u64,
) -> Plan {
    let mut named = named;
    named.sort_by(|a, b| (b.last_modified, &b.key).cmp(&(a.last_modified, &a.key)));
    let mut picks = Vec::with_capacity(named.len() + 1);
    let newest = retained.iter().max_by_key(|o| (o.last_modified, &o.key));
    if let Some(n) = newest.filter(|n| {
        !named.iter().any(|o| o.key == n.key)
            && proofs
                .get(&n.key)
                .is_none_or(|p| !p.same_identity(n) || is_stale(p, now, re_read_after_secs))
    }) {
        picks.push(Pick {
            object: n.clone(),
            reason: Reason::Newest,
        });
    }
    picks.extend(named.into_iter().map(|object| Pick {
        object,
        reason: Reason::Requested,
    }));
    Plan { picks, deferred: 0 }
}

fn is_stale(p: &Proof, now: DateTime<Utc>, re_read_after_secs: u64) -> bool {
    (now - p.verified_at).num_seconds() > i64::try_from(re_read_after_secs).unwrap_or(i64::MAX)
}

/// Keeps picks in order while they fit; the first always fits.
fn within_budget(order: Vec<Pick>, budget: &Budget) -> Plan {
    let (mut bytes, mut requests) = (0u64, 0u64);
    let mut plan = Plan::default();
    for pick in order {
        let b = bytes.saturating_add(pick.object.size);
        let r = requests.saturating_add(budget.requests_per_read);
        let fits = b <= budget.bytes && r <= budget.requests;
        if plan.picks.is_empty() || (fits && plan.deferred == 0) {
            bytes = b;
            requests = r;
            plan.picks.push(pick);
        } else {
            plan.deferred += 1;
        }
    }
    plan
}

/// How much of a target's retained backups the ledger proves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Backups inside the retention window (all that match, without a retention policy).
    pub retained: u64,
    /// Of those, how many have ever been proven (with their identity unchanged since).
    pub proven: u64,
    /// Of those, how many were proven within `re-read-after`.
    pub fresh: u64,
    /// The oldest proof among the retained backups.
    #[serde(
        with = "rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oldest_proof: Option<DateTime<Utc>>,
    /// `re-read-after`, in seconds, and the share (in percent) of fresh proofs the config asks for.
    pub re_read_after_secs: u64,
    pub min_percent: u8,
}

impl Coverage {
    /// The share of retained backups proven within `re-read-after`, in whole percent (100 for none).
    pub fn percent(&self) -> u64 {
        match self.retained {
            0 => 100,
            n => self.fresh * 100 / n,
        }
    }

    /// Whether the share is under what the config asks for.
    pub fn short(&self) -> bool {
        self.percent() < u64::from(self.min_percent)
    }

    /// `12 of 40 retained backups proven within 90d (30%), oldest proof 2026-…`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} of {} proven within {} ({}%)",
            self.fresh,
            crate::units::count(self.retained, "retained backup"),
            crate::units::short_duration(self.re_read_after_secs),
            self.percent()
        );
        if let Some(t) = self.oldest_proof {
            s.push_str(&format!(", oldest proof {}", rfc3339::format(&t)));
        }
        s
    }

    /// The KPI's reason for target `name` when its coverage is short, else `None`.
    pub fn shortfall(&self, name: &str) -> Option<String> {
        self.short().then(|| {
            format!(
                "{name}: {}, under verify.min-coverage {}%",
                self.describe(),
                self.min_percent
            )
        })
    }
}

/// The coverage of `retained` by `proofs` at `now`.
pub fn coverage(
    retained: &[ObjectMeta],
    proofs: &BTreeMap<String, Proof>,
    now: DateTime<Utc>,
    re_read_after_secs: u64,
    min_percent: u8,
) -> Coverage {
    let mut c = Coverage {
        retained: retained.len() as u64,
        re_read_after_secs,
        min_percent,
        ..Coverage::default()
    };
    for o in retained {
        let Some(p) = proofs.get(&o.key).filter(|p| p.same_identity(o)) else {
            continue;
        };
        c.proven += 1;
        if !is_stale(p, now, re_read_after_secs) {
            c.fresh += 1;
        }
        c.oldest_proof = Some(
            c.oldest_proof
                .map_or(p.verified_at, |t| t.min(p.verified_at)),
        );
    }
    c
}

/// One object read this run, as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub key: String,
    pub reason: Reason,
    pub ok: bool,
    /// Its content differs from what an earlier run proved under the same key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tampered: bool,
    /// The proof this read established (absent when the read failed: what was proven before
    /// is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    /// What failed, when the read did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One run's deep reads of one target, in its report: what was read and why, the ledger
/// entries pruned (backups no longer retained), and the coverage after this run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub verified: Vec<Verified>,
    /// Due backups the budget left for a later run.
    #[serde(default)]
    pub deferred: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    pub coverage: Coverage,
}

/// The ledger's keys of a target that are not among the `retained` objects.
pub fn prunable(proofs: &BTreeMap<String, Proof>, retained: &[ObjectMeta]) -> Vec<String> {
    let keep: BTreeSet<&str> = retained.iter().map(|o| o.key.as_str()).collect();
    proofs
        .keys()
        .filter(|k| !keep.contains(k.as_str()))
        .cloned()
        .collect()
}

/// The proofs of `target` once `verification` is applied: pruned entries removed, the proofs
/// this run established recorded.
pub fn applied(
    proofs: &BTreeMap<String, Proof>,
    verification: &Verification,
) -> BTreeMap<String, Proof> {
    let mut proofs = proofs.clone();
    for k in &verification.pruned {
        proofs.remove(k);
    }
    for v in &verification.verified {
        if let (true, Some(p)) = (v.ok, &v.proof) {
            // A restore of the same bytes stays on record.
            let restored_at = proofs
                .get(&v.key)
                .filter(|old| old.sha256 == p.sha256)
                .and_then(|old| old.restored_at);
            let mut p = p.clone();
            p.restored_at = p.restored_at.or(restored_at);
            proofs.insert(v.key.clone(), p);
        }
    }
    proofs
}

/// Records that a full restore at `at` restored `object`, whose bytes hash to `sha256`: on its
/// proof when the ledger holds the same bytes, else as a new proof. A proof of other bytes
/// under an unchanged identity is left for the monthly run to judge (`tampered`).
pub fn record_restore(
    proofs: &mut BTreeMap<String, Proof>,
    object: &ObjectMeta,
    sha256: &str,
    at: DateTime<Utc>,
) {
    match proofs.get_mut(&object.key) {
        Some(p) if p.same_identity(object) && p.sha256 == sha256 => p.restored_at = Some(at),
        Some(p) if p.same_identity(object) => {}
        _ => {
            proofs.insert(
                object.key.clone(),
                Proof {
                    size: object.size,
                    last_modified: object.last_modified,
                    sha256: sha256.to_string(),
                    decompressed: true,
                    verified_at: at,
                    restored_at: Some(at),
                },
            );
        }
    }
}

impl Ledger {
    pub fn new() -> Self {
        Ledger {
            schema: SCHEMA_VERSION,
            targets: BTreeMap::new(),
        }
    }

    /// Parses a ledger file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ledger: Ledger = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if ledger.schema != SCHEMA_VERSION {
            return Err(format!(
                "schema {} is not one this version reads ({SCHEMA_VERSION})",
                ledger.schema
            ));
        }
        Ok(ledger)
    }

    /// A target's proofs (none when it has no section).
    pub fn proofs(&self, target: &str) -> BTreeMap<String, Proof> {
        self.targets.get(target).cloned().unwrap_or_default()
    }

    /// The ledger after a run: each target in `runs` gets its verification applied; sections of
    /// targets not in `configured` are dropped, so the file stays bounded.
    pub fn after<'a>(
        &self,
        runs: impl IntoIterator<Item = (&'a str, &'a Verification)>,
        configured: &BTreeSet<&str>,
    ) -> Ledger {
        let mut next = Ledger {
            schema: SCHEMA_VERSION,
            targets: self
                .targets
                .iter()
                .filter(|(name, _)| configured.contains(name.as_str()))
                .map(|(n, p)| (n.clone(), p.clone()))
                .collect(),
        };
        for (name, v) in runs {
            let proofs = applied(&self.proofs(name), v);
            next.targets.insert(name.to_string(), proofs);
        }
        next
    }

    /// The file's text: sorted, one proof a line, so it diffs by line and is the same bytes
    /// for the same ledger.
    pub fn to_text(&self) -> String {
        let mut out = format!("{{\"schema\":{},\"targets\":{{", self.schema);
        for (ti, (name, proofs)) in self.targets.iter().enumerate() {
            if ti > 0 {
                out.push(',');
            }
            out.push_str(&format!("\n{}:{{", json_string(name)));
            for (pi, (key, proof)) in proofs.iter().enumerate() {
                if pi > 0 {
                    out.push(',');
                }
                let proof = serde_json::to_string(proof).unwrap_or_default();
                out.push_str(&format!("\n{}:{proof}", json_string(key)));
            }
            out.push_str("\n}");
        }
        out.push_str("\n}}\n");
        out
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 2, 0, 0).unwrap() + Duration::days(day)
    }

    fn obj(i: i64, size: u64) -> ObjectMeta {
        ObjectMeta {
            key: format!("db/{i:03}.sql.gz"),
            size,
            last_modified: at(i),
        }
    }

    fn proof(o: &ObjectMeta, when: DateTime<Utc>) -> Proof {
        Proof {
            size: o.size,
            last_modified: o.last_modified,
            sha256: format!("sha-of-{}", o.key),
            decompressed: true,
            verified_at: when,
            restored_at: None,
        }
    }

    fn budget(reads: u64) -> Budget {
        Budget {
            bytes: u64::MAX,
            requests: reads,
            requests_per_read: 1,
            re_read_after_secs: 90 * 86_400,
        }
    }

    /// Runs the selection and records every pick as proven, as a run would.
    fn run(
        objects: &[ObjectMeta],
        proofs: &BTreeMap<String, Proof>,
        now: DateTime<Utc>,
        b: &Budget,
    ) -> (Vec<Pick>, BTreeMap<String, Proof>) {
        let plan = select(objects, proofs, now, b);
        let v = Verification {
            verified: plan
                .picks
                .iter()
                .map(|p| Verified {
                    key: p.object.key.clone(),
                    reason: p.reason,
                    ok: true,
                    tampered: false,
                    proof: Some(proof(&p.object, now)),
                    error: None,
                })
                .collect(),
            pruned: prunable(proofs, objects),
            ..Verification::default()
        };
        (plan.picks, applied(proofs, &v))
    }

    #[test]
    fn the_order_is_changed_newest_never_then_stale() {
        let objects: Vec<_> = (0..6).map(|i| obj(i, 10)).collect();
        let mut proofs = BTreeMap::new();
        // 0: proven long ago (stale); 1: proven recently; 2: replaced since its proof.
        proofs.insert(objects[0].key.clone(), proof(&objects[0], at(-200)));
        proofs.insert(objects[1].key.clone(), proof(&objects[1], at(5)));
        let mut replaced = proof(&objects[2], at(5));
        replaced.size = 9;
        proofs.insert(objects[2].key.clone(), replaced);
        let plan = select(&objects, &proofs, at(6), &budget(100));
        let got: Vec<_> = plan
            .picks
            .iter()
            .map(|p| (p.object.key.as_str(), p.reason))
            .collect();
        assert_eq!(
            got,
            [
                ("db/002.sql.gz", Reason::Changed),
                ("db/005.sql.gz", Reason::Newest),
                ("db/004.sql.gz", Reason::Never),
                ("db/003.sql.gz", Reason::Never),
                ("db/000.sql.gz", Reason::Stale),
            ]
        );
    }

    #[test]
    fn the_budget_stops_the_reads_in_order_and_the_first_always_goes() {
        let objects: Vec<_> = (0..5).map(|i| obj(i, 100)).collect();
        let b = Budget {
            bytes: 250,
            ..budget(100)
        };
        let plan = select(&objects, &BTreeMap::new(), at(6), &b);
        assert_eq!(plan.picks.len(), 2);
        assert_eq!(plan.deferred, 3);
        let tiny = Budget { bytes: 1, ..b };
        assert_eq!(
            select(&objects, &BTreeMap::new(), at(6), &tiny).picks.len(),
            1
        );
    }

    #[test]
    fn a_restore_is_recorded_on_the_proof_of_the_same_bytes_and_kept_by_a_later_read() {
        let o = obj(1, 10);
        let mut proofs = BTreeMap::new();
        proofs.insert(o.key.clone(), proof(&o, at(2)));
        record_restore(&mut proofs, &o, "sha-of-db/001.sql.gz", at(3));
        assert_eq!(proofs[&o.key].restored_at, Some(at(3)));
        assert_eq!(proofs[&o.key].verified_at, at(2));
        // Other bytes under an unchanged identity: left for the monthly run to judge.
        record_restore(&mut proofs, &o, "other", at(4));
        assert_eq!(proofs[&o.key].sha256, "sha-of-db/001.sql.gz");
        // A re-read of the same bytes keeps the restore on record.
        let v = Verification {
            verified: vec![Verified {
                key: o.key.clone(),
                reason: Reason::Stale,
                ok: true,
                tampered: false,
                proof: Some(proof(&o, at(100))),
                error: None,
            }],
            ..Verification::default()
        };
        let after = applied(&proofs, &v);
        assert_eq!(after[&o.key].restored_at, Some(at(3)));
        assert_eq!(after[&o.key].verified_at, at(100));
        // Never proven: the restore is its proof.
        let fresh = obj(2, 10);
        record_restore(&mut proofs, &fresh, "abc", at(5));
        assert_eq!(proofs[&fresh.key].verified_at, at(5));
        assert_eq!(proofs[&fresh.key].restored_at, Some(at(5)));
    }

    #[test]
    fn entries_of_objects_no_longer_retained_are_pruned() {
        let objects: Vec<_> = (0..3).map(|i| obj(i, 10)).collect();
        let mut proofs = BTreeMap::new();
        for o in &objects {
            proofs.insert(o.key.clone(), proof(o, at(3)));
        }
        assert_eq!(prunable(&proofs, &objects[1..]), ["db/000.sql.gz"]);
    }

    #[test]
    fn coverage_counts_fresh_proofs_with_an_unchanged_identity() {
        let objects: Vec<_> = (0..4).map(|i| obj(i, 10)).collect();
        let mut proofs = BTreeMap::new();
        proofs.insert(objects[0].key.clone(), proof(&objects[0], at(-100)));
        proofs.insert(objects[1].key.clone(), proof(&objects[1], at(4)));
        let mut other = proof(&objects[2], at(4));
        other.last_modified = at(-1);
        proofs.insert(objects[2].key.clone(), other);
        let c = coverage(&objects, &proofs, at(5), 90 * 86_400, 100);
        assert_eq!((c.retained, c.proven, c.fresh), (4, 2, 1));
        assert_eq!(c.oldest_proof, Some(at(-100)));
        assert_eq!(c.percent(), 25);
        assert!(c.short());
    }

    #[test]
    fn the_text_is_sorted_one_proof_a_line_and_parses_back() {
        let objects: Vec<_> = (0..3).map(|i| obj(i, 10)).collect();
        let mut ledger = Ledger::new();
        for (t, o) in [("b", &objects[2]), ("a", &objects[1]), ("a", &objects[0])] {
            ledger
                .targets
                .entry(t.into())
                .or_default()
                .insert(o.key.clone(), proof(o, at(3)));
        }
        let text = ledger.to_text();
        assert_eq!(Ledger::parse(&text).unwrap(), ledger);
        let lines: Vec<&str> = text.lines().collect();
        // The header, each target's opening, proofs and closing line, and the end.
        assert_eq!(lines.len(), 1 + (1 + 2 + 1) + (1 + 1 + 1) + 1, "{text}");
        assert!(lines[1].starts_with("\"a\""));
        assert!(lines[2].starts_with("\"db/000.sql.gz\""));
        assert!(Ledger::parse("{\"schema\":2,\"targets\":{}}").is_err());
    }

    proptest! {
        /// Four runs with a budget of ten reads prove forty backups without reading one twice,
        /// whatever their sizes and the order the listing gives them in.
        #[test]
        fn four_runs_of_ten_prove_forty_without_rereading(
            sizes in proptest::collection::vec(1u64..1_000_000, 40),
            shuffle in any::<u64>(),
        ) {
            let mut objects: Vec<_> = sizes.iter().enumerate().map(|(i, s)| obj(i as i64, *s)).collect();
            let n = objects.len();
            objects.rotate_left((shuffle % n as u64) as usize);
            let mut proofs = BTreeMap::new();
            let mut read = BTreeSet::new();
            for month in 0..4 {
                let (picks, next) = run(&objects, &proofs, at(40 + month * 30), &budget(10));
                prop_assert_eq!(picks.len(), 10);
                for p in picks {
                    prop_assert!(read.insert(p.object.key.clone()), "{} read twice", p.object.key);
                }
                proofs = next;
            }
            prop_assert_eq!(read.len(), 40);
            let c = coverage(&objects, &proofs, at(130), 90 * 86_400, 100);
            prop_assert_eq!(c.proven, 40);
        }
    }
}
