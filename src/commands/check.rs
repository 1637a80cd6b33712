//! `dr-action check`: runs a schedule's checks against the configured store and writes the
//! report. Exit 0 when every target is ok, 1 when any check failed (the report is written
//! either way), 2 when the checks could not run at all (bad config, unknown target).
//!
//! Lines go out as the run goes: the `::add-mask::` lines as soon as credentials exist (before
//! any check can echo them), a line per target when its checks finish (with its failed checks),
//! progress during a restore, and the verdict with the report's path last.

use std::path::PathBuf;

use anyhow::Result;

use crate::actions::verdict_line;
use crate::checks::{self, CheckRequest};
use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::formats::{self, RunFiles};
use crate::output::Sink;

/// What `check` is asked to do.
#[derive(Debug)]
pub struct Request {
    /// `--config`, else the default paths.
    pub config: Option<PathBuf>,
    pub check: CheckRequest,
    /// `--junit`, `--metrics`.
    pub files: RunFiles,
}

pub async fn run(req: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let loaded = config::load_required(req.config.as_deref())?;
    let mut request = req.check;
    request.run = env.run.clone();
    request.database_urls = checks::database_urls(&loaded, env);
    // A mistyped --target is reported (exit 2) before any credentials are fetched.
    let report = checks::execute(&loaded, &request, env, out).await?;
    crate::atomic::write_json(&request.out, &report)?;
    out.lines(&formats::write_run_files(&req.files, &report)?);
    out.line(&verdict_line(&report, &request.out));
    Ok(Outcome::checked(report.ok))
}
