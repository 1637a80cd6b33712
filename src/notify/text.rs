//! The words of an alert outside Slack and the issue: the subject, the plain-text and HTML
//! bodies of the email, the heartbeat's body and the webhook's JSON. Pure: no I/O.

use serde_json::{Value, json};

use super::episode::Message;
use crate::kpi::Kpi;
use crate::markup::escape;
use crate::report::{Report, rfc3339};

/// The largest heartbeat body: the healthchecks.io ping API keeps at most 100 kB.
pub const HEARTBEAT_MAX_BYTES: usize = 100_000;

fn what(report: &Report) -> String {
    let repo = report
        .run
        .as_ref()
        .map(|r| format!(" in {}", r.repository))
        .unwrap_or_default();
    format!("{} {}{repo}", report.schedule, report.kind.as_str())
}

/// The event name of a message, as the webhook's `event` says it.
pub fn event(message: &Message) -> &'static str {
    match message {
        Message::Failed => "failed",
        Message::StillFailing { .. } => "still-failing",
        Message::Recovered { .. } => "recovered",
        Message::Drill => "drill",
    }
}

/// The one-line headline (the email's subject).
pub fn subject(report: &Report, message: &Message) -> String {
    let what = what(report);
    match message {
        Message::Drill => format!("[chaos drill] DR check failed on purpose: {what}"),
        Message::Failed => format!("DR check failed: {what}"),
        Message::StillFailing { since, .. } => format!(
            "DR check still failing since {}: {what}",
            rfc3339::format(since)
        ),
        Message::Recovered { .. } => format!("DR check recovered: {what}"),
    }
}

/// `(target, check, detail)` of every failed check.
fn failures(report: &Report) -> Vec<(&str, &str, &str)> {
    report
        .targets
        .iter()
        .flat_map(|t| {
            t.failed_checks()
                .map(move |c| (t.name.as_str(), c.name.as_str(), c.detail.as_str()))
        })
        .collect()
}

/// The plain-text body: status, KPI, failed checks, run link, and what a drill is.
pub fn plain(report: &Report, kpi: Option<&Kpi>, message: &Message) -> String {
    let mut text = format!("{}\n\n", subject(report, message));
    text.push_str(&format!(
        "Status: {}\n",
        if report.ok { "passing" } else { "failing" }
    ));
    if let Some(kpi) = kpi {
        text.push_str(&format!("KPI: {}\n", kpi.status));
    }
    text.push_str(&format!(
        "Finished: {}\n",
        rfc3339::format(&report.finished_at)
    ));
    if let Message::Recovered { since } = message {
        text.push_str(&format!("Failing since: {}\n", rfc3339::format(since)));
    }
    let failed = failures(report);
    if !failed.is_empty() {
        text.push_str("\nFailed checks:\n");
        for (target, check, detail) in failed {
            text.push_str(&format!("- {target} {check}: {detail}\n"));
        }
    }
    if report.chaos {
        text.push_str(
            "\nThis is a chaos drill: the failure was caused on purpose to prove that alerts \
             arrive. The badge and KPI are unchanged.\n",
        );
    }
    match &report.run {
        Some(run) => text.push_str(&format!("\nRun: {}\n", run.url)),
        None => text.push_str("\nRun: (not run in GitHub Actions)\n"),
    }
    text
}

/// The HTML body: the same facts as [`plain`], every value escaped.
pub fn html(report: &Report, kpi: Option<&Kpi>, message: &Message) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n<p><b>Status:</b> {}",
        escape(&subject(report, message)),
        if report.ok { "passing" } else { "failing" }
    );
    if let Some(kpi) = kpi {
        h.push_str(&format!("<br><b>KPI:</b> {}", kpi.status));
    }
    h.push_str(&format!(
        "<br><b>Finished:</b> {}",
        rfc3339::format(&report.finished_at)
    ));
    if let Message::Recovered { since } = message {
        h.push_str(&format!(
            "<br><b>Failing since:</b> {}",
            rfc3339::format(since)
        ));
    }
    h.push_str("</p>\n");
    let failed = failures(report);
    if !failed.is_empty() {
        h.push_str("<h3>Failed checks</h3>\n<table border=\"1\" cellpadding=\"4\">\n<tr><th>target</th><th>check</th><th>detail</th></tr>\n");
        for (target, check, detail) in failed {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(target),
                escape(check),
                escape(detail)
            ));
        }
        h.push_str("</table>\n");
    }
    if report.chaos {
        h.push_str("<p><b>This is a chaos drill</b>: the failure was caused on purpose to prove that alerts arrive. The badge and KPI are unchanged.</p>\n");
    }
    if let Some(run) = &report.run {
        h.push_str(&format!(
            "<p><a href=\"{}\">Open the run</a></p>\n",
            escape(&run.url)
        ));
    }
    h.push_str("</body></html>\n");
    h
}

