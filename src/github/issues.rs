//! The alert issue's lifecycle. One issue per (schedule, target set), found again
//! by a hidden marker in its body — `<!-- dr-action:key=weekly:app-db,orders-db -->` — among
//! the open issues carrying the label:
//!
//! | report  | issue open? | action                          |
//! |---------|-------------|---------------------------------|
//! | failing | no          | open one                        |
//! | failing | yes         | comment on it, unless the alert |
//! |         |             | state says it was told recently |
//! | passing | yes         | comment "recovered", close it   |
//! | passing | no          | nothing                         |
//!
//! A chaos drill has its own key (`chaos:` prefix), title prefix and label, so a drill never
//! comments on or closes a real incident.
//!
//! Creating an issue or a comment is not idempotent: a 5xx may come back after GitHub stored
//! it. Each is therefore sent once, and after an uncertain failure the tool looks for it
//! before sending again — the issue by its key marker, a comment by its own hidden marker
//! naming the run and what the comment says
//! (`<!-- dr-action:comment=4242@2026-03-01T06:00:00Z:recovered -->`).
//! Closing is a `PATCH` to a state, safe to repeat.

use serde::Deserialize;
use serde_json::json;

use super::{ApiError, GitHub};
use crate::markup::markdown_cell;
use crate::report::Report;

/// The label chaos-drill issues carry instead of the configured ones.
pub const CHAOS_LABEL: &str = "chaos-drill";
const PERMISSION: &str = "issues: write";

/// What the issue settings of the config ask for.
#[derive(Clone, Debug)]
pub struct IssueSettings {
    pub labels: Vec<String>,
    pub runbook: Option<String>,
}

/// What the lifecycle did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueAction {
    Opened {
        number: u64,
        url: String,
    },
    Commented {
        number: u64,
        url: String,
    },
    /// Still open and already told recently: no comment this time.
    Kept {
        number: u64,
        url: String,
    },
    Closed {
        number: u64,
        url: String,
    },
    Nothing,
}

impl IssueAction {
    /// The issue's page, when there is one.
    pub fn url(&self) -> Option<&str> {
        match self {
            IssueAction::Opened { url, .. }
            | IssueAction::Commented { url, .. }
            | IssueAction::Kept { url, .. }
            | IssueAction::Closed { url, .. } => Some(url),
            IssueAction::Nothing => None,
        }
    }

    /// One line for the terminal and the summary.
    pub fn describe(&self) -> String {
        match self {
            IssueAction::Opened { url, .. } => format!("issue opened: {url}"),
            IssueAction::Commented { url, .. } => format!("issue still open, commented: {url}"),
            IssueAction::Kept { url, .. } => {
                format!("issue still open, commented recently: no comment this time: {url}")
            }
            IssueAction::Closed { url, .. } => format!("issue closed (recovered): {url}"),
            IssueAction::Nothing => "issue: none open, nothing to do".to_string(),
        }
    }
}

/// The key that identifies the issue of a report: schedule and the sorted target names.
pub fn key_of(report: &Report) -> String {
    let mut names: Vec<&str> = report.targets.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let key = format!("{}:{}", report.schedule, names.join(","));
    if report.chaos {
        format!("chaos:{key}")
    } else {
        key
    }
}

/// The hidden marker put in the issue body.
pub fn marker(key: &str) -> String {
    format!("<!-- dr-action:key={key} -->")
}

/// The issue title.
pub fn title_of(report: &Report) -> String {
    let title = format!(
        "DR check failed: {} {}",
        report.schedule,
        report.kind.as_str()
    );
    if report.chaos {
        format!("[chaos drill] {title}")
    } else {
        title
    }
}

/// The labels an issue of this report carries.
pub fn labels_of(report: &Report, settings: &IssueSettings) -> Vec<String> {
    if report.chaos {
        vec![CHAOS_LABEL.to_string()]
    } else {
        settings.labels.clone()
    }
}

/// The table of failed checks, shared by the issue body and its comments.
fn failure_table(report: &Report) -> String {
    let mut md = String::from("| target | check | detail |\n|---|---|---|\n");
    for t in &report.targets {
        for c in t.failed_checks() {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                markdown_cell(&t.name),
                markdown_cell(&c.name),
                markdown_cell(&c.detail)
            ));
        }
    }
    md
}

