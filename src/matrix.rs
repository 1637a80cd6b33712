//! The per-target matrix `badges/dr_matrix.json`: for every configured target its objectives
//! (RPO, RTO) against what was achieved (newest backup age, last restore's `total_seconds`), the
//! last dry-run and restore results and their dates, retention completeness, storage used and
//! its growth over 30 days, whether it is critical, and a health score from 0 to 100.
//!
//! The score weighs four parts; a part that does not apply to a target is left out and the
//! others are scaled up to 100:
//! - freshness, 50: the newest backup is within the RPO (50), within twice the RPO (25), older
//!   or unknown (0);
//! - restore, 20 (targets with `restore:`): the last full restore passed within the RTO and is
//!   at most [`RESTORE_RECENT_DAYS`] old (20); passed but too slow or too old (10); failed or
//!   never ran (0). Before the history is [`RESTORE_RECENT_DAYS`] old, a restore that never ran
//!   is not due yet and the part is left out;
//! - pass rate, 20: the share of the last [`PASS_RATE_RUNS`] runs whose checks passed (a failed
//!   `health` check alone does not count against a run, or a low score would feed itself);
//! - retention, 10 (targets with `retention:`): the share of retention slots holding a backup.
//!
//! Freshness weighs most so that a stale backup always scores under 80, while a target whose
//! newest backup is fresh and whose slots are full is back at 80 or more after one passing run
//! in five: a recovered target does not keep alerting for weeks.
//!
//! Pure: the configured targets, the history entries (this run's last) and `now` in, rows out.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Target;
use crate::history::Entry;
use crate::report::{Mode, rfc3339};
use crate::units::short_duration;

pub const SCHEMA_VERSION: u32 = 1;
/// How many of a target's latest runs the pass rate covers.
pub const PASS_RATE_RUNS: usize = 10;
/// How old the last full restore may be and still count as recent (the quarterly max-age).
pub const RESTORE_RECENT_DAYS: i64 = 93;
/// The window of the storage growth.
pub const GROWTH_DAYS: i64 = 30;
/// The name of the check a target under `kpi.min-health` fails.
pub const HEALTH_CHECK: &str = "health";

const W_FRESH: u32 = 50;
const W_RESTORE: u32 = 20;
const W_PASS: u32 = 20;
const W_RETENTION: u32 = 10;

/// A run's date and result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ran {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub ok: bool,
}

/// Retention slots wanted and filled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionFill {
    pub slots: u64,
    pub filled: u64,
}

/// What a target's backups occupy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    pub objects: Option<u64>,
    pub bytes: Option<u64>,
    /// Bytes now less bytes at the oldest run of the last 30 days that measured them.
    pub growth_30d_bytes: Option<i64>,
}

/// One target's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub name: String,
    pub critical: bool,
    pub rpo_seconds: u64,
    pub backup_age_seconds: Option<u64>,
    pub rpo_met: Option<bool>,
    pub rto_seconds: Option<u64>,
    /// The last full restore's `total_seconds`.
    pub restore_seconds: Option<f64>,
    pub rto_met: Option<bool>,
    pub last_dry_run: Option<Ran>,
    pub last_restore: Option<Ran>,
    pub retention: Option<RetentionFill>,
    pub storage: Storage,
    /// Passed runs of the last [`PASS_RATE_RUNS`], and how many runs that was.
    pub pass_rate: Option<f64>,
    pub runs: usize,
    pub health: u8,
    /// What cost points, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deductions: Vec<String>,
}

/// The matrix file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub schema: u32,
    #[serde(with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    pub min_health: u8,
    pub targets: Vec<Row>,
}

impl Matrix {
    /// The critical targets under the threshold.
    pub fn unhealthy(&self) -> impl Iterator<Item = &Row> {
        self.targets
            .iter()
            .filter(|r| r.critical && r.health < self.min_health)
    }
}

/// Builds the matrix from the configured targets and the history (oldest first, this run last).
pub fn build(targets: &[Target], entries: &[Entry], now: DateTime<Utc>, min_health: u8) -> Matrix {
    let history_start = entries.first().map(|e| e.run.at);
    Matrix {
        schema: SCHEMA_VERSION,
        generated_at: now,
        min_health,
        targets: targets
            .iter()
            .map(|t| row(t, entries, now, history_start))
            .collect(),
    }
}

