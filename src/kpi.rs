//! The KPI rule, exactly:
//! - green: weekly.ok AND monthly.ok
//! - amber: exactly one of weekly.ok or monthly.ok
//! - red: neither
//! - downgrade: if quarterly is present and not ok, green → amber, amber → red (red stays red).
//!
//! A missing report counts as not ok (a missing quarterly is "not present": no downgrade). A
//! report older than its schedule's max-age counts as not ok and is marked stale, so a schedule
//! that silently stopped running cannot leave the badge green. Pure functions: no I/O, `now`
//! is an argument.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::{PerSchedule, ReportView, Schedule};
use crate::units::{rfc3339, short_duration};

pub const SCHEMA_VERSION: u32 = 1;

/// The config's max ages in seconds, one per schedule, as the KPI rule takes them.
pub fn max_ages(m: &crate::config::MaxAge) -> PerSchedule<u64> {
    PerSchedule {
        weekly: m.weekly.secs(),
        monthly: m.monthly.secs(),
        quarterly: m.quarterly.secs(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KpiStatus {
    Green,
    Amber,
    Red,
}

impl KpiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KpiStatus::Green => "green",
            KpiStatus::Amber => "amber",
            KpiStatus::Red => "red",
        }
    }

    fn downgraded(self) -> KpiStatus {
        match self {
            KpiStatus::Green => KpiStatus::Amber,
            KpiStatus::Amber | KpiStatus::Red => KpiStatus::Red,
        }
    }
}

impl std::fmt::Display for KpiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One schedule's slot in the KPI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub present: bool,
    pub ok: bool,
    pub stale: bool,
    #[serde(with = "rfc3339::option", default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Failed checks of the report behind this slot, kept so the reasons survive in the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Targets whose retained backups are less proven than `verify.min-coverage` asks (said in
    /// the reasons; the status is the checks').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<String>,
}

impl Slot {
    pub fn missing() -> Self {
        Slot {
            present: false,
            ok: false,
            stale: false,
            finished_at: None,
            metrics: serde_json::Map::new(),
            failures: Vec::new(),
            coverage: Vec::new(),
        }
    }

    /// The slot a report fills, before staleness is judged.
    pub fn from_view(view: &ReportView) -> Self {
        Slot {
            present: true,
            ok: view.ok,
            stale: false,
            finished_at: view.finished_at,
            metrics: view.metrics.clone(),
            failures: view.failures.clone(),
            coverage: view.coverage.clone(),
        }
    }

    /// Whether the report behind the slot claims to finish after `now` (beyond clock skew).
    fn finished_in_the_future(&self, now: DateTime<Utc>) -> bool {
        self.present && crate::report::not_from_the_future(self.finished_at, now).is_err()
    }

    /// Judges staleness at `now`: a report older than `max_age_secs` is stale and not ok, and
    /// one that claims to finish in the future is not ok either (it would never go stale).
    pub fn judged(mut self, max_age_secs: u64, now: DateTime<Utc>) -> Self {
        if self.finished_in_the_future(now) {
            self.ok = false;
        }
        if let Some(at) = self.finished_at {
            let age = (now - at).num_seconds();
            if self.present && age > 0 && age as u64 > max_age_secs {
                self.stale = true;
                self.ok = false;
            }
        }
        self
    }
}

/// The KPI JSON (`out/backup_kpi.json`, and the state `badges/backup_kpi.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    pub schema: u32,
    pub status: KpiStatus,
    pub downgraded: bool,
    #[serde(with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    /// True when any report behind it came from a chaos drill; such a KPI is never published.
    #[serde(default)]
    pub chaos: bool,
    /// The weekly, monthly and quarterly slots (three fields in the JSON).
    #[serde(flatten)]
    pub slots: PerSchedule<Slot>,
    /// What each alert channel was last told, per schedule; absent from older state files.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub alerts: AlertState,
    pub reasons: Vec<String>,
    /// In the state kept in the repository: the SHA-256 of the history's last line when this
    /// state was committed with it, so a history cut short shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_head: Option<String>,
}

