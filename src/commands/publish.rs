//! `dr-action publish`: commits the badge, its PNG, the KPI state, the history and the trend
//! picture to the repository in one commit (see [`crate::github::publish`]). Also home of the
//! pieces `run` shares with it: the client built from `GITHUB_TOKEN`, the default file list,
//! and the guard that keeps chaos drills and feature branches from publishing.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use secrecy::SecretString;

use super::optional_config;
use crate::actions::Workflow;
use crate::cli::Global;
use crate::config::BadgeConfig;
use crate::error::Outcome;
use crate::github::publish::{self, FileChange, Published};
use crate::github::{GitHub, Repo};
use crate::output::Sink;

/// The KPI state kept in the repository.
pub const STATE_PATH: &str = "badges/backup_kpi.json";
/// One line per run.
pub const HISTORY_PATH: &str = "badges/dr_history.jsonl";
/// The trend picture rendered from the history.
pub const TREND_PATH: &str = "badges/backup_trend.svg";

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// A file to commit, relative to the repository root (repeatable). Default: the badge SVG
    /// and PNG, badges/backup_kpi.json, badges/dr_history.jsonl, badges/backup_trend.svg.
    #[arg(long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The branch to commit to (default: the repository's default branch).
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// The commit message (default: "chore(dr): backup status <status> [skip ci]").
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Publish from any event and any branch (a chaos drill still never publishes).
    #[arg(long)]
    pub force: bool,
}

/// The client for the current repository, or why there is none.
pub fn github_client(wf: &Workflow) -> Result<GitHub, String> {
    let token = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| "GITHUB_TOKEN is not set".to_string())?;
    let repo = wf
        .repository
        .as_deref()
        .ok_or_else(|| "GITHUB_REPOSITORY is not set".to_string())?;
    let repo = Repo::parse(repo).map_err(|e| e.to_string())?;
    GitHub::new(&wf.api_url, SecretString::from(token), repo).map_err(|e| format!("{e:#}"))
}

/// The repository's default branch: from the event payload, else asked of the API.
pub async fn default_branch(wf: &Workflow, gh: &GitHub) -> Result<String> {
    match &wf.default_branch {
        Some(b) => Ok(b.clone()),
        None => Ok(gh.default_branch().await?),
    }
}

/// The PNG beside the badge SVG.
pub fn png_path(badge: &BadgeConfig) -> PathBuf {
    badge.path.with_extension("png")
}

/// The files a badge update commits.
pub fn default_files(badge: &BadgeConfig) -> Vec<PathBuf> {
    vec![
        badge.path.clone(),
        png_path(badge),
        PathBuf::from(STATE_PATH),
        PathBuf::from(HISTORY_PATH),
        PathBuf::from(TREND_PATH),
    ]
}

/// The path of `file` in the repository: relative, `/`-separated, never leaving the root.
pub fn repo_path(file: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in file.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => anyhow::bail!(
                "{}: only paths inside the repository, relative to its root, can be published",
                file.display()
            ),
        }
    }
    anyhow::ensure!(!parts.is_empty(), "an empty path cannot be published");
    Ok(parts.join("/"))
}

/// Reads the files to commit.
pub fn read_changes(files: &[PathBuf]) -> Result<Vec<FileChange>> {
    files
        .iter()
        .map(|f| {
            Ok(FileChange {
                path: repo_path(f)?,
                bytes: std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
            })
        })
        .collect()
}

/// A KPI file's `status` and `chaos`, read loosely.
fn kpi_facts(path: &Path) -> (Option<String>, bool) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (None, false);
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (None, false);
    };
    (
        v.get("status").and_then(|s| s.as_str()).map(str::to_string),
        v.get("chaos").and_then(|c| c.as_bool()).unwrap_or(false),
    )
}

/// One line describing a publish.
pub fn describe(published: &Published, branch: &str) -> String {
    match published {
        Published::Committed { sha, files } => {
            format!("published {} to {branch} in commit {sha}", files.join(", "))
        }
        Published::Unchanged => format!("nothing to publish: {branch} already has these files"),
    }
}

pub async fn run(global: &Global, args: PublishArgs, out: &dyn Sink) -> Result<Outcome> {
    let wf = Workflow::from_env();
    let badge = optional_config(global)?
        .map(|l| l.config.badge)
        .unwrap_or_default();
    let files = if args.files.is_empty() {
        default_files(&badge)
            .into_iter()
            .filter(|f| f.exists())
            .collect()
    } else {
        args.files.clone()
    };
    anyhow::ensure!(
        !files.is_empty(),
        "nothing to publish: none of the badge files exist; run `dr-action run` or name them with --file"
    );
    let changes = read_changes(&files)?;
    let (status, kpi_chaos) = kpi_facts(Path::new(STATE_PATH));
    let chaos = kpi_chaos || super::check::chaos_from_env();
    let gh = github_client(&wf).map_err(|why| anyhow::anyhow!("cannot publish: {why}"))?;
    let default = default_branch(&wf, &gh).await?;
    let branch = args.branch.clone().unwrap_or_else(|| default.clone());
    let refusal = if branch != default && !args.force && !chaos {
        Some(format!(
            "`{branch}` is not the default branch `{default}` (--force overrides)"
        ))
    } else {
        publish::refusal(
            wf.event_name.as_deref(),
            wf.branch.as_deref(),
            &default,
            chaos,
            args.force,
        )
    };
    if let Some(why) = refusal {
        wf.set_outputs(&[("badge-changed", "false".into())])?;
        out.line(&format!("not published: {why}"));
        return Ok(Outcome::ok());
    }
    let message = args
        .message
        .unwrap_or_else(|| publish::commit_message(status.as_deref().unwrap_or("unknown")));
    let published = publish::commit_files(&gh, &branch, &changes, &message).await?;
    let changed = matches!(published, Published::Committed { .. });
    wf.set_outputs(&[("badge-changed", changed.to_string())])?;
    out.line(&describe(&published, &branch));
    Ok(Outcome::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_are_relative_and_slash_separated() {
        assert_eq!(
            repo_path(Path::new("./badges/backup_status.svg")).unwrap(),
            "badges/backup_status.svg"
        );
        assert!(repo_path(Path::new("/etc/passwd")).is_err());
        assert!(repo_path(Path::new("../x")).is_err());
        assert_eq!(
            png_path(&BadgeConfig::default()),
            PathBuf::from("badges/backup_status.png")
        );
    }
}
