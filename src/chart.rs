//! Charts as inline SVG, for the status page and the trend picture: a timeline of runs per schedule and an XY chart of
//! measurements over time (restore time against the RTO, backup size), each with labelled axes,
//! units, a legend, an accessible name (`role="img"`, `<title>`, `<desc>`) and a table of the
//! same numbers to read without the picture.
//!
//! Laid out by hand rather than with a plotting crate: the page needs an accessible name and
//! description on every chart, a `<title>` per mark and colours from the page's stylesheet (so
//! dark mode follows `prefers-color-scheme`), which an SVG backend that writes fixed colours
//! and no accessible names cannot give. The trend picture `badges/backup_trend.svg` is a standalone
//! [`figure`] of the same charts.
//!
//! Pure: points in, SVG text out. Every string that reaches the SVG is escaped here.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use crate::markup::escape;

/// The colours (light and dark, from `prefers-color-scheme`) and the rules of the charts'
/// classes: in the page's stylesheet, and inside a standalone [`figure`].
pub const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--card:#f6f8fa;
--ok:#1a7f37;--fail:#cf222e;--warn:#9a6700;--chaos:#8250df;--series:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;
--card:#161b22;--ok:#3fb950;--fail:#ff7b72;--warn:#d29922;--chaos:#bc8cff;--series:#58a6ff}}
.chart .lbl,.head{fill:var(--fg);font-family:system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif}
.head{font-weight:700}
.bg{fill:var(--bg);stroke:var(--line)}
.chart .axis,.chart .tick{stroke:var(--muted)}
.chart .grid{stroke:var(--line)}
.chart .ref{stroke:var(--warn);stroke-width:2;stroke-dasharray:6 4}
.chart .ref-lbl{fill:var(--warn);font-weight:700}
.chart .series{fill:none;stroke:var(--series);stroke-width:1.5}
.m-ok{fill:var(--ok)}.m-fail{fill:var(--fail)}.m-chaos{fill:var(--chaos)}.m-alarm{fill:var(--fail)}
"#;

/// The drawing's width in user units; the page scales it to the column.
pub const WIDTH: f64 = 640.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 34.0;
const FONT: &str = "font-size=\"14\"";

/// What a mark stands for; each is a CSS class of the page (`.m-ok`, `.m-fail`, `.m-chaos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Ok,
    Failed,
    /// A chaos drill: a planted fault, drawn apart from real runs.
    Chaos,
    /// A measurement that failed a rule (a sudden shrink, a missed RTO).
    Alarm,
}

impl Mark {
    fn class(self) -> &'static str {
        match self {
            Mark::Ok => "m-ok",
            Mark::Failed => "m-fail",
            Mark::Chaos => "m-chaos",
            Mark::Alarm => "m-alarm",
        }
    }
}

/// One mark: when, its value, what it stands for, and its tooltip.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub mark: Mark,
    pub label: String,
}

/// The unit of the y axis: its name and the divisor from the raw values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    pub per: f64,
}

/// The unit that reads best for durations up to `max` seconds.
pub fn duration_unit(max: f64) -> Unit {
    if max < 120.0 {
        Unit {
            name: "seconds",
            per: 1.0,
        }
    } else if max < 7200.0 {
        Unit {
            name: "minutes",
            per: 60.0,
        }
    } else {
        Unit {
            name: "hours",
            per: 3600.0,
        }
    }
}

/// The unit that reads best for sizes up to `max` bytes (binary units).
pub fn size_unit(max: f64) -> Unit {
    const UNITS: [(&str, f64); 5] = [
        ("bytes", 1.0),
        ("KiB", 1024.0),
        ("MiB", 1048576.0),
        ("GiB", 1073741824.0),
        ("TiB", 1099511627776.0),
    ];
    let mut pick = UNITS[0];
    for u in UNITS {
        if max >= u.1 {
            pick = u;
        }
    }
    Unit {
        name: pick.0,
        per: pick.1,
    }
}

/// A horizontal reference line (the RTO), with the words written at its right end.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub value: f64,
    pub label: String,
}

/// An XY chart of values over time.
pub struct XyChart<'a> {
    /// Unique in the page: the ids of `<title>` and `<desc>` derive from it.
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub y_label: &'a str,
    pub unit: Unit,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub points: &'a [Point],
    pub reference: Option<Reference>,
    /// The legend's words for each mark drawn.
    pub legend: &'a [(Mark, &'a str)],
    /// Join the points with a line (sizes); otherwise they stand alone (restore times).
    pub line: bool,
}

