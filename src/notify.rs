//! Alert delivery for a report: the GitHub alert issue (opened, commented, closed) and the
//! Slack message, as the config's `notify:` asks.
//!
//! Alerts are on by default, because a failure nobody hears of is the worst outcome: inside
//! GitHub Actions with a token the alert issue is used unless `github-issue.enabled` is false,
//! and Slack is used whenever its webhook variable is set. A failed report that reached no
//! channel at all is flagged ([`Delivery::unheard`]) so the caller can say that no one was told.
//! A step that is not configured is silent; a step that cannot run here (no `GITHUB_TOKEN`) is
//! skipped and says why; a step that was attempted and failed is an undelivered alert, which
//! the caller turns into an error annotation and exit code 2.

use anyhow::{Context, Result};
use secrecy::SecretString;

use crate::config::{DEFAULT_WEBHOOK_ENV, GithubIssue, Notify};
use crate::github::GitHub;
use crate::github::issues::{self, IssueAction, IssueSettings};
use crate::kpi::Kpi;
use crate::report::Report;
use crate::slack;

/// Where alerts can go on this run.
pub struct Channels<'a> {
    /// The alert issue wanted here: configured, or the default inside Actions with a token.
    pub issue: Option<GithubIssue>,
    /// The GitHub client, or why there is none.
    pub github: Result<&'a GitHub, &'a str>,
    /// The Slack webhook variable wanted here (configured, or the default one when it is set),
    /// with the webhook it holds.
    pub slack: Option<(String, Option<SecretString>)>,
}

impl<'a> Channels<'a> {
    /// The channels `notify` configures, plus the defaults this environment turns on, with the
    /// webhook read from `env`.
    pub fn new(
        notify: &Notify,
        github: Result<&'a GitHub, &'a str>,
        env: &crate::env::Env,
    ) -> Self {
        let issue = match &notify.github_issue {
            Some(cfg) => cfg.enabled.then(|| cfg.clone()),
            None if env.workflow.in_actions && github.is_ok() => Some(GithubIssue::default()),
            None => None,
        };
        let slack = match &notify.slack {
            Some(cfg) => Some((cfg.webhook_env.clone(), env.secret(&cfg.webhook_env))),
            None => env
                .secret(DEFAULT_WEBHOOK_ENV)
                .map(|url| (DEFAULT_WEBHOOK_ENV.to_string(), Some(url))),
        };
        Channels {
            issue,
            github,
            slack,
        }
    }

    /// Whether any channel could carry an alert on this run.
    pub fn any(&self) -> bool {
        (self.issue.is_some() && self.github.is_ok())
            || self.slack.as_ref().is_some_and(|(_, url)| url.is_some())
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
    /// The report failed and no channel could carry an alert: no one was told.
    pub unheard: bool,
}

/// What the caller says when a failure reached no channel.
pub const UNHEARD: &str = "no alert was sent: no channel is configured (inside GitHub Actions \
set GITHUB_TOKEN for the alert issue, or set SLACK_WEBHOOK_URL / notify.slack.webhook-env), \
so no one was told about this failure";

/// Opens / comments / closes the issue and sends Slack, as configured.
pub async fn deliver(report: &Report, kpi: Option<&Kpi>, channels: Channels<'_>) -> Delivery {
    let mut d = Delivery {
        unheard: !report.ok && !channels.any(),
        ..Delivery::default()
    };
    let mut recovered = false;
    match (&channels.issue, channels.github) {
        (Some(cfg), Ok(gh)) => {
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
        (Some(_), Err(why)) => {
            d.notes.push(format!("skipped the alert issue: {why}"));
        }
        _ => {}
    }
    if let Some((webhook_env, webhook)) = channels.slack {
        let wanted = !report.ok || recovered;
        match (wanted, webhook) {
            (false, _) => d.notes.push("slack: nothing to report".to_string()),
            (true, None) => d.errors.push(format!(
                "the Slack alert was not sent: {webhook_env} is not set (notify.slack.webhook-env)"
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