fn run_line(report: &Report) -> String {
    match &report.run {
        Some(run) => format!("Run: {}", run.url),
        None => "Run: (not run in GitHub Actions)".to_string(),
    }
}

/// The body of a new issue.
pub fn issue_body(report: &Report, settings: &IssueSettings) -> String {
    let mut md = marker(&key_of(report));
    md.push('\n');
    if report.chaos {
        md.push_str("**Chaos drill**: this failure was caused on purpose to prove that alerts reach someone. Close this issue once the alert was seen.\n\n");
    }
    md.push_str(&format!(
        "The {} {} check failed at {}.\n\n",
        report.schedule,
        report.kind.as_str(),
        crate::report::rfc3339::format(&report.finished_at)
    ));
    md.push_str(&failure_table(report));
    md.push('\n');
    md.push_str(&run_line(report));
    md.push('\n');
    if let Some(runbook) = &settings.runbook {
        md.push_str(&format!("Runbook: {runbook}\n"));
    }
    md.push_str("\nThis issue is kept by dr-action: later failures are added as comments, and it is closed when the checks pass again.\n");
    md
}

/// The run a comment belongs to: the Actions run id (when there is one) and the report's
/// finishing time, which tells the attempts of a re-run apart.
fn run_id(report: &Report) -> String {
    let finished = crate::report::rfc3339::format(&report.finished_at);
    match &report.run {
        Some(run) => format!("{}@{finished}", run.run_id),
        None => finished,
    }
}

/// The hidden marker of the comment `what` (`failed`, `recovered`) this run adds.
pub fn comment_marker(report: &Report, what: &str) -> String {
    format!("<!-- dr-action:comment={}:{what} -->", run_id(report))
}

/// The comment added when the check failed again.
pub fn failed_again_comment(report: &Report) -> String {
    format!(
        "{}\nStill failing at {}.\n\n{}\n{}\n",
        comment_marker(report, "failed"),
        crate::report::rfc3339::format(&report.finished_at),
        failure_table(report),
        run_line(report)
    )
}

/// The comment added before closing.
pub fn recovered_comment(report: &Report) -> String {
    format!(
        "{}\nRecovered: the {} {} check passed at {}.\n\n{}\n",
        comment_marker(report, "recovered"),
        report.schedule,
        report.kind.as_str(),
        crate::report::rfc3339::format(&report.finished_at),
        run_line(report)
    )
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    html_url: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

/// Percent-encodes a query value (labels may hold spaces or `&`).
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The open issue carrying `label` whose body has `marker`.
async fn find_open(gh: &GitHub, label: &str, marker: &str) -> Result<Option<Issue>, ApiError> {
    const PER_PAGE: usize = 100;
    const MAX_PAGES: u32 = 10;
    for page in 1..=MAX_PAGES {
        let route = format!(
            "{}/issues?state=open&labels={}&per_page={PER_PAGE}&page={page}",
            gh.repo.path(),
            query_escape(label)
        );
        let issues: Vec<Issue> = gh.get(&route, PERMISSION).await?;
        let count = issues.len();
        if let Some(found) = issues.into_iter().find(|i| {
            i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(marker))
        }) {
            return Ok(Some(found));
        }
        if count < PER_PAGE {
            break;
        }
    }
    Ok(None)
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    body: Option<String>,
}