fn open(s: &mut String, id: &str, title: &str, desc: &str, height: f64, at: Option<f64>) {
    let id = escape(id);
    // Placed inside a larger picture ([`figure`]), a chart says where it goes and how big it is.
    let place = match at {
        Some(y) => format!(r#" x="0" y="{y}" width="{WIDTH}" height="{height}""#),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        r#"<svg class="chart"{place} viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = writeln!(s, r#"<title id="{id}-t">{}</title>"#, escape(title));
    let _ = writeln!(s, r#"<desc id="{id}-d">{}</desc>"#, escape(desc));
}

/// A standalone picture of `charts` stacked top to bottom (each drawn with `Some(y)` as its
/// place, and its height), under a heading, with `style` (the classes the charts use) inside,
/// for a file viewed on its own rather than in the page.
pub fn figure(title: &str, style: &str, charts: &[(String, f64)]) -> String {
    let heading = 30.0;
    let height = heading + charts.iter().map(|c| c.1).sum::<f64>();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="group" aria-label="{}">"#,
        escape(title)
    );
    let _ = writeln!(s, "<style>{style}</style>");
    let _ = writeln!(
        s,
        r#"<rect class="bg" width="{WIDTH}" height="{height}" rx="4"/><text class="head" {FONT} x="12" y="21">{}</text>"#,
        escape(title)
    );
    for (chart, _) in charts {
        s.push_str(chart);
    }
    s.push_str("</svg>\n");
    s
}

fn x_of(at: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let span = (to - from).num_seconds().max(1) as f64;
    let t = (at - from).num_seconds() as f64 / span;
    LEFT + t.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
}

/// Date ticks along the bottom: about five, on whole days.
fn x_axis(s: &mut String, from: DateTime<Utc>, to: DateTime<Utc>, base: f64) {
    let _ = writeln!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{}" y2="{base}"/>"#,
        WIDTH - RIGHT
    );
    let days = (to - from).num_days().max(1);
    // At most six labels: a date is about 80 units wide.
    let step = ((days + 4) / 5).max(1);
    let mut d = 0;
    while d <= days {
        let at = from + Duration::days(d);
        let x = x_of(at, from, to);
        let _ = writeln!(
            s,
            r#"<line class="tick" x1="{x:.1}" y1="{base}" x2="{x:.1}" y2="{}"/><text class="lbl" {FONT} x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            base + 4.0,
            base + 17.0,
            at.format("%Y-%m-%d")
        );
        d += step;
    }
}

fn legend(s: &mut String, items: &[(Mark, &str)], y: f64) {
    let mut x = LEFT;
    for (mark, words) in items {
        marker(s, *mark, x + 5.0, y - 4.0, 5.0, "");
        let _ = writeln!(
            s,
            r#"<text class="lbl" {FONT} x="{:.1}" y="{y}">{}</text>"#,
            x + 14.0,
            escape(words)
        );
        x += 24.0 + 8.0 * words.chars().count() as f64;
    }
}

/// A circle for a run, a diamond for a chaos drill, a triangle for an alarm: told apart by
/// shape as well as colour.
fn marker(s: &mut String, mark: Mark, x: f64, y: f64, r: f64, tip: &str) {
    let class = mark.class();
    let title = if tip.is_empty() {
        String::new()
    } else {
        format!("<title>{}</title>", escape(tip))
    };
    match mark {
        Mark::Chaos => {
            let _ = writeln!(
                s,
                r#"<path class="{class}" d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z">{title}</path>"#,
                y - r,
                x + r,
                y + r,
                x - r
            );
        }
        Mark::Alarm => {
            let _ = writeln!(
                s,
                r#"<path class="{class}" d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z">{title}</path>"#,
                y - r - 1.0,
                x + r + 1.0,
                y + r,
                x - r - 1.0,
                y + r
            );
        }
        Mark::Ok | Mark::Failed => {
            let _ = writeln!(
                s,
                r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="{r}">{title}</circle>"#
            );
        }
    }
}

/// A number for an axis label: no more decimals than it needs.
fn num(v: f64) -> String {
    if v == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A round step for about four ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 4.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Renders an XY chart.
pub fn xy(c: &XyChart<'_>) -> String {
    xy_at(c, None).0
}

/// An XY chart placed at `at` inside a [`figure`] (or standalone with `None`), and its height.
pub fn xy_at(c: &XyChart<'_>, at: Option<f64>) -> (String, f64) {
    let plot = 160.0;
    let base = TOP + plot;
    let height = base + 48.0;
    let mut s = String::new();
    open(&mut s, c.id, c.title, c.desc, height, at);
    let max_raw = c
        .points
        .iter()
        .map(|p| p.value)
        .chain(c.reference.as_ref().map(|r| r.value))
        .fold(0.0f64, f64::max);
    let max = (max_raw / c.unit.per).max(f64::MIN_POSITIVE);
    let step = nice_step(max * 1.1);
    let top = (max * 1.1 / step).ceil().max(1.0) * step;
    let y_of = |v: f64| base - (v / c.unit.per / top).clamp(0.0, 1.0) * plot;
    let mut tick = 0.0;
    while tick <= top + step / 2.0 {
        let y = y_of(tick * c.unit.per);
        let _ = writeln!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/><text class="lbl" {FONT} x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            num(tick)
        );
        tick += step;
    }
    let _ = writeln!(
        s,
        r#"<text class="lbl" {FONT} x="{LEFT}" y="{}">{} ({})</text>"#,
        TOP - 10.0,
        escape(c.y_label),
        c.unit.name
    );
    x_axis(&mut s, c.from, c.to, base);
    if let Some(r) = &c.reference {
        let y = y_of(r.value);
        let _ = writeln!(
            s,
            r#"<line class="ref" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/><text class="lbl ref-lbl" {FONT} x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            WIDTH - RIGHT,
            y - 4.0,
            escape(&r.label)
        );
    }
    if c.line && c.points.len() > 1 {
        let mut d = String::new();
        for (i, p) in c.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                x_of(p.at, c.from, c.to),
                y_of(p.value)
            );
        }
        let _ = writeln!(s, r#"<path class="series" d="{d}"/>"#);
    }
    for p in c.points {
        marker(
            &mut s,
            p.mark,
            x_of(p.at, c.from, c.to),
            y_of(p.value),
            4.0,
            &p.label,
        );
    }
    legend(&mut s, c.legend, height - 8.0);
    s.push_str("</svg>\n");
    (s, height)
}