// The alert state kept in the KPI state beside the slots: what each channel was last told.
// `notify::episode` decides what a channel hears from it; the model lives here, with the file
// it is kept in.

/// Schedule name → channel name → episode.
pub type AlertState = BTreeMap<String, BTreeMap<String, Episode>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeStatus {
    Failing,
    Recovered,
}

/// One channel's view of the latest failure episode of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Episode {
    pub status: EpisodeStatus,
    #[serde(with = "rfc3339")]
    pub opened_at: DateTime<Utc>,
    /// When the channel last accepted a message about this episode; none while it was never
    /// reached.
    #[serde(with = "rfc3339::option", default)]
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Where the channel's message about the episode can be read (the alert issue), for the
    /// status page's open incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Max ages per schedule, in seconds: built from the config's `kpi.max-age`
/// (`config::MaxAge::secs`, whose defaults are the only defaults), so the rule and the config
/// cannot disagree.
pub type MaxAges = PerSchedule<u64>;

/// The status from the three ok flags, and whether the downgrade applied. The rule itself.
pub fn status_of(weekly_ok: bool, monthly_ok: bool, quarterly: Option<bool>) -> (KpiStatus, bool) {
    let base = match (weekly_ok, monthly_ok) {
        (true, true) => KpiStatus::Green,
        (true, false) | (false, true) => KpiStatus::Amber,
        (false, false) => KpiStatus::Red,
    };
    match quarterly {
        Some(false) => (base.downgraded(), base != KpiStatus::Red),
        _ => (base, false),
    }
}

/// The inputs of one computation: each slot as read (not yet judged for staleness).
#[derive(Clone, Debug)]
pub struct Inputs {
    pub slots: PerSchedule<Slot>,
    pub chaos: bool,
}

/// Computes the KPI at `now`.
pub fn compute(inputs: Inputs, max_ages: MaxAges, now: DateTime<Utc>) -> Kpi {
    let mut slots = inputs.slots;
    for s in Schedule::ALL {
        slots[s] = std::mem::replace(&mut slots[s], Slot::missing()).judged(max_ages[s], now);
    }
    let quarterly = &slots.quarterly;
    let q = quarterly.present.then_some(quarterly.ok);
    let (status, downgraded) = status_of(slots.weekly.ok, slots.monthly.ok, q);
    let mut reasons = Vec::new();
    for (schedule, slot) in slots.iter() {
        reasons.extend(slot_reasons(schedule, slot, max_ages[schedule], now));
        if slot.present && !slot.stale {
            reasons.extend(
                slot.coverage
                    .iter()
                    .map(|line| format!("{schedule} coverage: {line}")),
            );
        }
    }
    if downgraded {
        reasons.push(format!(
            "downgraded to {status} because the quarterly full-restore check is not ok"
        ));
    }
    Kpi {
        schema: SCHEMA_VERSION,
        status,
        downgraded,
        generated_at: now,
        chaos: inputs.chaos,
        slots,
        alerts: Default::default(),
        reasons,
        history_head: None,
    }
}

fn kind_of(schedule: Schedule) -> &'static str {
    schedule.default_mode().as_str()
}

fn slot_reasons(schedule: Schedule, slot: &Slot, max_age: u64, now: DateTime<Utc>) -> Vec<String> {
    let kind = kind_of(schedule);
    if !slot.present {
        return match schedule {
            Schedule::Quarterly => Vec::new(),
            _ => vec![format!(
                "{schedule} {kind} report missing: counted as not ok"
            )],
        };
    }
    if slot.finished_in_the_future(now) {
        let at = slot
            .finished_at
            .map(|t| crate::report::rfc3339::format(&t))
            .unwrap_or_default();
        return vec![format!(
            "{schedule} {kind} report finished at {at}, in the future: counted as not ok"
        )];
    }
    if slot.stale {
        let age = slot
            .finished_at
            .map(|t| (now - t).num_seconds().max(0) as u64)
            .unwrap_or(0);
        return vec![format!(
            "{schedule} {kind} report is stale: finished {} ago (max-age {})",
            short_duration(age),
            short_duration(max_age)
        )];
    }
    if slot.ok {
        return Vec::new();
    }
    if slot.failures.is_empty() {
        return vec![format!("{schedule} {kind} failed")];
    }
    const SHOWN: usize = 5;
    let mut out: Vec<String> = slot
        .failures
        .iter()
        .take(SHOWN)
        .map(|f| format!("{schedule} {kind} failed: {f}"))
        .collect();
    if slot.failures.len() > SHOWN {
        out.push(format!(
            "{schedule} {kind}: {} more failed checks",
            slot.failures.len() - SHOWN
        ));
    }
    out
}

