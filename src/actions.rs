//! The GitHub Actions runtime, as a workflow step sees it: the `GITHUB_*` variables (event,
//! branch, default branch, repository, run URL), step outputs appended to `$GITHUB_OUTPUT`, the
//! Markdown job summary appended to `$GITHUB_STEP_SUMMARY`, and workflow commands
//! (`::error::`, `::warning::`, `::group::`, `::add-mask::`).
//!
//! Workflow commands are returned as lines, never printed here: the binary prints them. Outside
//! Actions ([`Workflow::in_actions`] false) annotations degrade to plain `error:` / `warning:`
//! lines, so a terminal user does not see `::` noise.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::kpi::{Kpi, KpiStatus};
use crate::report::Report;

/// What the `GITHUB_*` variables say about the run, read once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workflow {
    /// `GITHUB_ACTIONS=true`: workflow commands are understood.
    pub in_actions: bool,
    /// `GITHUB_EVENT_NAME`: `schedule`, `workflow_dispatch`, `push`…
    pub event_name: Option<String>,
    /// The branch the run is on (`GITHUB_REF_NAME`, or `GITHUB_REF` without `refs/heads/`).
    pub branch: Option<String>,
    /// `repository.default_branch` from the event payload at `GITHUB_EVENT_PATH`.
    pub default_branch: Option<String>,
    /// `GITHUB_REPOSITORY`: `owner/name`.
    pub repository: Option<String>,
    /// The run's page, from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// `GITHUB_API_URL` (default `https://api.github.com`).
    pub api_url: String,
    /// `$GITHUB_OUTPUT`.
    pub output_file: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary_file: Option<PathBuf>,
}

impl Workflow {
    /// Reads the variables through `get` (tests pass a map). Empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let branch = var("GITHUB_REF_NAME")
            .filter(|_| var("GITHUB_REF").is_none_or(|r| r.starts_with("refs/heads/")))
            .or_else(|| {
                var("GITHUB_REF").and_then(|r| r.strip_prefix("refs/heads/").map(str::to_string))
            });
        let default_branch =
            var("GITHUB_EVENT_PATH").and_then(|p| default_branch_of(Path::new(&p)));
        let repository = var("GITHUB_REPOSITORY");
        let run_url = match (&repository, var("GITHUB_RUN_ID")) {
            (Some(repo), Some(id)) => {
                let server =
                    var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
                Some(format!(
                    "{}/{repo}/actions/runs/{id}",
                    server.trim_end_matches('/')
                ))
            }
            _ => None,
        };
        Workflow {
            in_actions: var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
            event_name: var("GITHUB_EVENT_NAME"),
            branch,
            default_branch,
            repository,
            run_url,
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            output_file: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    /// An error annotation (or a plain `error:` line outside Actions).
    pub fn error(&self, message: &str) -> String {
        self.annotation("error", message)
    }

    /// A warning annotation (or a plain `warning:` line outside Actions).
    pub fn warning(&self, message: &str) -> String {
        self.annotation("warning", message)
    }

    fn annotation(&self, level: &str, message: &str) -> String {
        let message = visible(message);
        if self.in_actions {
            format!("::{level}::{}", escape_data(&message))
        } else {
            format!("{level}: {message}")
        }
    }

    /// Wraps `lines` in a foldable group inside Actions; returns them as they are outside.
    pub fn group(&self, title: &str, lines: Vec<String>) -> Vec<String> {
        if !self.in_actions {
            return lines;
        }
        let mut out = Vec::with_capacity(lines.len() + 2);
        out.push(format!("::group::{}", escape_data(&visible(title))));
        out.extend(lines);
        out.push("::endgroup::".to_string());
        out
    }

    /// Appends step outputs to `$GITHUB_OUTPUT`; does nothing outside Actions.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> Result<()> {
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let text: String = outputs.iter().map(|(k, v)| output_entry(k, v)).collect();
        append(path, &text)
    }

    /// Appends Markdown to the job summary; does nothing outside Actions.
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        match &self.summary_file {
            Some(path) => append(path, markdown),
            None => Ok(()),
        }
    }
}

/// `repository.default_branch` from an event payload file.
fn default_branch_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let event: serde_json::Value = serde_json::from_str(&text).ok()?;
    event
        .pointer("/repository/default_branch")?
        .as_str()
        .map(str::to_string)
}

/// Appending, not replacing: the runner's files collect every step's lines.
fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("appending to {}", path.display()))
}

/// `::add-mask::VALUE`: the runner hides VALUE in every later log line.
pub fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

/// Text from outside (object keys, and the details that quote them) made safe to show on one
/// line: control characters become their Rust escapes (`\n`, `\r`, `\t`, `\u{1b}`), and so do
/// the invisible bidirectional overrides that would reorder what a reader sees. A line break in
/// a key can then not start a new log line (a forged `::error::`), a table row or a list item,
/// and an escape sequence cannot colour or rewrite a terminal. Every other escaping function
/// here, and the issue body and Slack text, start from this one.
pub fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for one Markdown line (a heading, a list item): [`visible`], and `<` as `&lt;` so it
/// cannot open an HTML tag or a comment that hides the rest of the page.
pub fn markdown_text(text: &str) -> String {
    visible(text).replace('<', "&lt;")
}

/// Text for a Markdown table cell: [`markdown_text`], with pipes escaped so they cannot end
/// the cell.
pub fn markdown_cell(text: &str) -> String {
    markdown_text(text).replace('|', "\\|")
}

