//! The report JSON `check` writes and the loose view of it `kpi` reads: any JSON
//! object with a boolean `ok` is a report, so other tools can feed the KPI.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who started the run and where it ran: facts of the workflow, carried in the report.
pub use crate::workflow::{Operator, RunInfo};

pub const SCHEMA_VERSION: u32 = 1;

/// Which schedule a report belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Weekly,
    Monthly,
    Quarterly,
}

impl Schedule {
    pub const ALL: [Schedule; 3] = [Schedule::Weekly, Schedule::Monthly, Schedule::Quarterly];

    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Weekly => "weekly",
            Schedule::Monthly => "monthly",
            Schedule::Quarterly => "quarterly",
        }
    }

    /// The mode a schedule runs in unless `--mode` says otherwise.
    pub fn default_mode(self) -> Mode {
        match self {
            Schedule::Weekly | Schedule::Monthly => Mode::DryRun,
            Schedule::Quarterly => Mode::FullRestore,
        }
    }

    /// The seed's report file names.
    pub fn default_report_name(self) -> &'static str {
        match self {
            Schedule::Weekly => "dr_dryrun_weekly.json",
            Schedule::Monthly => "dr_dryrun_result.json",
            Schedule::Quarterly => "dr_fullrestore_summary.json",
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per schedule, indexed by [`Schedule`]: the KPI's slots, the max ages. Serialised as
/// the three named fields, so it can be flattened into a larger object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerSchedule<T> {
    pub weekly: T,
    pub monthly: T,
    pub quarterly: T,
}

impl<T> PerSchedule<T> {
    /// The same value for every schedule.
    pub fn all(value: T) -> Self
    where
        T: Clone,
    {
        PerSchedule {
            weekly: value.clone(),
            monthly: value.clone(),
            quarterly: value,
        }
    }

    /// A value computed from each schedule.
    pub fn from_fn(mut f: impl FnMut(Schedule) -> T) -> Self {
        PerSchedule {
            weekly: f(Schedule::Weekly),
            monthly: f(Schedule::Monthly),
            quarterly: f(Schedule::Quarterly),
        }
    }

    /// Each schedule with its value, in [`Schedule::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Schedule, &T)> {
        Schedule::ALL.into_iter().map(move |s| (s, &self[s]))
    }
}

impl<T> std::ops::Index<Schedule> for PerSchedule<T> {
    type Output = T;
    fn index(&self, s: Schedule) -> &T {
        match s {
            Schedule::Weekly => &self.weekly,
            Schedule::Monthly => &self.monthly,
            Schedule::Quarterly => &self.quarterly,
        }
    }
}

impl<T> std::ops::IndexMut<Schedule> for PerSchedule<T> {
    fn index_mut(&mut self, s: Schedule) -> &mut T {
        match s {
            Schedule::Weekly => &mut self.weekly,
            Schedule::Monthly => &mut self.monthly,
            Schedule::Quarterly => &mut self.quarterly,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    DryRun,
    FullRestore,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::FullRestore => "full-restore",
        }
    }
}

/// The newest backup of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latest {
    pub key: String,
    pub size: u64,
    #[serde(with = "rfc3339")]
    pub last_modified: DateTime<Utc>,
    pub age_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub name: String,
    pub ok: bool,
    pub latest: Option<Latest>,
    pub checks: Vec<Check>,
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// What the run learnt about the backups themselves, for the history, the matrix and the
    /// attestation.
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
    /// The target's `critical:`; a failure of a target that is not critical is a warning and
    /// leaves the report ok. Absent in reports written before it existed: critical.
    #[serde(default = "critical_by_default")]
    pub critical: bool,
    /// Monthly with `verify:`: the backups deep-read this run, the ledger entries pruned and
    /// the coverage of the retained backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::ledger::Verification>,
}

fn critical_by_default() -> bool {
    true
}

/// Facts about a target's backups that a run established, beyond its checks' verdicts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Where the backup checked lives, as a URI (`s3://bucket/key`, `file:///folder/key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The SHA-256 of that backup's bytes, computed by this run and found equal to the stored
    /// digest or the sidecar. Absent when the run did not verify one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// How many backups match the target, and their bytes together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The retention slots the policy asks for, and how many hold a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_slots: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_filled: Option<u64>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        *self == Evidence::default()
    }
}

impl TargetReport {
    pub fn new(name: &str, latest: Option<Latest>, checks: Vec<Check>) -> Self {
        let ok = !checks.is_empty() && checks.iter().all(|c| c.ok);
        TargetReport {
            name: name.to_string(),
            ok,
            latest,
            checks,
            metrics: serde_json::Map::new(),
            evidence: Evidence::default(),
            critical: true,
            verify: None,
        }
    }

    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// What `check` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub kind: Mode,
    pub schedule: Schedule,
    pub ok: bool,
    pub chaos: bool,
    #[serde(with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub finished_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    pub targets: Vec<TargetReport>,
    /// What the run asked of the store and what that costs, at the configured prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
}

