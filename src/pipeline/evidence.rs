//! The verdicts a run adds to its checks' report from the kept history (a broken chain, a
//! critical target's health), and the files that record the report: the report itself, its
//! in-toto statement, and the `--junit` / `--metrics` files.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Repository;
use crate::attest;
use crate::config::Loaded;
use crate::formats::{self, RunFiles};
use crate::history;
use crate::kpi::KpiStatus;
use crate::matrix::{self, Matrix};
use crate::report::Operator;
use crate::report::{Check, Report, TargetReport};
use crate::state;

/// Adds the kept history's verdicts to `report`: a broken chain fails a `chain` check (nothing
/// is appended to it until it is repaired); a critical target whose health, with this run
/// counted, is under `kpi.min-health` fails a `health` check (not on a drill). Returns the
/// matrix with this run last.
pub fn judge(
    loaded: &Loaded,
    report: &mut Report,
    repo: &Repository,
    operator: Operator,
    now: DateTime<Utc>,
) -> Matrix {
    if let Some(b) = repo.broken() {
        report.targets.push(TargetReport::new(
            state::HISTORY_PATH,
            None,
            vec![Check::fail(
                "chain",
                format!(
                    "{b}: the history was changed after it was written; nothing is appended to \
                     it until it is repaired (see `dr-action history verify`)"
                ),
            )],
        ));
    }
    let provisional = history::entry_of(loaded, report, "", KpiStatus::Green, operator);
    let matrix = state::matrix_with(loaded, repo.history(), &provisional, now);
    if !report.chaos {
        for row in matrix.unhealthy() {
            if let Some(t) = report.targets.iter_mut().find(|t| t.name == row.name) {
                t.checks.push(Check::fail(
                    matrix::HEALTH_CHECK,
                    matrix::health_detail(row, matrix.min_health),
                ));
                t.ok = false;
            }
        }
    }
    report.ok = Report::ok_of(&report.targets);
    matrix
}

/// The files [`write`] wrote.
pub struct Written {
    /// The SHA-256 of the report's bytes, as the history records it.
    pub sha256: String,
    pub statement: attest::Written,
    /// A line per extra file (`--junit`, `--metrics`).
    pub lines: Vec<String>,
}

/// Writes the report to `out`, its in-toto statement beside it, and the files `files` asks
/// for; the metrics carry each target's health score from `matrix`.
pub fn write(report: &Report, out: &Path, files: &RunFiles, matrix: &Matrix) -> Result<Written> {
    let mut bytes = serde_json::to_vec_pretty(report)?;
    bytes.push(b'\n');
    crate::atomic::write(out, &bytes)?;
    let sha256 = history::sha256_hex(&bytes);
    let statement = attest::write(report, out, &sha256)?;
    let extra = formats::openmetrics::Extra {
        health: matrix
            .targets
            .iter()
            .map(|row| (row.name.clone(), f64::from(row.health)))
            .collect(),
    };
    let lines = formats::write_run_files(files, report, &extra)?;
    Ok(Written {
        sha256,
        statement,
        lines,
    })
}
