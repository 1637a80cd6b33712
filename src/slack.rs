//! Slack incoming-webhook alerts: a Block Kit message with the status, the failed checks and a
//! button to the run ("chaos drill" when it was one).
//!
//! Delivery is bounded in attempts and in time: `429` waits for `Retry-After`, `5xx` and
//! connection errors back off (1 s, 2 s, 4 s); any other `4xx` is final and quotes Slack's
//! own error text (`invalid_payload`, `no_service`…). The webhook URL is a secret: it is held
//! as a [`SecretString`] and stripped from every error (`reqwest::Error::without_url`).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::actions::slack_text;
use crate::kpi::Kpi;
use crate::report::Report;

/// How delivery retries.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub budget: Duration,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            budget: Duration::from_secs(30),
            first_backoff: Duration::from_secs(1),
        }
    }
}

/// A message that could not be delivered. Never contains the webhook URL.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack refused the message: {status} {text}")]
    Refused { status: u16, text: String },
    #[error("Slack did not accept the message after {attempts} attempts in {elapsed:?}: {last}")]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
}

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

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

/// Posts `payload` to the webhook, retrying as the module header describes.
pub async fn send(
    client: &reqwest::Client,
    webhook: &SecretString,
    payload: &Value,
    policy: RetryPolicy,
) -> Result<(), SlackError> {
    let started = Instant::now();
    let mut backoff = policy.first_backoff;
    let mut last = String::new();
    let mut attempts = 0;
    while attempts < policy.attempts {
        attempts += 1;
        // No attempt may outlive the budget, however slow the server is to answer.
        let remaining = policy
            .budget
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        let wait = match client
            .post(webhook.expose_secret())
            .timeout(remaining)
            .json(payload)
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Ok(());
                }
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let text = resp
                    .text()
                    .await
                    .unwrap_or_default()
                    .trim()
                    .chars()
                    .take(300)
                    .collect::<String>();
                if status.as_u16() == 429 {
                    last = format!("429 rate limited {text}");
                    Duration::from_secs(retry_after.unwrap_or(1))
                } else if status.is_server_error() {
                    last = format!("{} {text}", status.as_u16());
                    backoff
                } else {
                    return Err(SlackError::Refused {
                        status: status.as_u16(),
                        text,
                    });
                }
            }
            Err(e) => {
                last = e.without_url().to_string();
                backoff
            }
        };
        if attempts >= policy.attempts || started.elapsed() + wait > policy.budget {
            break;
        }
        tracing::warn!(
            attempt = attempts,
            ?wait,
            "Slack did not take the message; retrying"
        );
        tokio::time::sleep(wait).await;
        backoff *= 2;
    }
    Err(SlackError::GaveUp {
        attempts,
        elapsed: started.elapsed(),
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckResult;
    use crate::report::{Mode, Schedule, TargetReport};

    fn report(chaos: bool) -> Report {
        let targets = vec![TargetReport::new(
            "orders-db",
            None,
            vec![CheckResult::fail(
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
    fn a_chaos_drill_says_so() {
        let p = payload(&report(true), None, false);
        let text = p.to_string();
        assert!(text.contains("Chaos drill"), "{text}");
        assert!(text.contains("chaos drill"), "{text}");
    }
}