/// Whether issue `number` has a comment holding `marker`.
async fn has_comment(gh: &GitHub, number: u64, marker: &str) -> Result<bool, ApiError> {
    const PER_PAGE: usize = 100;
    const MAX_PAGES: u32 = 10;
    for page in 1..=MAX_PAGES {
        let route = format!(
            "{}/issues/{number}/comments?per_page={PER_PAGE}&page={page}",
            gh.repo.path()
        );
        let comments: Vec<Comment> = gh.get(&route, PERMISSION).await?;
        if comments
            .iter()
            .any(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        {
            return Ok(true);
        }
        if comments.len() < PER_PAGE {
            break;
        }
    }
    Ok(false)
}

/// Adds `body` (which holds `marker`) to issue `number` once: after an uncertain failure it
/// looks for the marker before sending again.
async fn comment_once(gh: &GitHub, number: u64, body: &str, marker: &str) -> Result<(), ApiError> {
    let route = format!("{}/issues/{number}/comments", gh.repo.path());
    let body = json!({ "body": body });
    match gh
        .post_once::<_, serde_json::Value>(&route, &body, PERMISSION)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_uncertain() => {
            tracing::warn!("commenting failed ({e}); looking before retrying");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if has_comment(gh, number, marker).await? {
                return Ok(());
            }
            let _: serde_json::Value = gh.post(&route, &body, PERMISSION).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Runs the lifecycle for `report`; `remind` false leaves an open issue of a failing report
/// without a new comment.
pub async fn sync_issue(
    gh: &GitHub,
    report: &Report,
    settings: &IssueSettings,
    remind: bool,
) -> Result<IssueAction, ApiError> {
    let labels = labels_of(report, settings);
    let search_label = labels.first().map(String::as_str).unwrap_or(CHAOS_LABEL);
    let marker = marker(&key_of(report));
    let open = find_open(gh, search_label, &marker).await?;
    let repo = gh.repo.path();
    match (report.ok, open) {
        (false, None) => {
            let route = format!("{repo}/issues");
            let body = json!({
                "title": title_of(report),
                "body": issue_body(report, settings),
                "labels": labels,
            });
            // Creating is not idempotent: after a 5xx the issue may exist already, so look
            // for it before trying again (never a second issue).
            let created: Issue = match gh.post_once(&route, &body, PERMISSION).await {
                Ok(issue) => issue,
                Err(e) if e.is_uncertain() => {
                    tracing::warn!("creating the issue failed ({e}); looking before retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    match find_open(gh, search_label, &marker).await? {
                        Some(found) => found,
                        None => gh.post(&route, &body, PERMISSION).await?,
                    }
                }
                Err(e) => return Err(e),
            };
            Ok(IssueAction::Opened {
                number: created.number,
                url: created.html_url,
            })
        }
        (false, Some(issue)) if !remind => Ok(IssueAction::Kept {
            number: issue.number,
            url: issue.html_url,
        }),
        (false, Some(issue)) => {
            comment_once(
                gh,
                issue.number,
                &failed_again_comment(report),
                &comment_marker(report, "failed"),
            )
            .await?;
            Ok(IssueAction::Commented {
                number: issue.number,
                url: issue.html_url,
            })
        }
        (true, Some(issue)) => {
            comment_once(
                gh,
                issue.number,
                &recovered_comment(report),
                &comment_marker(report, "recovered"),
            )
            .await?;
            let _: serde_json::Value = gh
                .patch(
                    &format!("{repo}/issues/{}", issue.number),
                    &json!({"state": "closed", "state_reason": "completed"}),
                    PERMISSION,
                )
                .await?;
            Ok(IssueAction::Closed {
                number: issue.number,
                url: issue.html_url,
            })
        }
        (true, None) => Ok(IssueAction::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Check;
    use crate::report::{Mode, Schedule, TargetReport};

    pub(crate) fn failing_report(chaos: bool) -> Report {
        let targets = vec![
            TargetReport::new(
                "orders-db",
                None,
                vec![Check::fail(
                    "encryption",
                    "ServerSideEncryption is AES256, expected aws:kms",
                )],
            ),
            TargetReport::new("app-db", None, vec![Check::pass("listing", "40 keys")]),
        ];
        crate::report::sample(Mode::DryRun, Schedule::Weekly, chaos, targets)
    }

    #[test]
    fn the_key_is_the_schedule_and_sorted_targets_and_chaos_has_its_own() {
        assert_eq!(key_of(&failing_report(false)), "weekly:app-db,orders-db");
        assert_eq!(
            key_of(&failing_report(true)),
            "chaos:weekly:app-db,orders-db"
        );
        assert_eq!(marker("weekly:a"), "<!-- dr-action:key=weekly:a -->");
        // The real marker is not a substring of the drill's.
        assert!(
            !marker(&key_of(&failing_report(true)))
                .contains(&marker(&key_of(&failing_report(false))))
        );
        assert_eq!(
            title_of(&failing_report(true)),
            "[chaos drill] DR check failed: weekly dry-run"
        );
    }

    #[test]
    fn the_issue_body_is_stable() {
        let settings = IssueSettings {
            labels: vec!["dr-failure".into()],
            runbook: Some("https://wiki.example/dr-runbook".into()),
        };
        insta::assert_snapshot!(issue_body(&failing_report(false), &settings));
    }
}
