//! `dr-action publish` arguments.

use std::path::PathBuf;

use clap::Args;

use super::Global;
use crate::commands::publish::Request;
use crate::env::Env;

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

impl PublishArgs {
    pub fn into_request(self, global: &Global, env: &Env) -> Request {
        Request {
            config: global.config.clone(),
            files: self.files,
            branch: self.branch,
            message: self.message,
            force: self.force,
            chaos: env.chaos,
        }
    }
}
