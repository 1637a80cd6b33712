//! `dr-action notify --report F [--kpi F]`: the alert issue (opened, commented, closed) and the
//! Slack message, as the config's `notify:` asks. `run` calls [`deliver`] too.
//!
//! A step that is not configured is silent; a step that cannot run here (no `GITHUB_TOKEN`) is
//! skipped and says why; a step that was attempted and failed is an undelivered alert: an
//! `::error` annotation, a summary line, and exit code 2 — a failure nobody hears of is the
//! worst outcome this tool can have.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use secrecy::SecretString;

use super::optional_config;
use super::publish::github_client;
use crate::actions::Workflow;
use crate::cli::Global;
use crate::config::Notify;
use crate::error::Outcome;
use crate::github::GitHub;
use crate::github::issues::{self, IssueAction, IssueSettings};
use crate::kpi::Kpi;
use crate::output::Sink;
use crate::report::Report;
use crate::slack;

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The report `check` wrote.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// The KPI, to mention its status.
    #[arg(long, value_name = "FILE")]
    pub kpi: Option<PathBuf>,
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
pub async fn deliver(
    notify: &Notify,
    report: &Report,
    kpi: Option<&Kpi>,
    gh: Result<&GitHub, &str>,
) -> Delivery {
    let mut d = Delivery::default();
    let mut recovered = false;
    match (&notify.github_issue, gh) {
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
        let url = std::env::var(&cfg.webhook_env)
            .ok()
            .filter(|u| !u.trim().is_empty());
        match (wanted, url) {
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
                    Ok(client) => {
                        slack::send(&client, &SecretString::from(url), &payload, slack::RETRY)
                            .await
                            .map_err(|e| e.to_string())
                    }
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

pub async fn run(global: &Global, args: NotifyArgs, out: &dyn Sink) -> Result<Outcome> {
    let wf = Workflow::from_env();
    let notify = optional_config(global)?
        .map(|l| l.config.notify)
        .unwrap_or_default();
    let report = read_report(&args.report)?;
    let kpi = args
        .kpi
        .as_deref()
        .map(super::kpi::read_state)
        .transpose()?
        .flatten();
    let gh = github_client(&wf);
    let d = deliver(
        &notify,
        &report,
        kpi.as_ref(),
        gh.as_ref().map_err(String::as_str),
    )
    .await;
    out.lines(&d.notes);
    for e in &d.errors {
        out.line(&wf.error(e));
    }
    if let Some(url) = &d.issue_url {
        wf.set_outputs(&[("issue-url", url.clone())])?;
    }
    if !d.errors.is_empty() {
        let md: String = d
            .errors
            .iter()
            .map(|e| format!("- ❌ **alert not delivered**: {e}\n"))
            .collect();
        wf.append_summary(&format!("### Alerts\n\n{md}\n"))?;
    }
    Ok(if d.errors.is_empty() {
        Outcome::ok()
    } else {
        Outcome::step_failed()
    })
}