/// The requests a run made to the store, by kind, the bytes it read, and their price.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    #[serde(flatten)]
    pub counts: crate::store::counting::Counts,
    /// The estimate in dollars: LIST requests, GET and HEAD requests, and bytes read, each at
    /// its price (`prices:` in the config).
    pub dollars: f64,
}

impl Cost {
    pub fn of(counts: crate::store::counting::Counts, prices: &crate::config::Prices) -> Cost {
        let gets = counts.head + counts.range + counts.get;
        let dollars = counts.list as f64 / 1000.0 * prices.list_per_1000
            + gets as f64 / 1000.0 * prices.get_per_1000
            + counts.bytes as f64 / 1e9 * prices.per_gb;
        Cost { counts, dollars }
    }

    /// `3 LIST, 12 HEAD, 40 GET (10 ranged), 1.2 MiB read ≈ $0.0001`.
    pub fn describe(&self) -> String {
        let c = &self.counts;
        format!(
            "{} LIST, {} HEAD, {} GET ({} ranged), {} read ≈ ${:.4}",
            c.list,
            c.head,
            c.get + c.range,
            c.range,
            crate::units::short_size(c.bytes),
            self.dollars
        )
    }
}

impl Report {
    /// A report is ok when it checked at least one target and every critical target is ok: a
    /// target that is not critical fails as a warning.
    pub fn ok_of(targets: &[TargetReport]) -> bool {
        !targets.is_empty() && targets.iter().all(|t| t.ok || !t.critical)
    }

    /// One line per failed check: `orders-db freshness: newest is 3d old (rpo 24h)`; a target
    /// that is not critical says so: `logs (not critical) freshness: …`.
    pub fn failure_lines(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.failed_checks()
                    .map(move |c| failure_line(&t.name, t.critical, &c.name, &c.detail))
            })
            .collect()
    }

    /// The failed checks of targets that are not critical: warnings, not failures.
    pub fn warning_lines(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter(|t| !t.critical)
            .flat_map(|t| {
                t.failed_checks()
                    .map(move |c| failure_line(&t.name, false, &c.name, &c.detail))
            })
            .collect()
    }
}

fn failure_line(target: &str, critical: bool, check: &str, detail: &str) -> String {
    if critical {
        format!("{target} {check}: {detail}")
    } else {
        format!("{target} (not critical) {check}: {detail}")
    }
}

/// The part of any report the KPI needs. Only `ok` is required.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportView {
    pub ok: bool,
    pub chaos: bool,
    pub finished_at: Option<DateTime<Utc>>,
    /// Failed checks, when the report lists targets in this tool's shape.
    pub failures: Vec<String>,
    /// Each target's metrics, when present (restore timings).
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Targets whose retained backups are less proven than `verify.min-coverage` asks.
    pub coverage: Vec<String>,
}

impl From<&Report> for ReportView {
    /// The view of a report this tool wrote, without a trip through JSON. `finished_at` keeps
    /// whole seconds, as the report file does.
    fn from(report: &Report) -> Self {
        use chrono::SubsecRound;
        let metrics = report
            .targets
            .iter()
            .filter(|t| !t.metrics.is_empty())
            .map(|t| (t.name.clone(), serde_json::Value::Object(t.metrics.clone())))
            .collect();
        ReportView {
            ok: report.ok,
            chaos: report.chaos,
            finished_at: Some(report.finished_at.trunc_subsecs(0)),
            failures: report.failure_lines(),
            metrics,
            coverage: report
                .targets
                .iter()
                .filter_map(|t| t.verify.as_ref()?.coverage.shortfall(&t.name))
                .collect(),
        }
    }
}

/// A file that is not a report.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct NotAReport {
    pub path: String,
    pub reason: String,
}

/// Reads a report file. `Ok(None)` when the file does not exist.
pub fn read_view(path: &Path) -> Result<Option<ReportView>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading report {}", path.display())),
    };
    let view = parse_view(&text)
        .and_then(|view| not_from_the_future(view.finished_at, Utc::now()).map(|()| view))
        .map_err(|reason| NotAReport {
            path: path.display().to_string(),
            reason,
        })?;
    Ok(Some(view))
}

/// How far past this machine's clock a report's `finished_at` may lie: runners' clocks drift
/// by seconds, not more.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Refuses a `finished_at` later than `now` (plus [`CLOCK_SKEW`]): such a report would never
/// go stale, and could keep a badge green forever.
pub fn not_from_the_future(
    finished_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match finished_at {
        Some(at)
            if now
                .checked_add_signed(CLOCK_SKEW)
                .is_some_and(|limit| at > limit) =>
        {
            Err(format!(
                "not a report: `finished_at` {} is in the future (now is {})",
                rfc3339::format(&at),
                rfc3339::format(&now)
            ))
        }
        _ => Ok(()),
    }
}

