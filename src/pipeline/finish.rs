//! How a run ends: its lines on the log (notes, errors and warnings as workflow commands), the
//! job summary with the matrix, the step outputs, and the exit code — 2 when a step failed (an
//! alert not delivered, a publish refused), else 1 when checks failed, else 0. A run a signal
//! cancelled ends here too, with the report of what ran and nothing else.

use std::path::Path;

use anyhow::Result;

use super::Journal;
use crate::attest;
use crate::cancel::Cancel;
use crate::error::Outcome;
use crate::kpi::Kpi;
use crate::matrix::Matrix;
use crate::notify::{self, Delivery};
use crate::output::Sink;
use crate::report::Report;
use crate::summary::{self, summary_markdown, verdict_line};
use crate::workflow::Workflow;

/// What a finished run has to show.
pub struct Ending<'a> {
    pub report: &'a Report,
    pub report_path: &'a Path,
    pub statement: &'a attest::Written,
    pub kpi: &'a Kpi,
    pub kpi_path: &'a Path,
    pub matrix: &'a Matrix,
    pub delivery: Delivery,
    pub badge_changed: bool,
}

/// Writes the run's lines, summary and outputs; returns the exit outcome.
pub fn finish(
    wf: &Workflow,
    end: Ending<'_>,
    mut journal: Journal,
    out: &dyn Sink,
) -> Result<Outcome> {
    let Ending {
        report, delivery, ..
    } = end;
    journal.notes.extend(delivery.notes);
    journal.errors.extend(delivery.errors);
    if delivery.unheard && report.chaos {
        // A drill exists to prove the alerts arrive; with nowhere to send them it proved nothing.
        journal.errors.push(
            "chaos drill: no alert channel is configured, and a drill with no alert channel \
             proves nothing"
                .to_string(),
        );
    } else if delivery.unheard {
        journal.warnings.push(notify::UNHEARD.to_string());
    }
    // A target that is not critical fails as a warning: an annotation, not an alert.
    let not_critical: Vec<String> = report
        .warning_lines()
        .into_iter()
        .map(|w| format!("warning (target not critical): {w}"))
        .collect();

    out.lines(&journal.notes);
    for e in &journal.errors {
        out.line(&wf.error(e));
    }
    for w in journal.warnings.iter().chain(&not_critical) {
        out.line(&wf.warning(w));
    }
    if !report.ok && !report.chaos {
        out.line(&wf.error(&format!(
            "{} {} checks failed: {}",
            report.schedule,
            report.kind.as_str(),
            report.failure_lines().join("; ")
        )));
    } else if report.chaos && !delivery.unheard {
        out.line(&wf.warning("chaos drill: this run failed on purpose to exercise the alerts"));
    }
    let mut summary_notes = journal.notes.clone();
    summary_notes.extend(
        journal
            .errors
            .iter()
            .map(|e| format!("❌ **not delivered / failed**: {e}")),
    );
    summary_notes.extend(
        journal
            .warnings
            .iter()
            .map(|w| format!("⚠️ **no one was told**: {w}")),
    );
    summary_notes.extend(not_critical.iter().map(|w| format!("⚠️ {w}")));
    let table = summary::bounded(
        summary::matrix_markdown(end.matrix),
        summary::SUMMARY_LIMIT / 4,
    );
    let summary = summary::bounded(
        summary_markdown(report, Some(end.kpi), &summary_notes),
        summary::SUMMARY_LIMIT - table.len(),
    );
    wf.append_summary(&format!("{summary}{table}"))?;
    wf.set_outputs(&[
        ("status", end.kpi.status.as_str().to_string()),
        ("ok", report.ok.to_string()),
        ("report", end.report_path.display().to_string()),
        ("attestation", end.statement.statement.display().to_string()),
        (
            "attestation-subjects",
            end.statement.checksums.display().to_string(),
        ),
        ("kpi", end.kpi_path.display().to_string()),
        ("badge-changed", end.badge_changed.to_string()),
        ("issue-url", delivery.issue_url.unwrap_or_default()),
    ])?;
    Ok(if journal.errors.is_empty() {
        Outcome::checked(report.ok)
    } else {
        Outcome::step_failed()
    })
}

/// What a cancelled run leaves out, said in its `cancelled` checks: a KPI or badge from a
/// half-checked schedule would be wrong, and the job is going away.
const SKIPPED: &str = "the KPI, the badge, publishing and the alerts were skipped";

/// A run a signal cancelled: the report of what ran is written (its `cancelled` checks saying
/// what was skipped), nothing is published or sent; exits 128 + the signal's number.
pub fn cancelled(
    mut report: Report,
    report_path: &Path,
    cancel: &Cancel,
    wf: &Workflow,
    out: &dyn Sink,
    code: u8,
) -> Result<Outcome> {
    for check in report
        .targets
        .iter_mut()
        .flat_map(|t| t.checks.iter_mut())
        .filter(|c| c.name == "cancelled")
    {
        check.detail = format!("{}; {SKIPPED}", check.detail);
    }
    crate::atomic::write_json(report_path, &report)?;
    out.line(&verdict_line(&report, report_path));
    let note = format!(
        "cancelled by {}: the report of what ran is written; {SKIPPED}",
        cancel.signal_name()
    );
    out.line(&wf.warning(&note));
    wf.append_summary(&summary_markdown(
        &report,
        None,
        std::slice::from_ref(&note),
    ))?;
    wf.set_outputs(&[
        ("ok", "false".to_string()),
        ("report", report_path.display().to_string()),
    ])?;
    Ok(Outcome::cancelled(code))
}
