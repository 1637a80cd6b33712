//! The run's results in the formats other systems read: JUnit XML for CI test reporters,
//! SARIF 2.1.0 for code scanning, OpenMetrics text for monitoring. Each renderer is pure (a
//! report in, text out); [`write_run_files`] is the one place `check` and `run` write them.

use std::path::PathBuf;

use anyhow::Result;

use crate::report::Report;

pub mod junit;
pub mod openmetrics;
pub mod sarif;

/// The extra files a `check` or `run` was asked for (`--junit`, `--metrics`).
#[derive(Clone, Debug, Default)]
pub struct RunFiles {
    pub junit: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
}

/// Writes the files asked for from the report; returns a line per file written.
pub fn write_run_files(
    files: &RunFiles,
    report: &Report,
    extra: &openmetrics::Extra,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    if let Some(path) = &files.junit {
        crate::atomic::write(path, junit::render(report)?.as_bytes())?;
        lines.push(format!("junit: {}", path.display()));
    }
    if let Some(path) = &files.metrics {
        let text = openmetrics::render(report, extra);
        crate::atomic::write(path, text.as_bytes())?;
        lines.push(format!("metrics: {}", path.display()));
    }
    Ok(lines)
}
