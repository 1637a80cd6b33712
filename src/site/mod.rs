//! The static status page: `index.html` and one page per target, rendered from the kept KPI
//! state, the chained history and the per-target matrix. Every page stands alone: its styles
//! are inline, its charts are inline SVG ([`chart`]), it asks nothing of the network and needs
//! no JavaScript; light and dark colours follow `prefers-color-scheme`.
//!
//! Runs of the last [`RECENT_DAYS`] days are drawn one by one; older ones are gathered into one
//! mark per ISO week, so a long history keeps the pages small.
//!
//! Every string from the config or the history (target names, run links, check names) is
//! escaped before it reaches the HTML, and a link is only written for an `https://` address.
//!
//! Pure: the kept files' contents and `now` in, pages (relative path and HTML) out.

/// The trend picture `badges/backup_trend.svg`: the same charts as a standalone SVG.
pub mod trend;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::chart::{self, Mark, Point, Reference, XyChart};
use crate::history::{self, Chain, Entry, TargetOutcome};
use crate::kpi::{Kpi, KpiStatus};
use crate::markup::escape;
use crate::matrix::{Matrix, Row};
use crate::report::{Mode, Schedule, rfc3339};
use crate::units::{short_duration, short_size};

/// Runs younger than this are drawn one by one.
pub const RECENT_DAYS: i64 = 90;
/// The action of a chaos drill in the history.
const CHAOS: &str = "chaos-drill";

/// A run and one target's outcome in it.
type Outcome<'a> = (&'a Entry, &'a TargetOutcome);

/// The kept files, as read.
pub struct Input<'a> {
    pub kpi: Option<&'a Kpi>,
    /// The history file's text (`badges/dr_history.jsonl`).
    pub history: &'a str,
    pub matrix: Option<&'a Matrix>,
    /// The history's chain when the caller has just verified it (a run that appended to it),
    /// so a long history is not hashed again; `None` verifies it here.
    pub chain: Option<&'a Chain>,
    pub now: DateTime<Utc>,
}

/// One page: its path relative to the site's folder, and its HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub path: String,
    pub html: String,
}

/// Renders the whole site.
pub fn render(input: &Input<'_>) -> Vec<Page> {
    let entries = history::entries(input.history);
    let verified = match input.chain {
        Some(c) => Ok(c.clone()),
        None => history::verify(input.history),
    };
    let chain = match verified {
        Ok(c) => {
            let head = input.kpi.and_then(|k| k.history_head.as_deref());
            match head.map(|h| history::check_head(input.history, &c, h)) {
                Some(Err(b)) => Err(b.to_string()),
                _ => Ok(c),
            }
        }
        Err(b) => Err(b.to_string()),
    };
    let rows: &[Row] = input.matrix.map_or(&[], |m| &m.targets);
    let mut pages = vec![Page {
        path: "index.html".into(),
        html: index(input, &entries, &chain, rows),
    }];
    // Each target's outcomes, oldest first, gathered once rather than searched per page.
    let mut by_target: HashMap<&str, Vec<Outcome<'_>>> = HashMap::new();
    for e in &entries {
        for o in &e.targets {
            by_target.entry(o.name.as_str()).or_default().push((e, o));
        }
    }
    for row in rows {
        let outcomes = by_target
            .get(row.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        pages.push(Page {
            path: target_path(&row.name),
            html: target_page(input, outcomes, row),
        });
    }
    pages
}

/// The file of a target's page: its name reduced to safe characters, plus a digest of the
/// whole name so two names that reduce alike stay apart.
pub fn target_path(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let digest = history::sha256_hex(name.as_bytes());
    format!("targets/{}-{}.html", slug.trim_matches('-'), &digest[..8])
}

/// The page's own rules; the colours and the charts' rules are [`chart::STYLE`], shared with the
/// standalone trend picture.
const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:72rem;margin:0 auto;padding:1rem;overflow-wrap:break-word}
h1,h2,h3{line-height:1.25;overflow-wrap:anywhere}
a{color:var(--series)}
.muted{color:var(--muted)}
.status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:700;color:#fff}
.s-green{background:#1a7f37}.s-amber{background:#9a6700}.s-red{background:#cf222e}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.75rem;padding:0;list-style:none}
.tile{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.75rem;min-width:0}
.tile h3{margin:0 0 .25rem;font-size:1.05rem}
.score{font-size:2rem;font-weight:700}
.good{color:var(--ok)}.bad{color:var(--fail)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere;min-width:0}
.chart{width:100%;height:auto;display:block}
.table{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.2rem .5rem;text-align:left;overflow-wrap:break-word}
figure{margin:0}
code{overflow-wrap:anywhere;word-break:break-all}
section{margin:1.5rem 0}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title),
        chart::STYLE
    )
}