/// Parses any JSON object with a boolean `ok` into the view the KPI needs.
pub fn parse_view(text: &str) -> Result<ReportView, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or("not a report: the JSON is not an object")?;
    let ok = obj
        .get("ok")
        .and_then(serde_json::Value::as_bool)
        .ok_or("not a report: no boolean top-level `ok`")?;
    let finished_at = match obj.get("finished_at") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or("`finished_at` is not an RFC 3339 time")?,
        ),
    };
    let chaos = obj
        .get("chaos")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let mut failures = Vec::new();
    let mut metrics = serde_json::Map::new();
    let mut coverage = Vec::new();
    for target in obj
        .get("targets")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let name = target.get("name").and_then(|n| n.as_str()).unwrap_or("?");
        let critical = target
            .get("critical")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true);
        for check in target
            .get("checks")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
        {
            if check.get("ok").and_then(serde_json::Value::as_bool) == Some(false) {
                let cname = check.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                let detail = check.get("detail").and_then(|d| d.as_str()).unwrap_or("");
                failures.push(failure_line(name, critical, cname, detail));
            }
        }
        if let Some(m) = target.get("metrics").and_then(|m| m.as_object())
            && !m.is_empty()
        {
            metrics.insert(name.to_string(), serde_json::Value::Object(m.clone()));
        }
        let shortfall = target
            .get("verify")
            .and_then(|v| v.get("coverage"))
            .and_then(|c| serde_json::from_value::<crate::ledger::Coverage>(c.clone()).ok())
            .and_then(|c| c.shortfall(name));
        coverage.extend(shortfall);
    }
    Ok(ReportView {
        ok,
        chaos,
        finished_at,
        failures,
        metrics,
        coverage,
    })
}

/// RFC 3339 in UTC with a `Z` and whole seconds, as in the spec's examples.
/// One named check of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            ok: false,
            detail: detail.into(),
        }
    }

    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            ok,
            detail: detail.into(),
        }
    }
}

pub use crate::units::rfc3339;

/// A report as a run in `acme/app` (run 123) writes it on 2026-11-22 at 03:00:04 UTC, for the
/// unit tests of the modules that render reports (summary, issue body, Slack payload).
#[cfg(test)]
pub(crate) fn sample(
    kind: Mode,
    schedule: Schedule,
    chaos: bool,
    targets: Vec<TargetReport>,
) -> Report {
    use chrono::TimeZone;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 4).unwrap();
    Report {
        schema: SCHEMA_VERSION,
        kind,
        schedule,
        ok: Report::ok_of(&targets),
        chaos,
        started_at: at,
        finished_at: at,
        run: Some(RunInfo {
            repository: "acme/app".into(),
            run_id: "123".into(),
            url: "https://github.com/acme/app/actions/runs/123".into(),
        }),
        targets,
        cost: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_viewed_directly_equals_its_json_read_back() {
        let mut failing = TargetReport::new(
            "orders-db",
            None,
            vec![
                Check::pass("listing", "3 backups"),
                Check::fail("freshness", "newest is 3d old (rpo 24h)"),
            ],
        );
        failing
            .metrics
            .insert("total_seconds".into(), serde_json::json!(12.5));
        let quiet = TargetReport::new("files", None, vec![Check::pass("listing", "1 backup")]);
        let mut report = sample(
            Mode::FullRestore,
            Schedule::Quarterly,
            false,
            vec![failing, quiet],
        );
        report.finished_at += chrono::TimeDelta::milliseconds(750);
        let direct = ReportView::from(&report);
        let read_back = parse_view(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(direct, read_back);
        assert_eq!(direct.failures.len(), 1);
        assert!(direct.metrics.contains_key("orders-db") && !direct.metrics.contains_key("files"));
    }

    #[test]
    fn any_object_with_boolean_ok_is_a_report() {
        let v = parse_view(r#"{"ok": true}"#).unwrap();
        assert!(v.ok);
        assert_eq!(v.finished_at, None);
        let v = parse_view(r#"{"ok": false, "finished_at": "2026-11-22T03:00:04Z"}"#).unwrap();
        assert!(!v.ok);
        assert_eq!(
            rfc3339::format(&v.finished_at.unwrap()),
            "2026-11-22T03:00:04Z"
        );
    }

    #[test]
    fn things_that_are_not_reports_say_why() {
        assert!(parse_view("not json").unwrap_err().starts_with("not JSON"));
        assert!(parse_view("[1]").unwrap_err().contains("not an object"));
        assert!(
            parse_view(r#"{"ok": "yes"}"#)
                .unwrap_err()
                .contains("boolean")
        );
        assert!(
            parse_view(r#"{"ok": true, "finished_at": 5}"#)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn failed_checks_and_metrics_are_collected() {
        let text = r#"{"ok": false, "targets": [{"name": "db", "ok": false,
            "checks": [{"name": "freshness", "ok": false, "detail": "too old"},
                       {"name": "size", "ok": true, "detail": "fine"}],
            "metrics": {"total_seconds": 12}}]}"#;
        let v = parse_view(text).unwrap();
        assert_eq!(v.failures, ["db freshness: too old"]);
        assert_eq!(v.metrics["db"]["total_seconds"], 12);
    }
}
