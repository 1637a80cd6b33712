//! A report as OpenMetrics text, for Prometheus' node-exporter textfile collector (drop the
//! file in its folder) or any scraper of the format. Every series carries the schedule, so the
//! files of the weekly and the quarterly run can sit side by side; target names come from the
//! config, so label values are escaped as the format requires (`\\`, `\"`, `\n`).
//!
//! Written by hand rather than with the `prometheus-client` crate: that crate builds a
//! long-lived registry for a server to scrape, and its text encoder writes label values as
//! given, unescaped, which a target name holding a quote would break.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::report::Report;

/// Figures that come from outside the report (the per-target health score, when the
/// caller has one); a family with no values is left out.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    /// Target name → health score 0–100.
    pub health: BTreeMap<String, f64>,
}

/// One metric family: its name (ending in its unit when it has one), unit, help,
/// and samples as (labels, value).
struct Family {
    name: &'static str,
    unit: Option<&'static str>,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, unit: Option<&'static str>, help: &'static str) -> Self {
        Family {
            name,
            unit,
            help,
            samples: Vec::new(),
        }
    }
}

/// The OpenMetrics text for `report` (ends with `# EOF`).
pub fn render(report: &Report, extra: &Extra) -> String {
    let schedule = report.schedule.as_str().to_string();
    let mode = report.kind.as_str().to_string();
    let run_labels = || vec![("schedule", schedule.clone()), ("mode", mode.clone())];
    let target_labels = |t: &str| {
        vec![
            ("schedule", schedule.clone()),
            ("mode", mode.clone()),
            ("target", t.to_string()),
        ]
    };

    let mut ok = Family::new(
        "dr_run_ok",
        None,
        "1 when every critical target passed every check of this run, else 0.",
    );
    ok.samples.push((run_labels(), flag(report.ok)));
    let mut chaos = Family::new(
        "dr_run_chaos",
        None,
        "1 when the run was a chaos drill (it failed on purpose).",
    );
    chaos.samples.push((run_labels(), flag(report.chaos)));
    let mut finished = Family::new(
        "dr_run_finished_timestamp_seconds",
        Some("seconds"),
        "When the run finished, in seconds since the Unix epoch.",
    );
    finished
        .samples
        .push((run_labels(), report.finished_at.timestamp() as f64));
    let mut duration = Family::new(
        "dr_run_duration_seconds",
        Some("seconds"),
        "How long the run's checks took.",
    );
    duration.samples.push((
        run_labels(),
        (report.finished_at - report.started_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0,
    ));

    let mut target_ok = Family::new(
        "dr_target_ok",
        None,
        "1 when the target passed every check, else 0.",
    );
    let mut critical = Family::new(
        "dr_target_critical",
        None,
        "1 when a failure of the target is critical (it turns the run not ok).",
    );
    let mut age = Family::new(
        "dr_backup_newest_age_seconds",
        Some("seconds"),
        "Age of the target's newest backup when the run looked.",
    );
    let mut size = Family::new(
        "dr_backup_newest_size_bytes",
        Some("bytes"),
        "Size of the target's newest backup as stored.",
    );
    let mut restore = Family::new(
        "dr_restore_seconds",
        Some("seconds"),
        "Total time of the full restore (download, restore, validations).",
    );
    let mut check = Family::new(
        "dr_check_ok",
        None,
        "1 when the named check of the target passed, else 0.",
    );
    let mut health = Family::new(
        "dr_target_health_score",
        None,
        "The target's backup health score, 0 to 100.",
    );
    for t in &report.targets {
        target_ok.samples.push((target_labels(&t.name), flag(t.ok)));
        critical
            .samples
            .push((target_labels(&t.name), flag(t.critical)));
        if let Some(latest) = &t.latest {
            age.samples
                .push((target_labels(&t.name), latest.age_seconds as f64));
            size.samples
                .push((target_labels(&t.name), latest.size as f64));
        }
        if let Some(total) = t.metrics.get("total_seconds").and_then(|v| v.as_f64()) {
            restore.samples.push((target_labels(&t.name), total));
        }
        for c in &t.checks {
            let mut labels = target_labels(&t.name);
            labels.push(("check", c.name.clone()));
            check.samples.push((labels, flag(c.ok)));
        }
        if let Some(score) = extra.health.get(&t.name) {
            health.samples.push((target_labels(&t.name), *score));
        }
    }

    let mut text = String::new();
    for family in [
        ok, chaos, finished, duration, target_ok, critical, age, size, restore, check, health,
    ] {
        if family.samples.is_empty() {
            continue;
        }
        let _ = writeln!(text, "# TYPE {} gauge", family.name);
        if let Some(unit) = family.unit {
            let _ = writeln!(text, "# UNIT {} {unit}", family.name);
        }
        let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
        for (labels, value) in &family.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(
                text,
                "{}{{{}}} {}",
                family.name,
                labels.join(","),
                number(*value)
            );
        }
    }
    text.push_str("# EOF\n");
    text
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A sample value: whole numbers without a fraction, others as Rust prints them (which the
/// format accepts), never NaN or an infinity from a report.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "NaN".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A label value as the format wants it inside double quotes.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Mode, Schedule, TargetReport, sample};

    #[test]
    fn label_values_with_quotes_backslashes_and_newlines_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let report = sample(
            Mode::DryRun,
            Schedule::Weekly,
            false,
            vec![TargetReport::new(
                "eu \"west\"\\1",
                None,
                vec![Check::pass("listing", "1 backup")],
            )],
        );
        let text = render(&report, &Extra::default());
        assert!(
            text.contains(
                r#"dr_target_ok{schedule="weekly",mode="dry-run",target="eu \"west\"\\1"} 1"#
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        // No health scores given: the family is left out rather than written empty.
        assert!(!text.contains("dr_target_health_score"));
    }

    #[test]
    fn restore_seconds_and_health_scores_are_written_when_known() {
        let mut restored = TargetReport::new("db", None, vec![Check::pass("restore", "ok")]);
        restored
            .metrics
            .insert("total_seconds".into(), serde_json::json!(12.5));
        let report = sample(
            Mode::FullRestore,
            Schedule::Quarterly,
            false,
            vec![restored],
        );
        let extra = Extra {
            health: BTreeMap::from([("db".to_string(), 87.0)]),
        };
        let text = render(&report, &extra);
        assert!(
            text.contains(
                "dr_restore_seconds{schedule=\"quarterly\",mode=\"full-restore\",target=\"db\"} 12.5\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "dr_target_health_score{schedule=\"quarterly\",mode=\"full-restore\",target=\"db\"} 87\n"
            ),
            "{text}"
        );
    }
}