fn row(
    target: &Target,
    entries: &[Entry],
    now: DateTime<Utc>,
    history_start: Option<DateTime<Utc>>,
) -> Row {
    // This target's outcomes, newest first, with the run they belong to.
    let runs: Vec<(&Entry, &crate::history::TargetOutcome)> = entries
        .iter()
        .rev()
        .filter(|e| e.action != "chaos-drill")
        .filter_map(|e| Some((e, e.targets.iter().find(|o| o.name == target.name)?)))
        .collect();
    let newest = runs.first();
    let rpo = target.rpo.secs();
    // The newest backup's age now: its age at that run plus the time since.
    let backup_age = runs.iter().find_map(|(e, o)| {
        let since = (now - e.run.at).num_seconds().max(0) as u64;
        o.age_seconds.map(|a| a.saturating_add(since))
    });
    let rto = target.rto.as_ref().map(|d| d.secs());
    let last_of = |mode: Mode| {
        runs.iter()
            .find(|(e, _)| e.run.kind == mode.as_str())
            .map(|(e, o)| (*e, *o))
    };
    let restore = last_of(Mode::FullRestore);
    let restore_seconds =
        restore.and_then(|(_, o)| o.metrics.get("total_seconds").and_then(|v| v.as_f64()));
    let rto_met = match (restore_seconds, rto) {
        (Some(s), Some(r)) => Some(s <= r as f64),
        _ => None,
    };
    let passed = |o: &crate::history::TargetOutcome| o.failed.iter().all(|f| f == HEALTH_CHECK);
    let recent: Vec<bool> = runs
        .iter()
        .take(PASS_RATE_RUNS)
        .map(|(_, o)| passed(o))
        .collect();
    let pass_rate = (!recent.is_empty())
        .then(|| recent.iter().filter(|p| **p).count() as f64 / recent.len() as f64);
    let retention = runs.iter().find_map(|(_, o)| {
        Some(RetentionFill {
            slots: o.retention_slots?,
            filled: o.retention_filled?,
        })
    });
    let storage = storage_of(&runs, now);

    let mut earned = 0.0;
    let mut possible = 0u32;
    let mut deductions = Vec::new();
    possible += W_FRESH;
    match backup_age {
        Some(age) if age <= rpo => earned += f64::from(W_FRESH),
        Some(age) if age <= rpo.saturating_mul(2) => {
            earned += f64::from(W_FRESH) / 2.0;
            deductions.push(format!(
                "newest backup {} old (rpo {})",
                short_duration(age),
                target.rpo
            ));
        }
        Some(age) => deductions.push(format!(
            "newest backup {} old, beyond twice the rpo {}",
            short_duration(age),
            target.rpo
        )),
        None => deductions.push("no backup found".into()),
    }
    if target.restore.is_some() {
        let not_due =
            history_start.is_none_or(|start| now - start < Duration::days(RESTORE_RECENT_DAYS));
        match restore {
            None if not_due => {}
            None => {
                possible += W_RESTORE;
                deductions.push("no full restore has run".into());
            }
            Some((e, o)) => {
                possible += W_RESTORE;
                let recent = now - e.run.at <= Duration::days(RESTORE_RECENT_DAYS);
                let restored = passed(o);
                if restored && recent && rto_met != Some(false) {
                    earned += f64::from(W_RESTORE);
                } else if restored {
                    earned += 10.0;
                    deductions.push(if recent {
                        "the last restore missed the rto".to_string()
                    } else {
                        format!(
                            "the last restore is {} old",
                            short_duration((now - e.run.at).num_seconds().max(0) as u64)
                        )
                    });
                } else {
                    deductions.push("the last restore failed".into());
                }
            }
        }
    }
    if let Some(rate) = pass_rate {
        possible += W_PASS;
        earned += f64::from(W_PASS) * rate;
        if rate < 1.0 {
            deductions.push(format!(
                "{} of the last {} runs passed",
                recent.iter().filter(|p| **p).count(),
                recent.len()
            ));
        }
    }
    if let Some(r) = &retention
        && r.slots > 0
    {
        possible += W_RETENTION;
        earned += f64::from(W_RETENTION) * r.filled.min(r.slots) as f64 / r.slots as f64;
        if r.filled < r.slots {
            deductions.push(format!("{}/{} retention slots filled", r.filled, r.slots));
        }
    }
    let health = (earned * 100.0 / f64::from(possible))
        .round()
        .clamp(0.0, 100.0) as u8;
    Row {
        name: target.name.clone(),
        critical: target.critical,
        rpo_seconds: rpo,
        backup_age_seconds: backup_age,
        rpo_met: backup_age.map(|a| a <= rpo),
        rto_seconds: rto,
        restore_seconds,
        rto_met,
        last_dry_run: last_of(Mode::DryRun).map(|(e, o)| Ran {
            at: e.run.at,
            ok: passed(o),
        }),
        last_restore: restore.map(|(e, o)| Ran {
            at: e.run.at,
            ok: passed(o),
        }),
        retention,
        storage,
        pass_rate,
        runs: newest.map_or(0, |_| recent.len()),
        health,
        deductions,
    }
}

fn storage_of(runs: &[(&Entry, &crate::history::TargetOutcome)], now: DateTime<Utc>) -> Storage {
    let measured: Vec<(DateTime<Utc>, u64, Option<u64>)> = runs
        .iter()
        .filter_map(|(e, o)| Some((e.run.at, o.bytes?, o.objects)))
        .collect();
    let Some(&(_, bytes, objects)) = measured.first() else {
        return Storage::default();
    };
    let since = now - Duration::days(GROWTH_DAYS);
    let base = measured.iter().rev().find(|(at, _, _)| *at >= since);
    Storage {
        objects,
        bytes: Some(bytes),
        growth_30d_bytes: match base {
            Some((_, b, _)) if measured.len() > 1 => Some(bytes as i64 - *b as i64),
            _ => None,
        },
    }
}

