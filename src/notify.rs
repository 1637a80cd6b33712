//! Alert delivery for a report: the GitHub alert issue (opened, commented, closed) and the
//! Slack message, as the config's `notify:` asks.
//!
//! A step that is not configured is silent; a step that cannot run here (no `GITHUB_TOKEN`) is
//! skipped and says why; a step that was attempted and failed is an undelivered alert, which
//! the caller turns into an error annotation and exit code 2.

use anyhow::{Context, Result};
use secrecy::SecretString;

use crate::config::Notify;
use crate::github::GitHub;
use crate::github::issues::{self, IssueAction, IssueSettings};
use crate::kpi::Kpi;
use crate::report::Report;
use crate::slack;

/// Where alerts can go on this run.
pub struct Channels<'a> {
    pub notify: &'a Notify,
    /// The GitHub client, or why there is none.
    pub github: Result<&'a GitHub, &'a str>,
    /// The webhook in the variable `notify.slack.webhook-env` names, when set.
    pub slack_webhook: Option<SecretString>,
}

impl<'a> Channels<'a> {
    /// The channels `notify` configures, with the webhook read from `env`.
    pub fn new(
        notify: &'a Notify,
        github: Result<&'a GitHub, &'a str>,
        env: &crate::env::Env,
    ) -> Self {
        let slack_webhook = notify
            .slack
            .as_ref()
            .and_then(|cfg| env.secret(&cfg.webhook_env));
        Channels {
            notify,
            github,
            slack_webhook,
        }
    }
}

/// What the alert steps did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// One line per step: sent, opened, skipped and why.
    pub notes: Vec<String>,
    /// Alerts that were attempted and not delivered.
    pub errors: Vec<String>,
    pub issue_url: Option<String>,
}

/// Opens / comments / closes the issue and sends Slack, as configured.
pub async fn deliver(report: &Report, kpi: Option<&Kpi>, channels: Channels<'_>) -> Delivery {
    let notify = channels.notify;
    let mut d = Delivery::default();
    let mut recovered = false;
    match (&notify.github_issue, channels.github) {
        (Some(cfg), Ok(gh)) if cfg.enabled => {
            let settings = IssueSettings {
                labels: cfg.labels.clone(),
                runbook: cfg.runbook.clone(),
            };
            match issues::sync_issue(gh, report, &settings).await {
                Ok(action) => {
                    recovered = matches!(action, IssueAction::Closed { .. });
                    d.issue_url = action.url().map(str::to_string);
                    d.notes.push(action.describe());
                }
                Err(e) => d
                    .errors
                    .push(format!("the alert issue was not updated: {e}")),
            }
        }
        (Some(cfg), Err(why)) if cfg.enabled => {
            d.notes.push(format!("skipped the alert issue: {why}"));
        }
        _ => {}
    }
    if let Some(cfg) = &notify.slack {
        let wanted = !report.ok || recovered;
        match (wanted, channels.slack_webhook) {
            (false, _) => d.notes.push("slack: nothing to report".to_string()),
            (true, None) => d.errors.push(format!(
                "the Slack alert was not sent: {} is not set (notify.slack.webhook-env)",
                cfg.webhook_env
            )),
            (true, Some(url)) => {
                let payload = slack::payload(report, kpi, recovered);
                let sent = match reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                {
                    Ok(client) => slack::send(&client, &url, &payload, slack::RETRY)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("building the HTTP client: {}", e.without_url())),
                };
                match sent {
                    Ok(()) => d.notes.push("slack: message sent".to_string()),
                    Err(e) => d.errors.push(format!("the Slack alert was not sent: {e}")),
                }
            }
        }
    }
    d
}

/// Reads a report written by `check`.
pub fn read_report(path: &std::path::Path) -> Result<Report> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading report {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a report written by `dr-action check`",
            path.display()
        )
    })
}
