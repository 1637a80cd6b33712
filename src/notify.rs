//! Alert delivery for a report: the GitHub alert issue (opened, commented, closed), the Slack
//! message, the email and the signed webhook, as the config's `notify:` asks — and the
//! heartbeat ping that tells a dead-man switch the checker ran.
//!
//! Alerts are on by default, because a failure nobody hears of is the worst outcome: inside
//! GitHub Actions with a token the alert issue is used unless `github-issue.enabled` is false,
//! and Slack is used whenever its webhook variable is set. A failed report that reached no
//! channel at all is flagged ([`Delivery::unheard`]) so the caller can say that no one was told.
//! A step that is not configured is silent; a step that cannot run here (no `GITHUB_TOKEN`) is
//! skipped and says why; a step that was attempted and failed is an undelivered alert, which
//! the caller turns into an error annotation and exit code 2.
//!
//! What each alert channel says on a run follows one alert state ([`episode`]): a message when
//! a failure episode opens, a reminder at most daily while it lasts, one on recovery. The
//! heartbeat is not an alert: it pings on every run that is not a drill. A passing report whose
//! non-critical targets failed is a warning: Slack, the email and the webhook hear it once per
//! warning episode (its own entry in the alert state), the issue never does.

pub mod email;
pub mod episode;
pub mod http;
pub mod slack;
pub mod text;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use self::episode::{Episode, Message, Plan};
use crate::config::{DEFAULT_WEBHOOK_ENV, Email, GithubIssue, Notify};
use crate::github::GitHub;
use crate::github::issues::{self, IssueAction, IssueSettings};
use crate::kpi::Kpi;
use crate::report::Report;

/// Where alerts can go on this run.
pub struct Channels<'a> {
    /// The alert issue wanted here: configured, or the default inside Actions with a token.
    pub issue: Option<GithubIssue>,
    /// The GitHub client, or why there is none.
    pub github: Result<&'a GitHub, &'a str>,
    /// The Slack webhook variable wanted here (configured, or the default one when it is set),
    /// with the webhook it holds.
    pub slack: Option<(String, Option<SecretString>)>,
    /// The email settings, with the SMTP URL their variable holds.
    pub email: Option<(Email, Option<SecretString>)>,
    /// The webhook's variables, with the URL and the secret they hold.
    pub webhook: Option<Secrets>,
    /// The heartbeat's variable, with the ping URL it holds.
    pub heartbeat: Option<(String, Option<SecretString>)>,
}

/// A webhook: `(variable, value)` of its URL and of its signing secret.
pub struct Secrets {
    pub url: (String, Option<SecretString>),
    pub secret: (String, Option<SecretString>),
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
        let var = |name: &String| (name.clone(), env.secret(name));
        Channels {
            issue,
            github,
            slack,
            email: notify
                .email
                .as_ref()
                .map(|cfg| (cfg.clone(), env.secret(&cfg.smtp_url_env))),
            webhook: notify.webhook.as_ref().map(|cfg| Secrets {
                url: var(&cfg.url_env),
                secret: var(&cfg.secret_env),
            }),
            heartbeat: notify.heartbeat.as_ref().map(|cfg| var(&cfg.url_env)),
        }
    }

    /// Whether any channel could carry an alert on this run (the heartbeat is not one).
    pub fn any(&self) -> bool {
        (self.issue.is_some() && self.github.is_ok())
            || self.slack.as_ref().is_some_and(|(_, url)| url.is_some())
            || self.email.as_ref().is_some_and(|(_, url)| url.is_some())
            || self.webhook.as_ref().is_some_and(|w| w.url.1.is_some())
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
    /// Each alert channel's episode after this run (channel name → episode), for the state.
    pub episodes: BTreeMap<String, Episode>,
}

/// What the caller says when a failure reached no channel.
pub const UNHEARD: &str = "no alert was sent: no channel is configured (inside GitHub Actions \
set GITHUB_TOKEN for the alert issue, or set SLACK_WEBHOOK_URL / notify.slack.webhook-env, or \
configure notify.email or notify.webhook), so no one was told about this failure";

/// The names the alert channels have in the alert state.
pub const ISSUE: &str = "github-issue";
pub const SLACK: &str = "slack";
pub const EMAIL: &str = "email";
pub const WEBHOOK: &str = "webhook";

