//! `dr-action publish`: commits the badge, its PNG, the KPI state, the history, the trend
//! picture, the matrix and the status page to the repository in one commit (see
//! [`crate::github::publish`]), unless the guard keeps chaos drills and feature branches from
//! publishing.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::github::publish::{self, Published};
use crate::github::{self, GitHub};
use crate::output::Sink;
use crate::state::{self, STATE_PATH};

/// What `publish` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// The files to commit; empty means the kept files that exist.
    pub files: Vec<PathBuf>,
    /// The branch to commit to instead of the default branch.
    pub branch: Option<String>,
    pub message: Option<String>,
    /// Publish from any event and any branch.
    pub force: bool,
    /// A chaos drill (`DR_CHAOS`): never publishes.
    pub chaos: bool,
}

pub async fn run(req: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let wf = &env.workflow;
    let loaded = config::load_optional(req.config.as_deref())?;
    let badge = loaded
        .as_ref()
        .map(|l| l.config.badge.clone())
        .unwrap_or_default();
    let site = loaded.map(|l| l.config.site).unwrap_or_default();
    let files = if req.files.is_empty() {
        state::default_files(&badge)
            .into_iter()
            .filter(|f| f.exists())
            .chain(state::site_files(&site.path))
            .collect()
    } else {
        req.files.clone()
    };
    anyhow::ensure!(
        !files.is_empty(),
        "nothing to publish: none of the badge files exist; run `dr-action run` or name them with --file"
    );
    let changes = state::read_changes(&files)?;
    let (status, kpi_chaos) = state::kpi_facts(Path::new(STATE_PATH));
    let chaos = kpi_chaos || req.chaos;
    let gh = GitHub::from_env(env).map_err(|why| anyhow::anyhow!("cannot publish: {why}"))?;
    let default = github::default_branch(wf, &gh).await?;
    let branch = req.branch.clone().unwrap_or_else(|| default.clone());
    let refusal = if branch != default && !req.force && !chaos {
        Some(format!(
            "`{branch}` is not the default branch `{default}` (--force overrides)"
        ))
    } else {
        publish::refusal(
            wf.event_name.as_deref(),
            wf.branch.as_deref(),
            &default,
            chaos,
            req.force,
        )
    };
    if let Some(why) = refusal {
        wf.set_outputs(&[("badge-changed", "false".into())])?;
        out.line(&format!("not published: {why}"));
        return Ok(Outcome::ok());
    }
    let message = req
        .message
        .unwrap_or_else(|| publish::commit_message(status.as_deref().unwrap_or("unknown")));
    let published = publish::commit_files(&gh, &branch, &changes, &message).await?;
    let changed = matches!(published, Published::Committed { .. });
    wf.set_outputs(&[("badge-changed", changed.to_string())])?;
    out.line(&state::describe(&published, &branch));
    Ok(Outcome::ok())
}
