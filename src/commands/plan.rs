//! `dr-action plan`: the configured targets as a GitHub Actions matrix, so many targets can fan
//! out over many runners (`check --target NAME` on each) and one job merges their reports.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::require_config;
use crate::cli::Global;
use crate::error::Outcome;
use crate::output::Sink;

#[derive(Debug, Args)]
pub struct PlanArgs {}

#[derive(Serialize)]
struct Matrix<'a> {
    include: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    target: &'a str,
    critical: bool,
}

pub fn run(global: &Global, _args: PlanArgs, out: &dyn Sink) -> Result<Outcome> {
    let loaded = require_config(global)?;
    let matrix = Matrix {
        include: loaded
            .config
            .targets
            .iter()
            .map(|t| Entry {
                target: &t.name,
                critical: t.critical,
            })
            .collect(),
    };
    let json = serde_json::to_string(&matrix)?;
    crate::actions::Workflow::from_env().set_outputs(&[("matrix", json.clone())])?;
    out.line(&json);
    Ok(Outcome::ok())
}