/// The header carrying the webhook body's signature: `sha256=` and the lowercase hex
/// HMAC-SHA256 of the exact body bytes, keyed with the shared secret.
pub const SIGNATURE_HEADER: &str = "X-DR-Signature-256";
/// The header naming what the webhook tells (`failed`, `still-failing`, `recovered`, `drill`,
/// `warning`).
pub const EVENT_HEADER: &str = "X-DR-Event";

/// The value of [`SIGNATURE_HEADER`] for `body`.
pub fn signature(secret: &SecretString, body: &[u8]) -> Result<String, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|e| format!("the webhook secret cannot key HMAC-SHA256: {e}"))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Opens / comments / closes the issue and sends Slack, the email and the webhook, as
/// configured and as each channel's episode of this schedule (`episodes`, channel name →
/// episode) allows; then pings the heartbeat.
pub async fn deliver(
    report: &Report,
    kpi: Option<&Kpi>,
    channels: Channels<'_>,
    episodes: &BTreeMap<String, Episode>,
    now: DateTime<Utc>,
) -> Delivery {
    let mut d = Delivery {
        unheard: !report.ok && !channels.any(),
        episodes: episodes.clone(),
        ..Delivery::default()
    };
    let plan_of = |name: &str| episode::plan(episodes.get(name), report.ok, report.chaos, now);
    let record = |d: &mut Delivery, name: &str, plan: &Plan, delivered: bool| {
        match episode::after(episodes.get(name), plan, delivered, now) {
            Some(e) => d.episodes.insert(name.to_string(), e),
            None => d.episodes.remove(name),
        };
    };
    let mut issue_closed = false;
    match (&channels.issue, channels.github) {
        (Some(cfg), Ok(gh)) => {
            let settings = IssueSettings {
                labels: cfg.labels.clone(),
                runbook: cfg.runbook.clone(),
            };
            let plan = plan_of(ISSUE);
            let remind = !matches!(plan, Plan::Quiet { .. });
            match issues::sync_issue(gh, report, &settings, remind).await {
                Ok(action) => {
                    issue_closed = matches!(action, IssueAction::Closed { .. });
                    d.issue_url = action.url().map(str::to_string);
                    d.notes.push(action.describe());
                    record(&mut d, ISSUE, &plan, true);
                    if let Some(e) = d.episodes.get_mut(ISSUE) {
                        e.url = d.issue_url.clone().or(e.url.take());
                    }
                }
                Err(e) => {
                    d.errors
                        .push(format!("the alert issue was not updated: {e}"));
                    record(&mut d, ISSUE, &plan, false);
                }
            }
        }
        (Some(_), Err(why)) => {
            d.notes.push(format!("skipped the alert issue: {why}"));
        }
        _ => {}
    }
    if let Some((webhook_env, webhook)) = &channels.slack {
        let mut plan = plan_of(SLACK);
        if plan == Plan::Nothing && issue_closed {
            // An episode from before the alert state was kept: the issue knew of it.
            plan = Plan::Send(Message::Recovered { since: now });
        }
        match (plan, webhook) {
            (Plan::Send(_), None) => d.errors.push(format!(
                "the Slack alert was not sent: {webhook_env} is not set (notify.slack.webhook-env)"
            )),
            (Plan::Send(message), Some(url)) => {
                let payload = match message {
                    Message::StillFailing { since, .. } => {
                        slack::reminder(report, kpi, &crate::report::rfc3339::format(&since))
                    }
                    Message::Recovered { .. } => slack::payload(report, kpi, true),
                    Message::Failed | Message::Drill => slack::payload(report, kpi, false),
                };
                let sent = match http::client() {
                    Ok(client) => slack::send(&client, url, &payload, slack::RETRY)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match &sent {
                    Ok(()) => d.notes.push("slack: message sent".to_string()),
                    Err(e) => d.errors.push(format!("the Slack alert was not sent: {e}")),
                }
                record(&mut d, SLACK, &plan, sent.is_ok());
            }
            (quiet, _) => d
                .notes
                .push(format!("slack: {}", quiet.quiet_note().unwrap_or_default())),
        }
    }
    if let Some((cfg, url)) = &channels.email {
        let plan = plan_of(EMAIL);
        match (plan, url) {
            (Plan::Send(_), None) => d.errors.push(format!(
                "the email alert was not sent: {} is not set (notify.email.smtp-url-env)",
                cfg.smtp_url_env
            )),
            (Plan::Send(message), Some(url)) => {
                let sent = match email::message(
                    &cfg.from,
                    &cfg.to,
                    &text::subject(report, &message),
                    text::plain(report, kpi, &message),
                    text::html(report, kpi, &message),
                ) {
                    Ok(m) => email::send(url, &m, email::RETRY)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match &sent {
                    Ok(()) => d.notes.push(format!(
                        "email: {} sent to {}",
                        text::event(&message),
                        cfg.to.join(", ")
                    )),
                    Err(e) => d.errors.push(format!("the email alert was not sent: {e}")),
                }
                record(&mut d, EMAIL, &plan, sent.is_ok());
            }
            (quiet, _) => d
                .notes
                .push(format!("email: {}", quiet.quiet_note().unwrap_or_default())),
        }
    }
    if let Some(hook) = &channels.webhook {
        let plan = plan_of(WEBHOOK);
        match (plan, &hook.url.1, &hook.secret.1) {
            (Plan::Send(_), None, _) => d.errors.push(format!(
                "the webhook alert was not sent: {} is not set (notify.webhook.url-env)",
                hook.url.0
            )),
            (Plan::Send(_), _, None) => d.errors.push(format!(
                "the webhook alert was not sent: {} is not set (notify.webhook.secret-env)",
                hook.secret.0
            )),
            (Plan::Send(message), Some(url), Some(secret)) => {
                let sent = post_webhook(report, kpi, &message, url, secret).await;
                match &sent {
                    Ok(()) => d
                        .notes
                        .push(format!("webhook: {} posted", text::event(&message))),
                    Err(e) => d
                        .errors
                        .push(format!("the webhook alert was not sent: {e}")),
                }
                record(&mut d, WEBHOOK, &plan, sent.is_ok());
            }
            (quiet, _, _) => d.notes.push(format!(
                "webhook: {}",
                quiet.quiet_note().unwrap_or_default()
            )),
        }
    }
    warn(report, kpi, &channels, episodes, now, &mut d).await;
    if let Some((var, url)) = &channels.heartbeat
        && !report.chaos
    {
        let (suffix, word) = if report.ok {
            ("", "success")
        } else {
            ("/fail", "fail")
        };
        match url {
            None => d.errors.push(format!(
                "the heartbeat was not sent: {var} is not set (notify.heartbeat.url-env)"
            )),
            Some(url) => match ping(url, suffix, text::heartbeat(report, kpi)).await {
                Ok(()) => d.notes.push(format!("heartbeat: {word} ping sent")),
                Err(e) => d.errors.push(format!("the heartbeat was not sent: {e}")),
            },
        }
    }
    d
}

/// The suffix of a channel's name in the alert state for its warning episode (a passing report
/// with failed targets that are not critical), kept apart from its failure episode.
pub const WARNING: &str = ":warning";

/// Warns Slack, the email and the webhook when the report passes but targets that are not
/// critical failed: one message per warning episode, a reminder at most daily, and the episode
/// closed without a message once the warnings go. The alert issue is never used for a warning.
/// A failed report or a drill leaves the warning episodes alone: the failure path speaks then.
async fn warn(
    report: &Report,
    kpi: Option<&Kpi>,
    channels: &Channels<'_>,
    episodes: &BTreeMap<String, Episode>,
    now: DateTime<Utc>,
    d: &mut Delivery,
) {
    if !report.ok || report.chaos {
        return;
    }
    // A warning episode is a failure episode of its own key: "failing" while warnings last.
    let clear = report.warning_lines().is_empty();
    for name in [SLACK, EMAIL, WEBHOOK] {
        let configured = match name {
            SLACK => channels.slack.is_some(),
            EMAIL => channels.email.is_some(),
            _ => channels.webhook.is_some(),
        };
        if !configured {
            continue;
        }
        let key = format!("{name}{WARNING}");
        let plan = episode::plan(episodes.get(&key), clear, false, now);
        let delivered = match plan {
            Plan::Send(Message::Failed | Message::StillFailing { .. }) => {
                match send_warning(report, kpi, channels, name).await {
                    Ok(()) => {
                        d.notes.push(format!("{name}: warning sent"));
                        true
                    }
                    Err(e) => {
                        d.errors
                            .push(format!("the {name} warning was not sent: {e}"));
                        false
                    }
                }
            }
            // The warnings went: the episode closes quietly.
            Plan::Send(_) => true,
            Plan::Quiet { next, .. } => {
                d.notes.push(format!(
                    "{name}: warning already sent; next reminder after {}",
                    crate::report::rfc3339::format(&next)
                ));
                continue;
            }
            Plan::Nothing => continue,
        };
        match episode::after(episodes.get(&key), &plan, delivered, now) {
            Some(e) => d.episodes.insert(key, e),
            None => d.episodes.remove(&key),
        };
    }
}

/// Sends the warning on one channel (`name`), which `channels` configures.
async fn send_warning(
    report: &Report,
    kpi: Option<&Kpi>,
    channels: &Channels<'_>,
    name: &str,
) -> Result<(), String> {
    match name {
        SLACK => {
            let Some((var, url)) = &channels.slack else {
                return Ok(());
            };
            let url = url
                .as_ref()
                .ok_or_else(|| format!("{var} is not set (notify.slack.webhook-env)"))?;
            let client = http::client()?;
            slack::send(&client, url, &slack::warning(report, kpi), slack::RETRY)
                .await
                .map_err(|e| e.to_string())
        }
        EMAIL => {
            let Some((cfg, url)) = &channels.email else {
                return Ok(());
            };
            let url = url.as_ref().ok_or_else(|| {
                format!(
                    "{} is not set (notify.email.smtp-url-env)",
                    cfg.smtp_url_env
                )
            })?;
            let m = email::message(
                &cfg.from,
                &cfg.to,
                &text::warning_subject(report),
                text::warning_plain(report, kpi),
                text::warning_html(report, kpi),
            )?;
            email::send(url, &m, email::RETRY)
                .await
                .map_err(|e| e.to_string())
        }
        _ => {
            let Some(hook) = &channels.webhook else {
                return Ok(());
            };
            let (Some(url), Some(secret)) = (&hook.url.1, &hook.secret.1) else {
                return Err(format!(
                    "{} or {} is not set (notify.webhook)",
                    hook.url.0, hook.secret.0
                ));
            };
            let body = serde_json::to_vec(&text::warning_webhook(report, kpi))
                .map_err(|e| format!("encoding the summary: {e}"))?;
            post_signed(body, text::WARNING_EVENT, url, secret).await
        }
    }
}

async fn post_webhook(
    report: &Report,
    kpi: Option<&Kpi>,
    message: &Message,
    url: &SecretString,
    secret: &SecretString,
) -> Result<(), String> {
    let body = serde_json::to_vec(&text::webhook(report, kpi, message))
        .map_err(|e| format!("encoding the summary: {e}"))?;
    post_signed(body, text::event(message), url, secret).await
}

/// Posts `body` to the webhook, signed, with `event` in [`EVENT_HEADER`].
async fn post_signed(
    body: Vec<u8>,
    event: &str,
    url: &SecretString,
    secret: &SecretString,
) -> Result<(), String> {
    let post = http::Post {
        what: "webhook",
        url,
        content_type: "application/json",
        headers: vec![
            (SIGNATURE_HEADER, signature(secret, &body)?),
            (EVENT_HEADER, event.to_string()),
        ],
        body,
    };
    let client = http::client()?;
    http::send(&client, &post, http::RETRY)
        .await
        .map_err(|e| e.to_string())
}

/// Pings the heartbeat URL with `suffix` (`/start`, ``, `/fail`) and `body`.
async fn ping(url: &SecretString, suffix: &str, body: String) -> Result<(), String> {
    let target = SecretString::from(format!(
        "{}{suffix}",
        url.expose_secret().trim().trim_end_matches('/')
    ));
    let post = http::Post {
        what: "heartbeat",
        url: &target,
        content_type: "text/plain; charset=utf-8",
        headers: Vec::new(),
        body: body.into_bytes(),
    };
    let client = http::client()?;
    http::send(&client, &post, http::RETRY)
        .await
        .map_err(|e| e.to_string())
}

/// The `/start` ping before the checks, when a heartbeat is configured: a note, or an error
/// for the caller to report (the checks run either way).
pub async fn heartbeat_start(
    notify: &Notify,
    env: &crate::env::Env,
) -> Option<Result<String, String>> {
    let cfg = notify.heartbeat.as_ref()?;
    Some(match env.secret(&cfg.url_env) {
        None => Err(format!(
            "the heartbeat was not sent: {} is not set (notify.heartbeat.url-env)",
            cfg.url_env
        )),
        Some(url) => ping(&url, "/start", String::new())
            .await
            .map(|()| "heartbeat: start ping sent".to_string())
            .map_err(|e| format!("the heartbeat start was not sent: {e}")),
    })
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
