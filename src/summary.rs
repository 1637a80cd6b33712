//! How a report reads to people: the Markdown job summary (bounded under GitHub's cap), the
//! per-target matrix table, and the verdict lines of the log. Every value from outside goes
//! through the escapers of [`crate::markup`].

use std::path::Path;

use crate::kpi::{Kpi, KpiStatus};
use crate::markup::{markdown_cell, markdown_code, markdown_text, visible};
use crate::report::Report;

/// The emoji shown beside a KPI status in the summary.
fn status_mark(status: KpiStatus) -> &'static str {
    match status {
        KpiStatus::Green => "🟢",
        KpiStatus::Amber => "🟠",
        KpiStatus::Red => "🔴",
    }
}

/// The job summary of a run: verdict, KPI and reasons, a table per target, restore metrics,
/// and the notes of the later steps (published, alerted, skipped).
pub fn summary_markdown(report: &Report, kpi: Option<&Kpi>, notes: &[String]) -> String {
    let mut md = String::new();
    let verdict = if report.ok { "✅ ok" } else { "❌ failed" };
    md.push_str(&format!(
        "## dr-action: {} {} — {verdict}\n\n",
        report.schedule,
        report.kind.as_str()
    ));
    if report.chaos {
        md.push_str("> [!WARNING]\n> **Chaos drill**: this run failed on purpose to prove that alerts work. The KPI state and the badge are left alone.\n\n");
    }
    if let Some(run) = &report.run {
        md.push_str(&format!(
            "Run: [{} #{}]({})\n\n",
            run.repository, run.run_id, run.url
        ));
    }
    if let Some(kpi) = kpi {
        let down = if kpi.downgraded { " (downgraded)" } else { "" };
        md.push_str(&format!(
            "### KPI: {} {}{down}\n\n",
            status_mark(kpi.status),
            kpi.status
        ));
        for reason in &kpi.reasons {
            md.push_str(&format!("- {}\n", markdown_text(reason)));
        }
        if !kpi.reasons.is_empty() {
            md.push('\n');
        }
    }
    for target in &report.targets {
        let mark = if target.ok { "✅" } else { "❌" };
        md.push_str(&format!("### {mark} {}\n\n", markdown_text(&target.name)));
        if let Some(latest) = &target.latest {
            md.push_str(&format!(
                "Newest backup: {} ({} bytes, {} old)\n\n",
                markdown_code(&latest.key),
                latest.size,
                crate::units::short_duration(latest.age_seconds)
            ));
        }
        md.push_str("| check | result | detail |\n|---|---|---|\n");
        for c in &target.checks {
            let r = if c.ok { "✅ ok" } else { "❌ failed" };
            md.push_str(&format!(
                "| {} | {r} | {} |\n",
                markdown_cell(&c.name),
                markdown_cell(&c.detail)
            ));
        }
        md.push('\n');
        if !target.metrics.is_empty() {
            md.push_str("| restore metric | value |\n|---|---|\n");
            for (k, v) in &target.metrics {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                md.push_str(&format!(
                    "| {} | {} |\n",
                    markdown_cell(k),
                    markdown_cell(&value)
                ));
            }
            md.push('\n');
        }
        if let Some(v) = &target.verify {
            md.push_str(&verification_markdown(v));
        }
    }
    if let Some(cost) = &report.cost {
        md.push_str(&format!(
            "Cost of this run: {}\n\n",
            markdown_text(&cost.describe())
        ));
    }
    if !notes.is_empty() {
        md.push_str("### Steps\n\n");
        for n in notes {
            md.push_str(&format!("- {}\n", markdown_text(n)));
        }
        md.push('\n');
    }
    md
}

/// A target's coverage and what this run deep-read, under its checks.
fn verification_markdown(v: &crate::ledger::Verification) -> String {
    let mark = if v.coverage.short() { "⚠️" } else { "✅" };
    let mut md = format!(
        "Coverage {mark}: {} (want {}%); deep-read this run: {}\n\n",
        markdown_text(&v.coverage.describe()),
        v.coverage.min_percent,
        v.verified.len()
    );
    if v.deferred > 0 {
        md.push_str(&format!(
            "{} due backups left for later runs by the budget.\n\n",
            v.deferred
        ));
    }
    md
}

/// The most a step's job summary may hold: GitHub refuses a summary over 1 MiB, so this stays
/// a little under it.
pub const SUMMARY_LIMIT: usize = 1024 * 1024 - 8 * 1024;

