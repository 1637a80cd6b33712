//! `dr-action check`: runs a schedule's checks against the configured store and writes the
//! report. Exit 0 when every target is ok, 1 when any check failed (the report is written
//! either way), 2 when the checks could not run at all (bad config, unknown target), 130/143
//! when SIGINT/SIGTERM cancelled the run (after its cleanup, with the report written).
//!
//! Lines go out as the run goes: the `::add-mask::` lines as soon as credentials exist (before
//! any check can echo them), a line per target when its checks finish (with its failed checks),
//! progress during a restore, and the verdict with the report's path last. Beside the report go
//! its in-toto statement (`<report>.intoto.json`) and its subjects as checksum lines
//! (`<report>.intoto.sha256`), for signing. A monthly check reads the verification ledger
//! `badges/dr_ledger.json` from the working tree and writes what it proved back to it.

use std::path::PathBuf;

use anyhow::Result;

use crate::attest;
use crate::checks::{self, CheckRequest};
use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::formats::{self, RunFiles};
use crate::output::Sink;
use crate::report::{Mode, Schedule};
use crate::state;
use crate::summary::verdict_line;

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
    request.secrets = checks::secrets(&loaded, env);
    // Monthly: the deep reads start from what the ledger in the working tree proves, and what
    // they prove is written back to it; a full restore records the backup it restored.
    let asked = !request.keys.is_empty() || request.since.is_some();
    let keeps_ledger = !request.chaos
        && (loaded.config.verifies() || asked)
        && (request.schedule == Schedule::Monthly || request.mode == Mode::FullRestore);
    let kept_ledger = match keeps_ledger {
        true => state::read_ledger(None).await?,
        false => None,
    };
    request.ledger = kept_ledger.clone().unwrap_or_default();
    crate::cancel::listen_for_signals(&request.cancel);
    // A mistyped --target is reported (exit 2) before any credentials are fetched.
    let report = checks::execute(&loaded, &request, env, out).await?;
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    crate::atomic::write(&request.out, &bytes)?;
    attest::write(&report, &request.out, &crate::history::sha256_hex(&bytes))?;
    out.lines(&formats::write_run_files(
        &req.files,
        &report,
        &formats::openmetrics::Extra::default(),
    )?);
    if keeps_ledger
        && let Some(ledger) = state::ledger_after(&loaded, kept_ledger.as_ref(), &report)
    {
        crate::atomic::write(
            std::path::Path::new(state::LEDGER_PATH),
            ledger.to_text().as_bytes(),
        )?;
        let proofs: usize = ledger.targets.values().map(|p| p.len()).sum();
        out.line(&format!(
            "ledger: {} — {}",
            crate::units::count(proofs as u64, "proven backup"),
            state::LEDGER_PATH
        ));
    }
    if let Some(cost) = &report.cost {
        out.line(&format!("cost: {}", cost.describe()));
    }
    out.line(&verdict_line(&report, &request.out));
    Ok(match request.cancel.exit_code() {
        Some(code) => Outcome::cancelled(code),
        None => Outcome::checked(report.ok),
    })
}