fn status_pill(status: KpiStatus) -> String {
    format!(
        r#"<span class="status s-{}">{}</span>"#,
        status.as_str(),
        status.as_str()
    )
}

/// A link to `url` when it is an `https://` address, else the text alone.
fn link(url: Option<&str>, text: &str) -> String {
    match url {
        Some(u) if u.starts_with("https://") => {
            format!(r#"<a href="{}">{}</a>"#, escape(u), escape(text))
        }
        _ => escape(text),
    }
}

fn date(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    format!(
        "{} ago",
        short_duration((now - at).num_seconds().max(0) as u64)
    )
}

fn schedule_row(s: Schedule) -> usize {
    match s {
        Schedule::Weekly => 0,
        Schedule::Monthly => 1,
        Schedule::Quarterly => 2,
    }
}

fn mark_of(e: &Entry, ok: bool) -> Mark {
    if e.action == CHAOS {
        Mark::Chaos
    } else if ok {
        Mark::Ok
    } else {
        Mark::Failed
    }
}

/// The ISO week's Monday of `at`.
fn week_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let d = at.date_naive();
    let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
    monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Points older than [`RECENT_DAYS`] folded into one per week: the largest value (so a slow
/// restore or a large backup is not averaged away), marked failed if any run of the week was.
fn fold_weeks(
    points: Vec<Point>,
    now: DateTime<Utc>,
    unit_words: impl Fn(f64) -> String,
) -> Vec<Point> {
    let cut = now - Duration::days(RECENT_DAYS);
    let mut weeks: BTreeMap<DateTime<Utc>, (f64, bool, usize)> = BTreeMap::new();
    let mut recent = Vec::new();
    for p in points {
        if p.at >= cut {
            recent.push(p);
            continue;
        }
        let w = weeks.entry(week_of(p.at)).or_insert((0.0, false, 0));
        w.0 = w.0.max(p.value);
        w.1 |= matches!(p.mark, Mark::Failed | Mark::Alarm);
        w.2 += 1;
    }
    let mut out: Vec<Point> = weeks
        .into_iter()
        .map(|(at, (value, failed, n))| Point {
            at,
            value,
            mark: if failed { Mark::Failed } else { Mark::Ok },
            label: format!(
                "week of {}: {n} runs, largest {}{}",
                at.format("%Y-%m-%d"),
                unit_words(value),
                if failed { ", one failed" } else { "" }
            ),
        })
        .collect();
    out.extend(recent);
    out
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<div class=\"table\"><table>\n<thead><tr>");
    for h in head {
        let _ = write!(s, "<th scope=\"col\">{}</th>", escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    s
}

fn details(summary: &str, inner: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n{inner}</details>\n",
        escape(summary)
    )
}

fn index(
    input: &Input<'_>,
    entries: &[Entry],
    chain: &Result<Chain, String>,
    rows: &[Row],
) -> String {
    let now = input.now;
    let mut b = String::new();
    b.push_str("<h1>Backup &amp; DR status</h1>\n<section aria-labelledby=\"overall\">\n<h2 id=\"overall\">Overall</h2>\n");
    match input.kpi {
        Some(k) => {
            let _ = writeln!(
                b,
                "<p>Status {}{} — computed {}.</p>",
                status_pill(k.status),
                if k.downgraded {
                    " (downgraded by the quarterly restore)"
                } else {
                    ""
                },
                escape(&date(&k.generated_at))
            );
            if !k.reasons.is_empty() {
                b.push_str("<ul>\n");
                for r in &k.reasons {
                    let _ = writeln!(b, "<li>{}</li>", escape(r));
                }
                b.push_str("</ul>\n");
            }
        }
        None => b.push_str("<p>No KPI state yet: no run has been kept.</p>\n"),
    }
    let proven = entries.iter().rev().find(|e| e.run.ok && e.action != CHAOS);
    let _ = writeln!(
        b,
        "<p>Last proven: {}</p>\n</section>",
        match proven {
            Some(e) => format!(
                "<strong>{}</strong> ({}, {} {})",
                escape(&date(&e.run.at)),
                ago(now, e.run.at),
                e.run.schedule,
                escape(&e.action)
            ),
            None => "never: no run has passed yet".into(),
        }
    );

    b.push_str("<section aria-labelledby=\"targets\">\n<h2 id=\"targets\">Targets</h2>\n");
    if rows.is_empty() {
        b.push_str("<p>No per-target matrix yet.</p>\n");
    }
    b.push_str("<ul class=\"tiles\">\n");
    let min_health = input.matrix.map_or(0, |m| m.min_health);
    for r in rows {
        b.push_str(&tile(r, min_health));
    }
    b.push_str("</ul>\n</section>\n");

    b.push_str(&incidents(input, entries, rows, min_health));
    b.push_str(&timeline_section(entries, now));
    b.push_str(&restore_section(
        "runs",
        "Slowest restore of each run against its target's RTO",
        entries
            .iter()
            .filter_map(|e| Some((e, e.run.total_seconds?, e.run.rto_seconds, e.run.ok))),
        now,
    ));
    b.push_str(&evidence(entries, chain));
    let _ = writeln!(
        b,
        "<p class=\"muted\">Generated {} by dr-action from the kept state and history; \
         runs older than {RECENT_DAYS} days are shown one mark per week.</p>",
        escape(&date(&now))
    );
    page("Backup & DR status", &b)
}

fn tile(r: &Row, min_health: u8) -> String {
    let mut s = String::from("<li class=\"tile\">\n");
    let _ = writeln!(
        s,
        "<h3><a href=\"{}\">{}</a></h3>",
        escape(&target_path(&r.name)),
        escape(&r.name)
    );
    let _ = writeln!(
        s,
        "<div><span class=\"score {}\">{}</span> <span class=\"muted\">health of 100</span></div>",
        if r.health >= min_health {
            "good"
        } else {
            "bad"
        },
        r.health
    );
    s.push_str(&facts(r));
    s.push_str("</li>\n");
    s
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => " <span class=\"good\">(met)</span>",
        Some(false) => " <span class=\"bad\">(missed)</span>",
        None => "",
    }
}

fn facts(r: &Row) -> String {
    let mut s = String::from("<dl>\n");
    let _ = writeln!(
        s,
        "<dt>Newest backup</dt><dd>{} old, RPO {}{}</dd>",
        r.backup_age_seconds
            .map_or("none found, ".into(), short_duration),
        short_duration(r.rpo_seconds),
        met(r.rpo_met)
    );
    let restore = match (r.restore_seconds, r.rto_seconds) {
        (Some(t), Some(rto)) => format!(
            "{}, RTO {}{}",
            short_duration(t.round() as u64),
            short_duration(rto),
            met(r.rto_met)
        ),
        (Some(t), None) => short_duration(t.round() as u64),
        (None, Some(rto)) => format!("none yet, RTO {}", short_duration(rto)),
        (None, None) => "no restore configured".into(),
    };
    let _ = writeln!(s, "<dt>Last restore</dt><dd>{restore}</dd>");
    let _ = writeln!(
        s,
        "<dt>Critical</dt><dd>{}</dd>",
        if r.critical { "yes" } else { "no" }
    );
    if let Some(bytes) = r.storage.bytes {
        let _ = writeln!(s, "<dt>Stored</dt><dd>{}</dd>", short_size(bytes));
    }
    s.push_str("</dl>\n");
    s
}

fn incidents(input: &Input<'_>, entries: &[Entry], rows: &[Row], min_health: u8) -> String {
    let mut items = Vec::new();
    if let Some(k) = input.kpi {
        for s in Schedule::ALL {
            let slot = &k.slots[s];
            if slot.ok || (!slot.present && s == Schedule::Quarterly) {
                continue;
            }
            let last = entries
                .iter()
                .rev()
                .find(|e| e.run.schedule == s && e.action != CHAOS);
            let what = if !slot.present {
                "no report".to_string()
            } else if slot.stale {
                "the last report is stale".to_string()
            } else if slot.failures.is_empty() {
                "failed".to_string()
            } else {
                format!("failed: {}", slot.failures.join("; "))
            };
            let issue = k
                .alerts
                .get(s.as_str())
                .and_then(|channels| channels.get(crate::notify::ISSUE))
                .and_then(|e| e.url.as_deref());
            let mut links: Vec<String> = Vec::new();
            if let Some(url) = issue {
                links.push(link(Some(url), "the alert issue"));
            }
            if let Some(e) = last {
                links.push(link(e.run.run_url.as_deref(), "the run"));
            }
            let links = match links.is_empty() {
                true => String::new(),
                false => format!(" — {}", links.join(", ")),
            };
            items.push(format!(
                "<li><strong>{s}</strong>: {}{links}</li>",
                escape(&what)
            ));
        }
    }
    for r in rows.iter().filter(|r| r.critical && r.health < min_health) {
        items.push(format!(
            "<li><a href=\"{}\">{}</a>: {}</li>",
            escape(&target_path(&r.name)),
            escape(&r.name),
            escape(&crate::matrix::health_detail(r, min_health))
        ));
    }
    let mut s = String::from(
        "<section aria-labelledby=\"incidents\">\n<h2 id=\"incidents\">Open incidents</h2>\n",
    );
    if items.is_empty() {
        s.push_str("<p>None: every schedule passed and every critical target is healthy.</p>\n");
    } else {
        s.push_str("<ul>\n");
        for i in items {
            s.push_str(&i);
            s.push('\n');
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</section>\n");
    s
}

fn timeline_section(entries: &[Entry], now: DateTime<Utc>) -> String {
    let from = now - Duration::days(RECENT_DAYS);
    let recent: Vec<&Entry> = entries.iter().filter(|e| e.run.at >= from).collect();
    let runs: Vec<chart::Run> = recent
        .iter()
        .map(|e| chart::Run {
            at: e.run.at,
            row: schedule_row(e.run.schedule),
            mark: mark_of(e, e.run.ok),
            label: format!(
                "{} {} {}: {}",
                rfc3339::format(&e.run.at),
                e.run.schedule,
                e.action,
                if e.run.ok { "passed" } else { "failed" }
            ),
        })
        .collect();
    let (ok, failed, chaos) =
        recent
            .iter()
            .fold((0, 0, 0), |(o, f, c), e| match mark_of(e, e.run.ok) {
                Mark::Chaos => (o, f, c + 1),
                Mark::Ok => (o + 1, f, c),
                _ => (o, f + 1, c),
            });
    let desc = format!(
        "{} runs in the last {RECENT_DAYS} days: {ok} passed, {failed} failed, {chaos} chaos drills. \
         Each mark is one run's own result.",
        recent.len()
    );
    let svg = chart::timeline(&chart::Timeline {
        id: "timeline",
        title: &format!("Runs of the last {RECENT_DAYS} days by schedule"),
        desc: &desc,
        rows: &["weekly", "monthly", "quarterly"],
        runs: &runs,
        from,
        to: now,
    });
    let rows: Vec<Vec<String>> = recent
        .iter()
        .rev()
        .map(|e| {
            vec![
                escape(&date(&e.run.at)),
                e.run.schedule.to_string(),
                escape(&e.action),
                link(
                    e.run.run_url.as_deref(),
                    if e.action == CHAOS {
                        "drill"
                    } else if e.run.ok {
                        "passed"
                    } else {
                        "failed"
                    },
                ),
            ]
        })
        .collect();
    // Older runs, by week, as a table only.
    let mut weeks: BTreeMap<DateTime<Utc>, (usize, usize)> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e.run.at < from && e.action != CHAOS)
    {
        let w = weeks.entry(week_of(e.run.at)).or_default();
        if e.run.ok {
            w.0 += 1;
        } else {
            w.1 += 1;
        }
    }
    let older: Vec<Vec<String>> = weeks
        .iter()
        .rev()
        .map(|(w, (ok, failed))| {
            vec![
                w.format("%Y-%m-%d").to_string(),
                ok.to_string(),
                failed.to_string(),
            ]
        })
        .collect();
    let mut s = format!(
        "<section aria-labelledby=\"tl\">\n<h2 id=\"tl\">Runs of the last {RECENT_DAYS} days</h2>\n<figure>\n{svg}<figcaption class=\"muted\">{}</figcaption>\n</figure>\n",
        escape(&desc)
    );
    s.push_str(&details(
        "The runs as a table",
        &table(&["Finished", "Schedule", "Action", "Result"], &rows),
    ));
    if !older.is_empty() {
        s.push_str(&details(
            &format!("Older runs by week ({} weeks)", older.len()),
            &table(&["Week of", "Passed", "Failed"], &older),
        ));
    }
    s.push_str("</section>\n");
    s
}

/// The restore-time chart and its table, from (entry, seconds, RTO, ok) of each restore.
fn restore_section<'e>(
    id: &str,
    title: &str,
    restores: impl Iterator<Item = (&'e Entry, f64, Option<u64>, bool)>,
    now: DateTime<Utc>,
) -> String {
    let mut rto = None;
    let points: Vec<Point> = restores
        .map(|(e, secs, r, ok)| {
            if r.is_some() {
                rto = r;
            }
            let missed = r.is_some_and(|r| secs > r as f64);
            Point {
                at: e.run.at,
                value: secs,
                mark: if e.action == CHAOS {
                    Mark::Chaos
                } else if !ok || missed {
                    Mark::Failed
                } else {
                    Mark::Ok
                },
                label: format!(
                    "{} {}: restore {}{}",
                    rfc3339::format(&e.run.at),
                    e.run.schedule,
                    short_duration(secs.round() as u64),
                    r.map_or(String::new(), |r| format!(" of RTO {}", short_duration(r)))
                ),
            }
        })
        .collect();
    let points = fold_weeks(points, now, |v| short_duration(v.round() as u64));
    let heading = format!(
        "<section aria-labelledby=\"rt-{id}\">\n<h2 id=\"rt-{id}\">Restore time against the RTO</h2>\n"
    );
    if points.is_empty() {
        return format!("{heading}<p>No full restore has been measured yet.</p>\n</section>\n");
    }
    let from = points
        .first()
        .map_or(now, |p| p.at)
        .min(now - Duration::days(7));
    let slowest = points.iter().map(|p| p.value).fold(0.0, f64::max);
    let max = slowest.max(rto.map_or(0.0, |r| r as f64));
    let desc = format!(
        "{} from {} to {}; the slowest took {}{}.",
        crate::units::count(points.len() as u64, "restore"),
        from.format("%Y-%m-%d"),
        now.format("%Y-%m-%d"),
        short_duration(slowest.round() as u64),
        rto.map_or(String::new(), |r| format!(
            "; the RTO is {}",
            short_duration(r)
        ))
    );
    let svg = chart::xy(&XyChart {
        id: &format!("restore-{id}"),
        title,
        desc: &desc,
        y_label: "restore time",
        unit: chart::duration_unit(max),
        from,
        to: now,
        points: &points,
        reference: rto.map(|r| Reference {
            value: r as f64,
            label: format!("RTO {}", short_duration(r)),
        }),
        legend: &[
            (Mark::Ok, "within RTO"),
            (Mark::Failed, "failed or over RTO"),
            (Mark::Chaos, "chaos drill"),
        ],
        line: false,
    });
    let rows: Vec<Vec<String>> = points
        .iter()
        .rev()
        .map(|p| {
            vec![
                p.at.format("%Y-%m-%d %H:%M").to_string(),
                short_duration(p.value.round() as u64),
                escape(&p.label),
            ]
        })
        .collect();
    format!(
        "{heading}<figure>\n{svg}<figcaption class=\"muted\">{}</figcaption>\n</figure>\n{}</section>\n",
        escape(&desc),
        details(
            "The restore times as a table",
            &table(&["When", "Restore", "Detail"], &rows)
        )
    )
}

fn size_section(outcomes: &[Outcome<'_>], now: DateTime<Utc>) -> String {
    let points: Vec<Point> = outcomes
        .iter()
        .filter(|(e, _)| e.action != CHAOS)
        .filter_map(|(e, o)| {
            let bytes = o.bytes?;
            let shrink = o.failed.iter().any(|f| f == "size");
            Some(Point {
                at: e.run.at,
                value: bytes as f64,
                mark: if shrink { Mark::Alarm } else { Mark::Ok },
                label: format!(
                    "{}: {}{}",
                    rfc3339::format(&e.run.at),
                    short_size(bytes),
                    if shrink {
                        ", size check failed (sudden shrink)"
                    } else {
                        ""
                    }
                ),
            })
        })
        .collect();
    let points = fold_weeks(points, now, |v| short_size(v as u64));
    let heading =
        "<section aria-labelledby=\"size\">\n<h2 id=\"size\">Backup size over time</h2>\n";
    if points.is_empty() {
        return format!(
            "{heading}<p>No run has measured this target's backups yet.</p>\n</section>\n"
        );
    }
    let from = points
        .first()
        .map_or(now, |p| p.at)
        .min(now - Duration::days(7));
    let max = points.iter().map(|p| p.value).fold(0.0, f64::max);
    let shrinks = points.iter().filter(|p| p.mark == Mark::Alarm).count();
    let desc = format!(
        "{} of the bytes stored for this target; the largest {}; {shrinks} failed the size \
         check (newest backup under half the median of the ones before it).",
        crate::units::count(points.len() as u64, "measurement"),
        short_size(max as u64)
    );
    let svg = chart::xy(&XyChart {
        id: "size-chart",
        title: "Bytes stored over time",
        desc: &desc,
        y_label: "stored",
        unit: chart::size_unit(max),
        from,
        to: now,
        points: &points,
        reference: None,
        legend: &[(Mark::Ok, "measured"), (Mark::Alarm, "sudden shrink")],
        line: true,
    });
    let rows: Vec<Vec<String>> = points
        .iter()
        .rev()
        .map(|p| {
            vec![
                p.at.format("%Y-%m-%d %H:%M").to_string(),
                short_size(p.value as u64),
                escape(&p.label),
            ]
        })
        .collect();
    format!(
        "{heading}<figure>\n{svg}<figcaption class=\"muted\">{}</figcaption>\n</figure>\n{}</section>\n",
        escape(&desc),
        details(
            "The sizes as a table",
            &table(&["When", "Stored", "Detail"], &rows)
        )
    )
}

fn evidence(entries: &[Entry], chain: &Result<Chain, String>) -> String {
    let mut s = String::from(
        "<section aria-labelledby=\"evidence\">\n<h2 id=\"evidence\">Evidence of the last drill</h2>\n<dl>\n",
    );
    let drill = entries
        .iter()
        .rev()
        .find(|e| e.run.kind == Mode::FullRestore.as_str() || e.action == CHAOS)
        .or(entries.last());
    match drill {
        Some(e) => {
            let _ = writeln!(
                s,
                "<dt>Run</dt><dd>{} {} {} — {}</dd>",
                escape(&date(&e.run.at)),
                e.run.schedule,
                escape(&e.action),
                link(
                    e.run.run_url.as_deref(),
                    if e.run.ok { "passed" } else { "failed" }
                )
            );
            let _ = writeln!(
                s,
                "<dt>Report SHA-256</dt><dd><code>{}</code></dd>",
                escape(&e.report_sha256)
            );
            let _ = writeln!(
                s,
                "<dt>Attestation</dt><dd>in-toto statement whose subject is the report with \
                 this digest, kept with the run's artifacts</dd>"
            );
            if let Some(actor) = &e
                .operator
                .triggering_actor
                .as_ref()
                .or(e.operator.actor.as_ref())
            {
                let _ = writeln!(s, "<dt>Started by</dt><dd>{}</dd>", escape(actor));
            }
        }
        None => s.push_str("<dt>Run</dt><dd>none kept yet</dd>\n"),
    }
    let chain_words = match chain {
        Ok(Chain::Empty) => "empty: no run kept yet".to_string(),
        Ok(Chain::Unchained { lines }) => {
            format!("{lines} lines written before chaining; the next run adopts them")
        }
        Ok(Chain::Intact {
            lines,
            genesis_line,
            head,
        }) => format!(
            "intact: {lines} lines, chained from line {genesis_line}; last line's SHA-256 {head}"
        ),
        Err(b) => format!("BROKEN at {b}"),
    };
    let _ = writeln!(
        s,
        "<dt>History chain</dt><dd class=\"{}\">{}</dd>",
        if chain.is_ok() { "good" } else { "bad" },
        escape(&chain_words)
    );
    s.push_str("</dl>\n</section>\n");
    s
}

fn target_page(input: &Input<'_>, outcomes: &[Outcome<'_>], row: &Row) -> String {
    let min_health = input.matrix.map_or(0, |m| m.min_health);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p><a href=\"../index.html\">All targets</a></p>\n<h1>{}</h1>",
        escape(&row.name)
    );
    let _ = writeln!(
        b,
        "<section aria-labelledby=\"now\">\n<h2 id=\"now\">Now</h2>\n<p><span class=\"score {}\">{}</span> <span class=\"muted\">health of 100 (alert under {min_health})</span></p>",
        if row.health >= min_health {
            "good"
        } else {
            "bad"
        },
        row.health
    );
    b.push_str(&facts(row));
    if !row.deductions.is_empty() {
        b.push_str("<p>What cost points:</p>\n<ul>\n");
        for d in &row.deductions {
            let _ = writeln!(b, "<li>{}</li>", escape(d));
        }
        b.push_str("</ul>\n");
    }
    b.push_str("</section>\n");
    b.push_str(&restore_section(
        "target",
        &format!("Restore time of {} against its RTO", row.name),
        outcomes.iter().filter_map(|(e, o)| {
            let secs = o.metrics.get("total_seconds")?.as_f64()?;
            Some((*e, secs, row.rto_seconds, o.ok))
        }),
        input.now,
    ));
    b.push_str(&size_section(outcomes, input.now));
    page(&format!("{} — Backup & DR", row.name), &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryEntry;
    use crate::report::Operator;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
    }

    const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";

    fn hostile_input() -> (String, Matrix) {
        let entry = Entry {
            run: HistoryEntry {
                at: now() - Duration::days(1),
                schedule: Schedule::Weekly,
                kind: "dry-run".into(),
                ok: false,
                status: KpiStatus::Red,
                run_url: Some("javascript:alert(1)".into()),
                total_seconds: None,
                rto_seconds: None,
            },
            action: "dry-run".into(),
            operator: Operator::default(),
            targets: vec![TargetOutcome {
                name: HOSTILE.into(),
                ok: false,
                failed: vec!["size".into()],
                age_seconds: Some(60),
                objects: Some(1),
                bytes: Some(10),
                retention_slots: None,
                retention_filled: None,
                health: None,
                metrics: serde_json::Map::new(),
            }],
            report_sha256: "ab".repeat(32),
        };
        let history = history::append_all("", std::slice::from_ref(&entry), now()).unwrap();
        let target: crate::config::Target = serde_norway::from_str(&format!(
            "name: {}\nformat: file\nrpo: 24h\n",
            serde_json::to_string(HOSTILE).unwrap()
        ))
        .unwrap();
        let matrix = crate::matrix::build(&[target], &[entry], now(), 80);
        (history, matrix)
    }

    #[test]
    fn hostile_target_names_and_run_links_stay_text() {
        let (history, matrix) = hostile_input();
        let pages = render(&Input {
            kpi: None,
            history: &history,
            matrix: Some(&matrix),
            chain: None,
            now: now(),
        });
        assert_eq!(pages.len(), 2);
        for p in &pages {
            assert!(!p.html.contains("<img"), "{}", p.html);
            assert!(!p.html.contains("javascript:"), "{}", p.html);
            assert!(
                p.html
                    .contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"),
                "{}",
                p.html
            );
        }
        // The shrink the size check caught is marked on the target's size chart.
        assert!(
            pages[1].html.contains("class=\"m-alarm\""),
            "{}",
            pages[1].html
        );
        assert!(
            pages[0].html.contains("intact: 2 lines"),
            "{}",
            pages[0].html
        );
    }

    #[test]
    fn an_open_incident_links_its_alert_issue_and_its_run() {
        let (history, matrix) = hostile_input();
        let failed = crate::kpi::Slot {
            present: true,
            ok: false,
            stale: false,
            finished_at: Some(now() - Duration::days(1)),
            metrics: serde_json::Map::new(),
            failures: vec!["orders-db size: shrank".into()],
            coverage: Vec::new(),
        };
        let mut kpi = crate::kpi::compute(
            crate::kpi::Inputs {
                slots: crate::report::PerSchedule {
                    weekly: failed.clone(),
                    monthly: failed,
                    quarterly: crate::kpi::Slot::missing(),
                },
                chaos: false,
            },
            crate::kpi::max_ages(&crate::config::MaxAge::default()),
            now(),
        );
        let issue = "https://github.com/acme/app/issues/42";
        kpi.alerts.entry("weekly".into()).or_default().insert(
            crate::notify::ISSUE.into(),
            crate::notify::episode::Episode {
                status: crate::notify::episode::EpisodeStatus::Failing,
                opened_at: now() - Duration::days(1),
                last_sent_at: Some(now() - Duration::days(1)),
                url: Some(issue.into()),
            },
        );
        let pages = render(&Input {
            kpi: Some(&kpi),
            history: &history,
            matrix: Some(&matrix),
            chain: None,
            now: now(),
        });
        let index = &pages[0].html;
        assert!(
            index.contains(&format!("<a href=\"{issue}\">the alert issue</a>")),
            "{index}"
        );
        // The monthly slot failed without an issue on record: no link is made up for it.
        assert_eq!(index.matches("the alert issue").count(), 1, "{index}");
    }

    #[test]
    fn a_broken_history_is_shown_broken() {
        let (history, matrix) = hostile_input();
        let edited = history.replace("\"ok\":false", "\"ok\":true");
        let pages = render(&Input {
            kpi: None,
            history: &edited,
            matrix: Some(&matrix),
            chain: None,
            now: now(),
        });
        assert!(
            pages[0].html.contains("BROKEN at line 2"),
            "{}",
            pages[0].html
        );
    }

    #[test]
    fn runs_older_than_ninety_days_fold_into_weeks() {
        let at = |days: i64| Point {
            at: now() - Duration::days(days),
            value: days as f64,
            mark: if days == 200 { Mark::Failed } else { Mark::Ok },
            label: String::new(),
        };
        // Days 200..=204 share an ISO week with at most one neighbour; 10 and 11 stay apart.
        let points: Vec<Point> = [204, 203, 202, 201, 200, 11, 10].map(at).to_vec();
        let folded = fold_weeks(points, now(), |v| v.to_string());
        let old: Vec<&Point> = folded
            .iter()
            .filter(|p| p.at < now() - Duration::days(90))
            .collect();
        assert!(old.len() <= 2, "{folded:?}");
        assert!(old.iter().any(|p| p.mark == Mark::Failed), "{folded:?}");
        assert_eq!(folded.len(), old.len() + 2);
    }

    #[test]
    fn target_pages_have_safe_distinct_names() {
        let a = target_path("../../etc/passwd");
        let b = target_path("..-..-etc-passwd");
        assert!(
            a.starts_with("targets/etc-passwd-") && a.ends_with(".html"),
            "{a}"
        );
        assert_ne!(a, b);
        assert!(!target_path("<script>").contains('<'));
    }
}
