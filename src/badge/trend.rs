//! The trend picture `badges/backup_trend.svg`, rendered from the history
//! `badges/dr_history.jsonl` (one JSON line per run, appended by `run`).
//!
//! One column per run, oldest on the left, the newest [`MAX_RUNS`] shown. Each column's colour
//! is the KPI status after that run. A run that measured a restore draws a bar whose height is
//! its `total_seconds` against the target's RTO (the dashed line is the RTO; a bar above it
//! missed it); a run without restore metrics draws a short fixed mark. Pure: entries in, SVG
//! text out.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::svg::escape;
use crate::kpi::KpiStatus;
use crate::report::{Schedule, rfc3339};

/// How many runs the picture shows.
pub const MAX_RUNS: usize = 52;

/// One line of `badges/dr_history.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub schedule: Schedule,
    pub kind: String,
    pub ok: bool,
    pub status: KpiStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The slowest measured restore of the run, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seconds: Option<f64>,
    /// The RTO of the target that restore belongs to, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_seconds: Option<u64>,
}

/// Parses the history; lines that are not entries are skipped (a hand edit must not stop
/// the badge), and the count of skipped lines is returned.
pub fn parse_history(text: &str) -> (Vec<HistoryEntry>, usize) {
    let mut entries = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The chain's genesis entry marks where chaining began; it is not a run.
        if crate::history::is_genesis(line) {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(e) => entries.push(e),
            Err(_) => skipped += 1,
        }
    }
    (entries, skipped)
}

/// One history line (with its newline).
pub fn history_line(entry: &HistoryEntry) -> String {
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    line
}

const COL: u32 = 12;
const GAP: u32 = 2;
const PAD: u32 = 10;
const TOP: u32 = 24;
const PLOT: u32 = 60;
/// Bars are drawn up to this multiple of the RTO; the RTO line sits at 1.0.
const SCALE_MAX: f64 = 1.5;

fn color_of(status: KpiStatus) -> &'static str {
    super::color_of(status)
}

/// Renders the trend picture.
pub fn render(entries: &[HistoryEntry]) -> String {
    let shown = &entries[entries.len().saturating_sub(MAX_RUNS)..];
    let n = shown.len().max(1) as u32;
    let width = PAD * 2 + n * COL + (n - 1) * GAP;
    let width = width.max(200);
    let height = TOP + PLOT + PAD + 14;
    let base = TOP + PLOT;
    let rto_y = base as f64 - PLOT as f64 / SCALE_MAX;
    let mut s = String::new();
    let label = format!("Backup & DR trend: {} runs", shown.len());
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(&label)
    );
    let _ = writeln!(s, "<title>{}</title>", escape(&label));
    let _ = writeln!(
        s,
        r##"<rect width="{width}" height="{height}" rx="3" fill="#fff" stroke="#ddd"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{PAD}" y="16" font-family="DejaVu Sans,Verdana,sans-serif" font-size="11" fill="#333">{}</text>"##,
        escape(&label)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{PAD}" y1="{rto_y:.1}" x2="{}" y2="{rto_y:.1}" stroke="#999" stroke-dasharray="3,2"><title>RTO</title></line>"##,
        width - PAD
    );
    let _ = writeln!(
        s,
        r##"<line x1="{PAD}" y1="{base}" x2="{}" y2="{base}" stroke="#ccc"/>"##,
        width - PAD
    );
    for (i, e) in shown.iter().enumerate() {
        let x = PAD + i as u32 * (COL + GAP);
        let (h, restore) = match (e.total_seconds, e.rto_seconds) {
            (Some(total), Some(rto)) if rto > 0 => {
                let ratio = (total / rto as f64).clamp(0.0, SCALE_MAX);
                let h = (ratio / SCALE_MAX * PLOT as f64).max(2.0);
                (
                    h,
                    format!(
                        ", restore {} of rto {}",
                        crate::units::short_duration(total.round() as u64),
                        crate::units::short_duration(rto)
                    ),
                )
            }
            (Some(total), _) => (
                PLOT as f64 / 3.0,
                format!(
                    ", restore {}",
                    crate::units::short_duration(total.round() as u64)
                ),
            ),
            _ => (PLOT as f64 / 4.0, String::new()),
        };
        let y = base as f64 - h;
        let tip = format!(
            "{} {} {}: {}{restore}",
            rfc3339::format(&e.at),
            e.schedule,
            if e.ok { "ok" } else { "failed" },
            e.status
        );
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y:.1}" width="{COL}" height="{h:.1}" fill="{}"><title>{}</title></rect>"#,
            color_of(e.status),
            escape(&tip)
        );
    }
    if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
        let _ = writeln!(
            s,
            r##"<text x="{PAD}" y="{}" font-family="DejaVu Sans,Verdana,sans-serif" font-size="9" fill="#777">{} … {}</text>"##,
            height - 6,
            first.at.format("%Y-%m-%d"),
            last.at.format("%Y-%m-%d")
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(day: u32, status: KpiStatus, restore: Option<(f64, u64)>) -> HistoryEntry {
        HistoryEntry {
            at: Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap(),
            schedule: if restore.is_some() {
                Schedule::Quarterly
            } else {
                Schedule::Weekly
            },
            kind: "dry-run".into(),
            ok: status == KpiStatus::Green,
            status,
            run_url: None,
            total_seconds: restore.map(|r| r.0),
            rto_seconds: restore.map(|r| r.1),
        }
    }

    #[test]
    fn the_trend_is_stable() {
        let entries = [
            entry(1, KpiStatus::Green, None),
            entry(8, KpiStatus::Amber, None),
            entry(10, KpiStatus::Green, Some((600.0, 900))),
            entry(15, KpiStatus::Red, Some((1800.0, 900))),
            entry(22, KpiStatus::Green, None),
        ];
        insta::assert_snapshot!(render(&entries));
    }

    #[test]
    fn history_lines_round_trip_and_junk_is_skipped() {
        let e = entry(3, KpiStatus::Green, Some((12.5, 900)));
        let text = format!("{}not json\n\n{}", history_line(&e), history_line(&e));
        let (parsed, skipped) = parse_history(&text);
        assert_eq!(parsed, [e.clone(), e]);
        assert_eq!(skipped, 1);
        assert!(render(&[]).contains("0 runs"));
    }
}