/// The detail of the failed `health` check of a critical target under the threshold.
pub fn health_detail(row: &Row, min_health: u8) -> String {
    let why = if row.deductions.is_empty() {
        String::new()
    } else {
        format!(": {}", row.deductions.join("; "))
    };
    format!(
        "health {} is under min-health {min_health}{why}",
        row.health
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryEntry;
    use crate::history::TargetOutcome;
    use crate::kpi::KpiStatus;
    use crate::report::Operator;
    use crate::report::Schedule;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
    }

    fn target(yaml: &str) -> Target {
        serde_norway::from_str(yaml).unwrap()
    }

    fn run(days_ago: i64, kind: Mode, outcome: TargetOutcome) -> Entry {
        Entry {
            run: HistoryEntry {
                at: now() - Duration::days(days_ago),
                schedule: Schedule::Weekly,
                kind: kind.as_str().into(),
                ok: outcome.ok,
                status: KpiStatus::Green,
                run_url: None,
                total_seconds: None,
                rto_seconds: None,
            },
            action: kind.as_str().into(),
            operator: Operator::default(),
            targets: vec![outcome],
            report_sha256: String::new(),
        }
    }

    fn outcome(age_hours: u64, failed: &[&str], bytes: u64) -> TargetOutcome {
        TargetOutcome {
            name: "orders-db".into(),
            ok: failed.is_empty(),
            failed: failed.iter().map(|f| f.to_string()).collect(),
            age_seconds: Some(age_hours * 3600),
            objects: Some(10),
            bytes: Some(bytes),
            retention_slots: Some(10),
            retention_filled: Some(10),
            health: None,
            metrics: serde_json::Map::new(),
        }
    }

    const DB: &str = "name: orders-db\nformat: pg-dump\nrpo: 24h\nrto: 1h\n";

    #[test]
    fn a_fresh_passing_target_is_healthy_and_growth_is_measured() {
        let entries = [
            run(40, Mode::DryRun, outcome(2, &[], 1_000)),
            run(20, Mode::DryRun, outcome(2, &[], 2_000)),
            run(0, Mode::DryRun, outcome(2, &[], 5_000)),
        ];
        let m = build(&[target(DB)], &entries, now(), 80);
        let r = &m.targets[0];
        assert_eq!(r.health, 100, "{r:?}");
        assert_eq!(r.storage.growth_30d_bytes, Some(3_000));
        assert_eq!(r.pass_rate, Some(1.0));
        assert_eq!(m.unhealthy().count(), 0);
    }

    #[test]
    fn a_stale_critical_target_drops_under_80_and_says_why() {
        let entries = [
            run(2, Mode::DryRun, outcome(2, &[], 1_000)),
            run(0, Mode::DryRun, outcome(72, &["freshness"], 1_000)),
        ];
        let m = build(&[target(DB)], &entries, now(), 80);
        let r = &m.targets[0];
        // freshness 0/50, pass rate 1/2 of 20, retention 10/10: 20 of 80.
        assert_eq!(r.health, 25, "{r:?}");
        let unhealthy: Vec<&Row> = m.unhealthy().collect();
        assert_eq!(unhealthy.len(), 1);
        assert_eq!(
            health_detail(r, 80),
            "health 25 is under min-health 80: newest backup 3d old, beyond twice the rpo 24h; \
             1 of the last 2 runs passed"
        );
        // Not critical: reported, not under the threshold's rule.
        let m = build(
            &[target(&format!("{DB}critical: false\n"))],
            &entries,
            now(),
            80,
        );
        assert_eq!(m.unhealthy().count(), 0);
    }

    #[test]
    fn a_restore_counts_once_due_and_a_failed_health_check_alone_is_a_pass() {
        let with_restore = format!("{DB}restore: {{ engine: command, command: [\"true\"] }}\n");
        let entries = [run(0, Mode::DryRun, outcome(2, &["health"], 1_000))];
        // A young history: no restore due yet.
        let m = build(&[target(&with_restore)], &entries, now(), 80);
        assert_eq!(m.targets[0].health, 100, "{:?}", m.targets[0]);
        let entries = [
            run(120, Mode::DryRun, outcome(2, &[], 1_000)),
            run(0, Mode::DryRun, outcome(2, &[], 1_000)),
        ];
        let m = build(&[target(&with_restore)], &entries, now(), 80);
        // freshness 50 + pass rate 20 + retention 10 of 100: exactly the threshold, not under.
        assert_eq!(m.targets[0].health, 80, "{:?}", m.targets[0]);
        assert_eq!(m.unhealthy().count(), 0);
        assert!(
            m.targets[0]
                .deductions
                .contains(&"no full restore has run".to_string())
        );
    }
}