/// `markdown` cut to at most `limit` bytes at a line boundary, with a closing line saying it was
/// cut and where the rest is; as it is when it fits.
pub fn bounded(markdown: String, limit: usize) -> String {
    if markdown.len() <= limit {
        return markdown;
    }
    let note = format!(
        "\n> [!NOTE]\n> Cut at {} of {}: a job summary holds at most 1 MiB. Every result is \
         in the report file.\n\n",
        crate::units::short_size(limit as u64),
        crate::units::short_size(markdown.len() as u64)
    );
    let budget = limit.saturating_sub(note.len());
    let mut end = budget.min(markdown.len());
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let cut = markdown[..end].rfind('\n').map_or(0, |i| i + 1);
    let mut out = markdown[..cut].to_string();
    out.push_str(&note);
    out
}

fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "—".to_string(), show)
}

/// The per-target matrix as a Markdown table: objectives against what was achieved, the last
/// results, retention, storage and the health score.
pub fn matrix_markdown(matrix: &crate::matrix::Matrix) -> String {
    use crate::units::{short_duration, short_size};
    if matrix.targets.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "### Targets: health (min-health {})\n\n| target | health | newest backup (rpo) | last restore (rto) | last dry-run | retention | stored | 30-day growth |\n|---|---|---|---|---|---|---|---|\n",
        matrix.min_health
    );
    for r in &matrix.targets {
        let mark = if r.critical && r.health < matrix.min_health {
            "❌"
        } else if r.health < matrix.min_health {
            "⚠️"
        } else {
            "✅"
        };
        let critical = if r.critical { "" } else { " (not critical)" };
        let backup = format!(
            "{} ({})",
            or_dash(r.backup_age_seconds, short_duration),
            short_duration(r.rpo_seconds)
        );
        let restore = match (&r.last_restore, r.restore_seconds) {
            (Some(ran), secs) => format!(
                "{} {} on {} ({})",
                if ran.ok { "✅" } else { "❌" },
                or_dash(secs, |s| short_duration(s.round() as u64)),
                ran.at.format("%Y-%m-%d"),
                or_dash(r.rto_seconds, short_duration)
            ),
            (None, _) => "—".to_string(),
        };
        let dry = or_dash(r.last_dry_run.as_ref(), |ran| {
            format!(
                "{} {}",
                if ran.ok { "✅" } else { "❌" },
                ran.at.format("%Y-%m-%d")
            )
        });
        let retention = or_dash(r.retention.as_ref(), |f| {
            format!("{}/{}", f.filled, f.slots)
        });
        let stored = match (r.storage.objects, r.storage.bytes) {
            (Some(n), Some(b)) => format!("{n} · {}", short_size(b)),
            _ => "—".to_string(),
        };
        let growth = or_dash(r.storage.growth_30d_bytes, |g| {
            let sign = if g < 0 { "−" } else { "+" };
            format!("{sign}{}", short_size(g.unsigned_abs()))
        });
        md.push_str(&format!(
            "| {}{critical} | {mark} {} | {backup} | {restore} | {dry} | {retention} | {stored} | {growth} |\n",
            markdown_cell(&r.name),
            r.health
        ));
    }
    md.push('\n');
    md
}

/// The line that ends a run of checks: the verdict and where the report is.
pub fn verdict_line(report: &Report, path: &Path) -> String {
    let failed = report.targets.iter().filter(|t| !t.ok).count();
    let warned = report
        .targets
        .iter()
        .filter(|t| !t.ok && !t.critical)
        .count();
    let verdict = if report.ok && warned > 0 {
        format!(
            "ok, with warnings ({warned} of {} targets, not critical, failed)",
            report.targets.len()
        )
    } else if report.ok {
        "ok".to_string()
    } else {
        format!("FAILED ({failed} of {} targets)", report.targets.len())
    };
    let chaos = if report.chaos { " [chaos drill]" } else { "" };
    format!(
        "{} {}{chaos}: {verdict} — report {}",
        report.schedule,
        report.kind.as_str(),
        path.display()
    )
}

