//! Slack incoming-webhook alerts: a Block Kit message with the status, the failed checks and a
//! button to the run ("chaos drill" when it was one).
//!
//! Delivery is the shared alert POST ([`crate::notify::http`]), bounded in attempts and in
//! time ([`RETRY`]): `429` waits for `Retry-After`, `5xx` and connection errors back off (1 s,
//! 2 s, 4 s); any other `4xx` is final and quotes Slack's own error text (`invalid_payload`,
//! `no_service`…). The webhook URL is a secret: it is held as a [`SecretString`] and never in
//! an error.

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::kpi::Kpi;
use crate::markup::slack_text;
use crate::notify::http::{self, Post, PostError};
use crate::report::Report;
use crate::retry::RetryPolicy;

/// How delivery retries: 4 attempts, waits doubling from 1 s, all within 30 s.
pub const RETRY: RetryPolicy = http::RETRY;

/// The emoji and word of a report's outcome.
fn headline(report: &Report, recovered: bool) -> String {
    let what = format!("{} {}", report.schedule, report.kind.as_str());
    let repo = report
        .run
        .as_ref()
        .map(|r| format!(" in {}", r.repository))
        .unwrap_or_default();
    match (report.chaos, report.ok, recovered) {
        (true, _, _) => format!("🧪 Chaos drill: DR check failed on purpose: {what}{repo}"),
        (false, false, _) => format!("🔴 DR check failed: {what}{repo}"),
        (false, true, true) => format!("✅ DR check recovered: {what}{repo}"),
        (false, true, false) => format!("✅ DR check passed: {what}{repo}"),
    }
}

/// The Block Kit message for a report (and the KPI when known).
pub fn payload(report: &Report, kpi: Option<&Kpi>, recovered: bool) -> Value {
    let title = headline(report, recovered);
    let mut status = format!(
        "*Status:* {}",
        if report.ok { "passing" } else { "failing" }
    );
    if let Some(kpi) = kpi {
        status.push_str(&format!("   *KPI:* {}", kpi.status));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": status}}),
    ];
    let failures: Vec<String> = report
        .targets
        .iter()
        .flat_map(|t| {
            t.failed_checks().map(move |c| {
                format!(
                    "• `{}` *{}*: {}",
                    slack_text(&t.name),
                    slack_text(&c.name),
                    slack_text(&c.detail)
                )
            })
        })
        .collect();
    if !failures.is_empty() {
        let text = format!("*Failed checks*\n{}", failures.join("\n"));
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}),
        );
    }
    if report.chaos {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": "This is a *chaos drill*: the failure was caused on purpose to prove that alerts arrive. The badge and KPI are unchanged."}]}));
    }
    if let Some(run) = &report.run {
        blocks.push(json!({"type": "actions", "elements": [{"type": "button",
            "text": {"type": "plain_text", "text": "Open the run"}, "url": run.url}]}));
    }
    json!({"text": title, "blocks": blocks})
}

/// [`payload`] for a reminder: the failure, with a line saying since when it has been
/// failing and that reminders come at most daily.
pub fn reminder(report: &Report, kpi: Option<&Kpi>, since: &str) -> Value {
    let mut p = payload(report, kpi, false);
    let line = format!(
        "Still failing since {since}; a reminder comes at most once a day until it recovers."
    );
    if let Some(blocks) = p["blocks"].as_array_mut() {
        blocks.insert(
            2,
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}),
        );
    }
    p
}

/// A warning: the report passes, but targets that are not critical failed; lists only their
/// failed checks.
pub fn warning(report: &Report, kpi: Option<&Kpi>) -> Value {
    let title = format!(
        "WARNING: a non-critical DR target failed ({} {})",
        report.schedule,
        report.kind.as_str()
    );
    let mut status =
        "*Status:* passing with warnings (not critical: the run and the KPI are not failed)"
            .to_string();
    if let Some(kpi) = kpi {
        status.push_str(&format!("   *KPI:* {}", kpi.status));
    }
    let lines: Vec<String> = report
        .targets
        .iter()
        .filter(|t| !t.critical)
        .flat_map(|t| {
            t.failed_checks().map(move |c| {
                format!(
                    "• `{}` *{}*: {}",
                    slack_text(&t.name),
                    slack_text(&c.name),
                    slack_text(&c.detail)
                )
            })
        })
        .collect();
    let text = format!("*Failed checks (not critical)*\n{}", lines.join("\n"));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": status}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}),
    ];
    if let Some(run) = &report.run {
        blocks.push(json!({"type": "actions", "elements": [{"type": "button",
            "text": {"type": "plain_text", "text": "Open the run"}, "url": run.url}]}));
    }
    json!({"text": title, "blocks": blocks})
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

/// Posts `payload` to the webhook, retrying as `policy` and the module header describe.
pub async fn send(
    client: &reqwest::Client,
    webhook: &SecretString,
    payload: &Value,
    policy: RetryPolicy,
) -> Result<(), PostError> {
    let post = Post {
        what: "Slack webhook",
        url: webhook,
        content_type: "application/json",
        body: payload.to_string().into_bytes(),
        headers: Vec::new(),
    };
    http::send(client, &post, policy).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::Check;
    use crate::report::{Mode, Schedule, TargetReport};

    fn report(chaos: bool) -> Report {
        let targets = vec![TargetReport::new(
            "orders-db",
            None,
            vec![Check::fail(
                "listing",
                "no key under dr-chaos-123/ matches *.dump.gz",
            )],
        )];
        crate::report::sample(Mode::DryRun, Schedule::Weekly, chaos, targets)
    }

    #[test]
    fn the_failure_message_is_stable() {
        insta::assert_snapshot!(
            serde_json::to_string_pretty(&payload(&report(false), None, false)).unwrap()
        );
    }

    #[test]
    fn a_reminder_says_since_when() {
        let p = reminder(&report(false), None, "2026-03-01T06:00:00Z");
        let text = p.to_string();
        assert!(
            text.contains("Still failing since 2026-03-01T06:00:00Z"),
            "{text}"
        );
        assert_eq!(p["blocks"][2]["type"], "context");
    }

    #[test]
    fn a_chaos_drill_says_so() {
        let p = payload(&report(true), None, false);
        let text = p.to_string();
        assert!(text.contains("Chaos drill"), "{text}");
        assert!(text.contains("chaos drill"), "{text}");
    }
}