/// The heartbeat's body: the run's summary, cut to [`HEARTBEAT_MAX_BYTES`].
pub fn heartbeat(report: &Report, kpi: Option<&Kpi>) -> String {
    let message = if report.ok {
        Message::Recovered {
            since: report.finished_at,
        }
    } else {
        Message::Failed
    };
    let mut text = plain(report, kpi, &message);
    if report.ok {
        // Not a recovery: a passing run says it passed.
        text = text.replacen("DR check recovered", "DR check passed", 1);
        text = text
            .lines()
            .filter(|l| !l.starts_with("Failing since:"))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    cut(text, HEARTBEAT_MAX_BYTES)
}

/// `text` in at most `max` bytes, cut at a character boundary with a marker saying so.
pub fn cut(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    const MARK: &str = "\n… (cut)\n";
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// The webhook's JSON body.
pub fn webhook(report: &Report, kpi: Option<&Kpi>, message: &Message) -> Value {
    let since = match message {
        Message::StillFailing { since, .. } | Message::Recovered { since } => {
            Some(rfc3339::format(since))
        }
        Message::Failed | Message::Drill => None,
    };
    json!({
        "schema": 1,
        "event": event(message),
        "title": subject(report, message),
        "schedule": report.schedule.to_string(),
        "kind": report.kind.as_str(),
        "ok": report.ok,
        "chaos": report.chaos,
        "kpi": kpi.map(|k| k.status.as_str()),
        "finished_at": rfc3339::format(&report.finished_at),
        "failing_since": since,
        "repository": report.run.as_ref().map(|r| r.repository.clone()),
        "run_url": report.run.as_ref().map(|r| r.url.clone()),
        "failed_checks": failures(report)
            .into_iter()
            .map(|(t, c, d)| json!({"target": t, "check": c, "detail": d}))
            .collect::<Vec<_>>(),
        "text": plain(report, kpi, message),
    })
}

/// `(target, check, detail)` of every failed check of a target that is not critical.
fn warnings(report: &Report) -> Vec<(&str, &str, &str)> {
    report
        .targets
        .iter()
        .filter(|t| !t.critical)
        .flat_map(|t| {
            t.failed_checks()
                .map(move |c| (t.name.as_str(), c.name.as_str(), c.detail.as_str()))
        })
        .collect()
}

/// The headline of a warning: the report passes, but a target that is not critical failed.
pub fn warning_subject(report: &Report) -> String {
    format!(
        "[warning] DR check: a non-critical target failed: {}",
        what(report)
    )
}

/// The plain-text body of a warning: the non-critical failed checks and the run link.
pub fn warning_plain(report: &Report, kpi: Option<&Kpi>) -> String {
    let mut text = format!(
        "{}

",
        warning_subject(report)
    );
    text.push_str(
        "Status: passing with warnings (the targets below are not critical: their failure \
         does not fail the run or the KPI)\n",
    );
    if let Some(kpi) = kpi {
        text.push_str(&format!("KPI: {}\n", kpi.status));
    }
    text.push_str(&format!(
        "Finished: {}\n\nFailed checks (not critical):\n",
        rfc3339::format(&report.finished_at)
    ));
    for (target, check, detail) in warnings(report) {
        text.push_str(&format!("- {target} {check}: {detail}\n"));
    }
    match &report.run {
        Some(run) => text.push_str(&format!("\nRun: {}\n", run.url)),
        None => text.push_str("\nRun: (not run in GitHub Actions)\n"),
    }
    text
}

/// The HTML body of a warning: [`warning_plain`] escaped, as preformatted text.
pub fn warning_html(report: &Report, kpi: Option<&Kpi>) -> String {
    format!(
        "<!DOCTYPE html>\n<html><body>\n<pre>{}</pre>\n</body></html>\n",
        escape(&warning_plain(report, kpi))
    )
}

/// The webhook's JSON body for a warning (`event` is `warning`).
pub fn warning_webhook(report: &Report, kpi: Option<&Kpi>) -> Value {
    json!({
        "schema": 1,
        "event": WARNING_EVENT,
        "title": warning_subject(report),
        "schedule": report.schedule.to_string(),
        "kind": report.kind.as_str(),
        "ok": report.ok,
        "chaos": report.chaos,
        "kpi": kpi.map(|k| k.status.as_str()),
        "finished_at": rfc3339::format(&report.finished_at),
        "failing_since": null,
        "repository": report.run.as_ref().map(|r| r.repository.clone()),
        "run_url": report.run.as_ref().map(|r| r.url.clone()),
        "failed_checks": warnings(report)
            .into_iter()
            .map(|(t, c, d)| json!({"target": t, "check": c, "detail": d, "critical": false}))
            .collect::<Vec<_>>(),
        "text": warning_plain(report, kpi),
    })
}

/// The event name of a warning.
pub const WARNING_EVENT: &str = "warning";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Mode, Schedule, TargetReport};

    fn report(chaos: bool) -> Report {
        let targets = vec![TargetReport::new(
            "orders-db",
            None,
            vec![Check::fail("listing", "no key <b>matches</b> & more")],
        )];
        crate::report::sample(Mode::DryRun, Schedule::Weekly, chaos, targets)
    }

    #[test]
    fn html_escapes_every_value_and_plain_keeps_them() {
        let r = report(false);
        let h = html(&r, None, &Message::Failed);
        assert!(
            h.contains("no key &lt;b&gt;matches&lt;/b&gt; &amp; more"),
            "{h}"
        );
        assert!(!h.contains("<b>matches"), "{h}");
        let p = plain(&r, None, &Message::Failed);
        assert!(
            p.contains("- orders-db listing: no key <b>matches</b> & more"),
            "{p}"
        );
        assert!(p.starts_with("DR check failed: weekly dry-run"), "{p}");
    }

    #[test]
    fn a_drill_is_marked_in_subject_and_body() {
        let r = report(true);
        assert!(subject(&r, &Message::Drill).starts_with("[chaos drill]"));
        assert!(plain(&r, None, &Message::Drill).contains("This is a chaos drill"));
        assert!(html(&r, None, &Message::Drill).contains("This is a chaos drill"));
        assert_eq!(webhook(&r, None, &Message::Drill)["event"], "drill");
    }

    #[test]
    fn the_heartbeat_body_is_cut_at_a_character_boundary() {
        let long = "é".repeat(HEARTBEAT_MAX_BYTES);
        let c = cut(long, HEARTBEAT_MAX_BYTES);
        assert!(c.len() <= HEARTBEAT_MAX_BYTES, "{}", c.len());
        assert!(c.ends_with("… (cut)\n"));
        let short = heartbeat(&report(false), None);
        assert!(short.contains("DR check failed"), "{short}");
    }

    #[test]
    fn a_warning_lists_only_the_non_critical_failures_escaped_in_html() {
        let mut optional = TargetReport::new(
            "cache<db>",
            None,
            vec![Check::fail("listing", "nothing & <gone>")],
        );
        optional.critical = false;
        let passing = TargetReport::new("orders-db", None, vec![Check::pass("listing", "ok")]);
        let mut r = crate::report::sample(
            Mode::DryRun,
            Schedule::Weekly,
            false,
            vec![passing, optional],
        );
        r.ok = true;
        let p = warning_plain(&r, None);
        assert!(p.starts_with("[warning]"), "{p}");
        assert!(p.contains("- cache<db> listing: nothing & <gone>"), "{p}");
        assert!(!p.contains("orders-db"), "{p}");
        let h = warning_html(&r, None);
        assert!(
            h.contains("cache&lt;db&gt; listing: nothing &amp; &lt;gone&gt;"),
            "{h}"
        );
        let w = warning_webhook(&r, None);
        assert_eq!(w["event"], "warning");
        assert_eq!(w["failed_checks"].as_array().unwrap().len(), 1);
        assert_eq!(w["failed_checks"][0]["critical"], false);
    }
}
