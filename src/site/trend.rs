//! The trend picture `badges/backup_trend.svg`, rendered from the history
//! `badges/dr_history.jsonl` (one JSON line per run, appended by `run`).
//!
//! The newest [`MAX_RUNS`] runs, drawn with the status page's chart code ([`crate::chart`]):
//! a timeline with each run's own result per schedule, and the measured restore times against
//! the labelled RTO line, with axes, units and legends. Pure: entries in, SVG text out.

use chrono::{DateTime, Duration, Utc};

use crate::chart::{self, Mark, Point, Reference, XyChart};
use crate::history::HistoryEntry;
use crate::report::{Schedule, rfc3339};
use crate::units::short_duration;

/// How many runs the picture shows.
pub const MAX_RUNS: usize = 52;

/// Renders the trend picture: a heading, the runs on a timeline (one row per schedule, each
/// run marked by its own result), and the measured restore times against the RTO (a labelled
/// dashed line), in the unit that reads best, with axes and legends — the status page's charts,
/// in one standalone SVG that follows the viewer's light or dark scheme.
pub fn render(entries: &[HistoryEntry]) -> String {
    let shown = &entries[entries.len().saturating_sub(MAX_RUNS)..];
    let runs = match shown.len() {
        1 => "1 run".to_string(),
        n => format!("{n} runs"),
    };
    let title = format!("Backup & DR trend: {runs}");
    let (from, to) = span(shown);
    let marks: Vec<chart::Run> = shown
        .iter()
        .map(|e| chart::Run {
            at: e.at,
            row: Schedule::ALL
                .iter()
                .position(|s| *s == e.schedule)
                .unwrap_or(0),
            mark: if e.ok { Mark::Ok } else { Mark::Failed },
            label: tip(e),
        })
        .collect();
    let failed = shown.iter().filter(|e| !e.ok).count();
    let timeline_desc = format!(
        "{runs} from {} to {}: {} passed, {failed} failed. Each mark is one run's own result.",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d"),
        shown.len() - failed
    );
    let (timeline, h1) = chart::timeline_at(
        &chart::Timeline {
            id: "trend-runs",
            title: "Runs by schedule",
            desc: &timeline_desc,
            rows: &["weekly", "monthly", "quarterly"],
            runs: &marks,
            from,
            to,
        },
        Some(30.0),
    );
    let restores: Vec<Point> = shown
        .iter()
        .filter_map(|e| {
            let total = e.total_seconds?;
            let over = e.rto_seconds.is_some_and(|rto| total > rto as f64);
            Some(Point {
                at: e.at,
                value: total,
                mark: if over || !e.ok { Mark::Alarm } else { Mark::Ok },
                label: tip(e),
            })
        })
        .collect();
    let rto = shown.iter().rev().find_map(|e| e.rto_seconds);
    let max = restores
        .iter()
        .map(|p| p.value)
        .chain(rto.map(|r| r as f64))
        .fold(0.0, f64::max);
    let restore_desc = match (restores.len(), rto) {
        (0, _) => "No restore was measured in these runs.".to_string(),
        (n, Some(rto)) => format!(
            "{n} measured restores; the dashed line is the RTO, {}; a triangle missed it or failed.",
            short_duration(rto)
        ),
        (n, None) => format!("{n} measured restores; no RTO is set."),
    };
    let (restore, h2) = chart::xy_at(
        &XyChart {
            id: "trend-restore",
            title: "Restore time against the RTO",
            desc: &restore_desc,
            y_label: "restore time",
            unit: chart::duration_unit(max),
            from,
            to,
            points: &restores,
            reference: rto.map(|r| Reference {
                value: r as f64,
                label: format!("RTO {}", short_duration(r)),
            }),
            legend: &[
                (Mark::Ok, "restore within the RTO"),
                (Mark::Alarm, "over the RTO or failed"),
            ],
            line: false,
        },
        Some(30.0 + h1),
    );
    chart::figure(&title, chart::STYLE, &[(timeline, h1), (restore, h2)])
}

/// The days the picture spans: the shown runs, a day either side (a fixed week when there are
/// none, so an empty history still draws its axes).
fn span(shown: &[HistoryEntry]) -> (DateTime<Utc>, DateTime<Utc>) {
    match (shown.first(), shown.last()) {
        (Some(first), Some(last)) => (first.at - Duration::days(1), last.at + Duration::days(1)),
        _ => {
            let epoch = DateTime::<Utc>::UNIX_EPOCH;
            (epoch, epoch + Duration::days(7))
        }
    }
}

/// A run's tooltip: when, which schedule, its own result, the KPI after it, the restore.
fn tip(e: &HistoryEntry) -> String {
    let restore = match (e.total_seconds, e.rto_seconds) {
        (Some(total), Some(rto)) => format!(
            ", restore {} (rto {})",
            short_duration(total.round() as u64),
            short_duration(rto)
        ),
        (Some(total), None) => format!(", restore {}", short_duration(total.round() as u64)),
        _ => String::new(),
    };
    format!(
        "{} {}: {}; KPI after it {}{restore}",
        rfc3339::format(&e.at),
        e.schedule,
        if e.ok { "passed" } else { "failed" },
        e.status
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{history_line, parse_history};
    use crate::kpi::KpiStatus;
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
        assert_eq!(parsed, [e.clone(), e.clone()]);
        assert_eq!(skipped, 1);
        assert!(render(&[]).contains("0 runs"));
        assert!(render(std::slice::from_ref(&e)).contains("trend: 1 run<"));
    }
}