/// Merges several reports of one schedule (one per target, from a fan-out) into one slot:
/// ok when all are ok, finished when the oldest finished.
pub fn merge_views(views: &[ReportView]) -> Option<ReportView> {
    let first = views.first()?;
    let mut merged = first.clone();
    for v in &views[1..] {
        merged.ok &= v.ok;
        merged.chaos |= v.chaos;
        merged.finished_at = match (merged.finished_at, v.finished_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        merged.failures.extend(v.failures.iter().cloned());
        merged.metrics.extend(v.metrics.clone());
    }
    Some(merged)
}

/// Reads one schedule's report files into a slot; returns whether any was a chaos drill.
pub fn read_slot(paths: &[std::path::PathBuf]) -> anyhow::Result<(Slot, bool)> {
    let mut views = Vec::new();
    for path in paths {
        match crate::report::read_view(path)? {
            Some(view) => views.push(view),
            None => tracing::warn!("{} does not exist: counted as not present", path.display()),
        }
    }
    Ok(match merge_views(&views) {
        Some(view) => (Slot::from_view(&view), view.chaos),
        None => (Slot::missing(), false),
    })
}

/// Reads a previous KPI; `None` when the file does not exist.
pub fn read_state(path: &std::path::Path) -> anyhow::Result<Option<Kpi>> {
    use anyhow::Context;
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{}: not a KPI state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
    }

    fn slot(ok: bool, days_ago: i64) -> Slot {
        Slot {
            present: true,
            ok,
            stale: false,
            finished_at: Some(now() - chrono::Duration::days(days_ago)),
            metrics: serde_json::Map::new(),
            failures: Vec::new(),
            coverage: Vec::new(),
        }
    }

    /// The config's default max ages (`kpi.max-age`: 8d, 32d, 93d).
    fn max_ages() -> MaxAges {
        PerSchedule {
            weekly: 8 * 86_400,
            monthly: 32 * 86_400,
            quarterly: 93 * 86_400,
        }
    }

    fn run(w: Slot, m: Slot, q: Slot) -> Kpi {
        compute(
            Inputs {
                slots: PerSchedule {
                    weekly: w,
                    monthly: m,
                    quarterly: q,
                },
                chaos: false,
            },
            max_ages(),
            now(),
        )
    }

    /// All twelve combinations of the seed's rule, written out as a table.
    #[test]
    fn the_rule_for_all_twelve_combinations() {
        use KpiStatus::*;
        // (weekly ok, monthly ok, quarterly: None = absent / Some(ok)) → (status, downgraded)
        let table = [
            (true, true, None, Green, false),
            (true, true, Some(true), Green, false),
            (true, true, Some(false), Amber, true),
            (true, false, None, Amber, false),
            (true, false, Some(true), Amber, false),
            (true, false, Some(false), Red, true),
            (false, true, None, Amber, false),
            (false, true, Some(true), Amber, false),
            (false, true, Some(false), Red, true),
            (false, false, None, Red, false),
            (false, false, Some(true), Red, false),
            (false, false, Some(false), Red, false),
        ];
        for (w, m, q, want, down) in table {
            let quarterly = match q {
                None => Slot::missing(),
                Some(ok) => slot(ok, 10),
            };
            let kpi = run(slot(w, 1), slot(m, 5), quarterly);
            assert_eq!(
                (kpi.status, kpi.downgraded),
                (want, down),
                "weekly {w} monthly {m} quarterly {q:?}"
            );
            assert_eq!(status_of(w, m, q), (want, down));
        }
    }

    #[test]
    fn a_missing_weekly_or_monthly_counts_as_not_ok() {
        let kpi = run(Slot::missing(), slot(true, 5), Slot::missing());
        assert_eq!(kpi.status, KpiStatus::Amber);
        assert_eq!(
            kpi.reasons,
            ["weekly dry-run report missing: counted as not ok"]
        );
        let kpi = run(Slot::missing(), Slot::missing(), Slot::missing());
        assert_eq!(kpi.status, KpiStatus::Red);
        assert!(!kpi.slots.quarterly.present);
    }

    #[test]
    fn stale_reports_count_as_not_ok_and_say_so() {
        // weekly max-age is 8d: 9 days old is stale, 7 days old is not.
        let kpi = run(slot(true, 9), slot(true, 5), Slot::missing());
        assert_eq!(kpi.status, KpiStatus::Amber);
        assert!(kpi.slots.weekly.stale && !kpi.slots.weekly.ok);
        assert_eq!(
            kpi.reasons,
            ["weekly dry-run report is stale: finished 9d ago (max-age 8d)"]
        );
        let kpi = run(slot(true, 7), slot(true, 31), slot(true, 92));
        assert_eq!(kpi.status, KpiStatus::Green);
        // A stale quarterly is present and not ok: it downgrades.
        let kpi = run(slot(true, 1), slot(true, 1), slot(true, 94));
        assert_eq!((kpi.status, kpi.downgraded), (KpiStatus::Amber, true));
        assert!(kpi.slots.quarterly.stale);
    }

    #[test]
    fn failed_checks_become_reasons() {
        let mut q = slot(false, 3);
        q.failures = vec!["orders-db restore: exceeded rto 2h (2h 14m)".into()];
        let kpi = run(slot(true, 1), slot(true, 1), q);
        assert_eq!(
            kpi.reasons,
            [
                "quarterly full-restore failed: orders-db restore: exceeded rto 2h (2h 14m)",
                "downgraded to amber because the quarterly full-restore check is not ok",
            ]
        );
    }

    #[test]
    fn merged_views_are_ok_only_when_all_are() {
        let view = |ok: bool, day: u32| ReportView {
            ok,
            chaos: false,
            finished_at: Some(Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()),
            failures: if ok {
                vec![]
            } else {
                vec![format!("t{day} x: bad")]
            },
            metrics: serde_json::Map::new(),
            coverage: Vec::new(),
        };
        let merged = merge_views(&[view(true, 20), view(false, 18), view(true, 21)]).unwrap();
        assert!(!merged.ok);
        assert_eq!(merged.finished_at.unwrap().format("%d").to_string(), "18");
        assert_eq!(merged.failures, ["t18 x: bad"]);
        assert!(merge_views(&[]).is_none());
    }

    #[test]
    fn the_kpi_round_trips_through_json() {
        let kpi = run(slot(true, 1), slot(false, 2), Slot::missing());
        let text = serde_json::to_string(&kpi).unwrap();
        let back: Kpi = serde_json::from_str(&text).unwrap();
        assert_eq!(back, kpi);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["status"], "amber");
        assert_eq!(value["weekly"]["finished_at"], "2026-11-21T03:00:00Z");
    }

    #[test]
    fn a_slot_from_the_future_is_not_ok_and_says_so() {
        let future = |minutes: i64| Slot {
            finished_at: Some(now() + chrono::Duration::minutes(minutes)),
            ..slot(true, 0)
        };
        let kpi = run(future(60 * 24 * 365 * 7000), slot(true, 1), Slot::missing());
        assert!(!kpi.slots.weekly.ok && kpi.slots.weekly.present);
        assert_eq!(kpi.status, KpiStatus::Amber);
        assert_eq!(kpi.reasons.len(), 1, "{:?}", kpi.reasons);
        assert!(
            kpi.reasons[0].starts_with("weekly dry-run report finished at 9")
                && kpi.reasons[0].ends_with("in the future: counted as not ok"),
            "{:?}",
            kpi.reasons
        );
        // A runner's clock a little ahead is fine.
        let kpi = run(future(4), slot(true, 1), Slot::missing());
        assert_eq!(kpi.status, KpiStatus::Green, "{:?}", kpi.reasons);
    }
}
