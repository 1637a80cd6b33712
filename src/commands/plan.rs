//! `dr-action plan`: the configured targets as a GitHub Actions matrix, so many targets can fan
//! out over many runners (`check --target NAME` on each) and one job merges their reports.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::output::Sink;

/// What `plan` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
}

#[derive(Serialize)]
struct Matrix<'a> {
    include: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    target: &'a str,
    critical: bool,
}

pub fn run(req: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let loaded = config::load_required(req.config.as_deref())?;
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
    env.workflow.set_outputs(&[("matrix", json.clone())])?;
    out.line(&json);
    Ok(Outcome::ok())
}
