//! The GitHub Actions runtime, as a workflow step sees it: the `GITHUB_*` variables (event,
//! branch, default branch, repository, run URL), step outputs appended to `$GITHUB_OUTPUT`, the
//! Markdown job summary appended to `$GITHUB_STEP_SUMMARY`, and workflow commands
//! (`::error::`, `::warning::`, `::group::`, `::add-mask::`) with the runner's escaping.
//!
//! Workflow commands are returned as lines, never printed here: the binary prints them. Outside
//! Actions ([`Workflow::in_actions`] false) annotations degrade to plain `error:` / `warning:`
//! lines, so a terminal user does not see `::` noise.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};

use crate::markup::visible;

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

    /// The line that opens a foldable group of the job log (none outside Actions).
    pub fn group_start(&self, title: &str) -> Vec<String> {
        match self.in_actions {
            true => vec![format!("::group::{}", escape_data(&visible(title)))],
            false => Vec::new(),
        }
    }

    /// The line that closes the group [`Workflow::group_start`] opened.
    pub fn group_end(&self) -> Vec<String> {
        match self.in_actions {
            true => vec!["::endgroup::".to_string()],
            false => Vec::new(),
        }
    }

    /// Wraps `lines` in a foldable group inside Actions; returns them as they are outside.
    pub fn group(&self, title: &str, lines: Vec<String>) -> Vec<String> {
        let mut out = self.group_start(title);
        out.extend(lines);
        out.extend(self.group_end());
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

/// Who and what started the run (the `GITHUB_*` variables of the workflow).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// `GITHUB_ACTOR`: whose action started the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `GITHUB_TRIGGERING_ACTOR`: who started this run (differs on a re-run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggering_actor: Option<String>,
    /// `GITHUB_WORKFLOW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

/// Where the run happened, when it ran in GitHub Actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub repository: String,
    pub run_id: String,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
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
        // Text from outside cannot forge a second command or colour the log.
        assert_eq!(
            wf.error("bad\n::warning::forged\u{1b}"),
            "::error::bad\\n::warning::forged\\u{1b}"
        );
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
}