/// A finished target: `ok`/`FAIL` and its name, then each failed check.
pub fn target_lines(t: &crate::report::TargetReport) -> Vec<String> {
    let mut lines = vec![format!(
        "  {} {}",
        match (t.ok, t.critical) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            // Not critical: the failure is a warning and leaves the run ok.
            (false, false) => "WARN",
        },
        t.name
    )];
    for c in t.failed_checks() {
        // A detail may quote an object key: one line, so a key cannot forge a workflow
        // command in the job log.
        lines.push(format!("         {}: {}", c.name, visible(&c.detail)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::{Inputs, Slot};
    use crate::report::Check;
    use crate::report::{Latest, Mode, Schedule, TargetReport};
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_summary_shows_each_targets_coverage_and_the_runs_cost() {
        use crate::ledger::{Coverage, Verification};
        let mut t = TargetReport::new("db", None, vec![Check::pass("verify", "read")]);
        t.verify = Some(Verification {
            coverage: Coverage {
                retained: 40,
                proven: 12,
                fresh: 10,
                oldest_proof: None,
                re_read_after_secs: 90 * 86_400,
                min_percent: 100,
            },
            deferred: 30,
            ..Verification::default()
        });
        let mut r = crate::report::sample(Mode::DryRun, Schedule::Monthly, false, vec![t]);
        let counts = crate::store::counting::Counts {
            list: 1,
            head: 11,
            range: 11,
            get: 10,
            bytes: 1_000_000_000,
        };
        r.cost = Some(crate::report::Cost::of(
            counts,
            &crate::config::Prices::default(),
        ));
        let md = summary_markdown(&r, None, &[]);
        assert!(
            md.contains(
                "Coverage ⚠️: 10 of 40 retained backups proven within 90d (25%) (want 100%); deep-read this run: 0\n\n30 due backups left for later runs by the budget."
            ),
            "{md}"
        );
        assert!(
            md.contains("Cost of this run: 1 LIST, 11 HEAD, 21 GET (11 ranged), ")
                && md.contains(" read ≈ $0.0900\n"),
            "{md}"
        );
    }

    #[test]
    fn the_job_summary_stays_under_githubs_cap_with_many_targets() {
        let targets: Vec<TargetReport> = (0..20_000)
            .map(|i| {
                TargetReport::new(
                    &format!("target-{i:05}"),
                    None,
                    vec![Check::fail("listing", "x".repeat(200))],
                )
            })
            .collect();
        let report = crate::report::sample(Mode::DryRun, Schedule::Weekly, false, targets);
        let full = summary_markdown(&report, None, &[]);
        assert!(full.len() > 4 * 1024 * 1024, "{}", full.len());
        let cut = bounded(full, SUMMARY_LIMIT);
        assert!(cut.len() <= SUMMARY_LIMIT, "{}", cut.len());
        assert!(cut.contains("target-00000"));
        assert!(
            cut.trim_end()
                .ends_with("Every result is in the report file.")
        );
        // Cut between lines: no table row is left half-written.
        let before_note = cut.split("\n> [!NOTE]").next().unwrap();
        assert!(before_note.ends_with('\n'));
        assert_eq!(bounded("short\n".into(), SUMMARY_LIMIT), "short\n");
    }

    #[test]
    fn the_job_summary_is_stable() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap();
        let mut restored = TargetReport::new(
            "orders-db",
            Some(Latest {
                key: "pwm/orders/2026-11-22.dump.gz".into(),
                size: 52_428_800,
                last_modified: at,
                age_seconds: 3000,
            }),
            vec![
                Check::pass("freshness", "newest is 50m old (rpo 24h)"),
                Check::fail("restore", "exceeded rto 2h | took 2h 14m"),
            ],
        );
        restored
            .metrics
            .insert("total_seconds".into(), serde_json::json!(8040));
        restored
            .metrics
            .insert("rto_met".into(), serde_json::json!(false));
        let report = crate::report::sample(
            Mode::FullRestore,
            Schedule::Quarterly,
            false,
            vec![restored],
        );
        let mut q = Slot::from_view(
            &crate::report::parse_view(&serde_json::to_string(&report).unwrap()).unwrap(),
        );
        q.finished_at = Some(at);
        let ok = Slot {
            present: true,
            ok: true,
            stale: false,
            finished_at: Some(at),
            metrics: serde_json::Map::new(),
            failures: Vec::new(),
            coverage: Vec::new(),
        };
        let kpi = crate::kpi::compute(
            Inputs {
                slots: crate::report::PerSchedule {
                    weekly: ok.clone(),
                    monthly: ok,
                    quarterly: q,
                },
                chaos: false,
            },
            crate::kpi::max_ages(&crate::config::MaxAge::default()),
            at,
        );
        let md = summary_markdown(
            &report,
            Some(&kpi),
            &["issue opened: https://github.com/acme/app/issues/1".into()],
        );
        insta::assert_snapshot!(md);
    }
}