/// One run on the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub at: DateTime<Utc>,
    /// The row (a schedule's name).
    pub row: usize,
    pub mark: Mark,
    pub label: String,
}

/// The rows, runs and span of a [`timeline`].
pub struct Timeline<'a> {
    /// Unique in the page: the ids of `<title>` and `<desc>` derive from it.
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    /// One row per name.
    pub rows: &'a [&'a str],
    pub runs: &'a [Run],
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A timeline: one row per name in `rows`, a mark per run at its time.
pub fn timeline(t: &Timeline<'_>) -> String {
    timeline_at(t, None).0
}

/// A timeline placed at `at` inside a [`figure`] (or standalone with `None`), and its height.
pub fn timeline_at(t: &Timeline<'_>, at: Option<f64>) -> (String, f64) {
    let Timeline {
        id,
        title,
        desc,
        rows,
        runs,
        from,
        to,
    } = *t;
    let row_h = 28.0;
    let base = TOP + row_h * rows.len() as f64;
    let height = base + 48.0;
    let mut s = String::new();
    open(&mut s, id, title, desc, height, at);
    for (i, name) in rows.iter().enumerate() {
        let y = TOP + row_h * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/><text class="lbl" {FONT} x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(name)
        );
    }
    x_axis(&mut s, from, to, base);
    for r in runs {
        let y = TOP + row_h * (r.row as f64 + 0.5);
        marker(&mut s, r.mark, x_of(r.at, from, to), y, 6.0, &r.label);
    }
    legend(
        &mut s,
        &[
            (Mark::Ok, "passed"),
            (Mark::Failed, "failed"),
            (Mark::Chaos, "chaos drill (planted fault)"),
        ],
        height - 8.0,
    );
    s.push_str("</svg>\n");
    (s, height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn axes_get_round_ticks_and_readable_units() {
        assert_eq!(nice_step(100.0), 50.0);
        assert_eq!(nice_step(7.0), 2.0);
        assert_eq!(duration_unit(30.0).name, "seconds");
        assert_eq!(duration_unit(3600.0).name, "minutes");
        assert_eq!(size_unit(5.0 * 1048576.0).name, "MiB");
        assert_eq!(size_unit(10.0).name, "bytes");
    }

    #[test]
    fn a_chart_is_named_and_escapes_its_labels() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let svg = xy(&XyChart {
            id: "c1",
            title: "Restore <time>",
            desc: "d & e",
            y_label: "restore",
            unit: duration_unit(60.0),
            from: at,
            to: at + Duration::days(10),
            points: &[Point {
                at,
                value: 30.0,
                mark: Mark::Ok,
                label: "<script>".into(),
            }],
            reference: Some(Reference {
                value: 60.0,
                label: "RTO 1m".into(),
            }),
            legend: &[(Mark::Ok, "restore time")],
            line: false,
        });
        assert!(svg.contains(r#"aria-labelledby="c1-t c1-d""#), "{svg}");
        assert!(svg.contains("<title id=\"c1-t\">Restore &lt;time&gt;</title>"));
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains("RTO 1m") && svg.contains("restore (seconds)"));
    }
}