/// Text as Markdown inline code: [`visible`], fenced with more backticks than it holds in a
/// row, so a backtick in it cannot end the code span.
pub fn markdown_code(text: &str) -> String {
    let text = visible(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A space keeps a backtick at either end from joining the fence.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text for Slack's `mrkdwn`: [`visible`], and `&`, `<`, `>` escaped as Slack asks, so text
/// cannot form a link (`<https://…|click>`) or a mention (`<!channel>`).
pub fn slack_text(text: &str) -> String {
    visible(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes a workflow command's message: `%`, `\r` and `\n` (the runner's own rules).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as data, plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One `$GITHUB_OUTPUT` entry: `name=value`, or the heredoc form for multi-line values with a
/// delimiter that does not occur in the value.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut salt = 0u32;
    let delimiter = loop {
        let digest = Sha256::digest(format!("{name}\0{value}\0{salt}").as_bytes());
        let d = format!("ghadelimiter_{}", hex::encode(&digest[..12]));
        if !value.contains(&d) {
            break d;
        }
        salt += 1;
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

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

    use crate::kpi::{Inputs, MaxAges, Slot};
    use crate::report::Check;
    use crate::report::{Latest, Mode, Schedule, TargetReport};
    use chrono::{TimeZone, Utc};
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn text_from_outside_is_shown_on_one_line_without_control_characters() {
        let key = "db/a\nb\r\u{1b}[31mred|\u{202e}txt.gz";
        assert_eq!(visible(key), "db/a\\nb\\r\\u{1b}[31mred|\\u{202e}txt.gz");
        assert!(matches!(visible("plain/key.gz"), Cow::Borrowed(_)));
        assert_eq!(
            markdown_cell(key),
            "db/a\\nb\\r\\u{1b}[31mred\\|\\u{202e}txt.gz"
        );
        assert_eq!(markdown_text("<!-- hide"), "&lt;!-- hide");
        assert_eq!(markdown_code("a`b``c"), "```a`b``c```");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(
            slack_text("<!channel> & <https://x|y>\n"),
            "&lt;!channel&gt; &amp; &lt;https://x|y&gt;\\n"
        );
        let wf = Workflow {
            in_actions: true,
            ..Workflow::default()
        };
        assert_eq!(
            wf.error("bad\n::warning::forged\u{1b}"),
            "::error::bad\\n::warning::forged\\u{1b}"
        );
        assert_eq!(Workflow::default().error("a\nb"), "error: a\\nb");
    }

    #[test]
    fn workflow_commands_escape_percent_and_line_breaks() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        let wf = Workflow {
            in_actions: true,
            ..Workflow::default()
        };
        // Line breaks in a message are shown, not kept (see `visible`); a percent is escaped.
        assert_eq!(wf.error("two\nlines 5%"), "::error::two\\nlines 5%25");
        assert_eq!(wf.warning("w"), "::warning::w");
        assert_eq!(
            wf.group("checks", vec!["x".into()]),
            ["::group::checks", "x", "::endgroup::"]
        );
        assert_eq!(add_mask("s3cr%t"), "::add-mask::s3cr%25t");
        let plain = Workflow::default();
        assert_eq!(plain.error("boom"), "error: boom");
        assert_eq!(plain.group("g", vec!["x".into()]), ["x"]);
    }

    #[test]
    fn multi_line_outputs_use_a_heredoc_delimiter_absent_from_the_value() {
        assert_eq!(output_entry("status", "green"), "status=green\n");
        let entry = output_entry("report", "line 1\nline 2");
        let (head, rest) = entry.split_once('\n').unwrap();
        let delimiter = head.strip_prefix("report<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(rest, format!("line 1\nline 2\n{delimiter}\n"));
    }

    #[test]
    fn the_branch_event_and_default_branch_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"repository": {"default_branch": "trunk"}}"#).unwrap();
        let wf = Workflow::from_lookup(lookup(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "schedule"),
            ("GITHUB_REF", "refs/heads/trunk"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_SERVER_URL", "https://ghe.example/"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ]));
        assert!(wf.in_actions);
        assert_eq!(wf.event_name.as_deref(), Some("schedule"));
        assert_eq!(wf.branch.as_deref(), Some("trunk"));
        assert_eq!(wf.default_branch.as_deref(), Some("trunk"));
        assert_eq!(
            wf.run_url.as_deref(),
            Some("https://ghe.example/acme/app/actions/runs/7")
        );
        assert_eq!(wf.api_url, "https://api.github.com");
        // A tag ref is not a branch.
        let wf = Workflow::from_lookup(lookup(&[
            ("GITHUB_REF", "refs/tags/v1"),
            ("GITHUB_REF_NAME", "v1"),
        ]));
        assert_eq!(wf.branch, None);
    }

    #[test]
    fn outputs_and_summary_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        let wf = Workflow {
            output_file: Some(dir.path().join("out")),
            summary_file: Some(dir.path().join("sum")),
            ..Workflow::default()
        };
        wf.set_outputs(&[("ok", "true".into())]).unwrap();
        wf.set_outputs(&[("status", "green".into())]).unwrap();
        wf.append_summary("# a\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).unwrap(),
            "ok=true\nstatus=green\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sum")).unwrap(),
            "# a\n"
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
                weekly: ok.clone(),
                monthly: ok,
                quarterly: q,
                chaos: false,
            },
            MaxAges::default(),
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
