//! `dr-action run --schedule S [--chaos]`: the whole pipeline the action runs.
//!
//! the kept ledger (monthly) → check → the kept state and history → the chain and health verdicts → the report and its
//! evidence → KPI and alerts → the kept files in one commit → lines, summary, outputs. Each step
//! is a library function of [`crate::pipeline`], which says what it does.
//!
//! A chaos drill computes and reports its KPI but never changes the
//! state, the history or the badge. Without `GITHUB_TOKEN` the checks still run and everything
//! is written locally; the lines say which steps were skipped and why. Exit: 2 when a step
//! failed (an alert not delivered, a publish refused by GitHub), else 1 when checks failed,
//! else 0 — always after the alerts went out. A run SIGINT/SIGTERM cancelled writes the report
//! of what ran and stops there (130/143): no KPI, badge, publish or alert from half a schedule.
//!
//! A heartbeat, when configured, is pinged with `/start` before the checks. The alerts go out
//! before the badge and state are written, and what each channel was told (its episode) is
//! recorded in the KPI and the kept state, so the committed state says what was delivered.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use crate::checks::{self, CheckRequest};
use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::formats::RunFiles;
use crate::notify;
use crate::output::Sink;
use crate::pipeline::{self, Journal, Repository, evidence, finish};
use crate::summary::verdict_line;

/// What `run` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// Where the report and the KPI are written.
    pub out_dir: PathBuf,
    pub check: CheckRequest,
    /// `--junit`, `--metrics`.
    pub files: RunFiles,
}

pub async fn run(req: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let loaded = config::load_required(req.config.as_deref())?;
    let wf = &env.workflow;
    let mut request = req.check;
    request.run = env.run.clone();
    request.secrets = checks::secrets(&loaded, env);
    // The dead-man switch hears that the run started; a drill is not a run of the schedule.
    let started = match request.chaos {
        true => None,
        false => notify::heartbeat_start(&loaded.config.notify, env).await,
    };
    let mut journal = Journal::default();
    let mut repo = Repository::connect(env, &mut journal).await;
    // The monthly deep reads start from what the kept ledger already proves.
    if let Some(ledger) = repo.ledger_for(&loaded, &request, &mut journal).await {
        request.ledger = ledger;
    }
    crate::cancel::listen_for_signals(&request.cancel);
    // The checks' lines stream into one foldable group of the job log; the masks written
    // inside it take effect at once all the same.
    out.lines(&wf.group_start("checks"));
    let checked = checks::execute(&loaded, &request, env, out).await;
    out.lines(&wf.group_end());
    let mut report = checked?;
    if let Some(code) = request.cancel.exit_code() {
        return finish::cancelled(report, &request.out, &request.cancel, wf, out, code);
    }
    match started {
        Some(Ok(note)) => journal.notes.push(note),
        Some(Err(e)) => journal.errors.push(e),
        None => {}
    }
    repo.read_kept(&mut journal).await;
    let now = Utc::now();
    let matrix = evidence::judge(&loaded, &mut report, &repo, env.operator(), now);
    let written = evidence::write(&report, &request.out, &req.files, &matrix)?;
    out.lines(&written.lines);
    out.line(&verdict_line(&report, &request.out));

    let kpi_path = req.out_dir.join("backup_kpi.json");
    let gh = repo.gh.as_ref().map_err(String::as_str);
    let (kpi, delivery) =
        pipeline::alert(&loaded, env, gh, &report, repo.state(), &kpi_path, now).await?;
    out.line(&format!("kpi: {} — {}", kpi.status, kpi_path.display()));
    let kept = pipeline::keep(
        &loaded,
        &repo,
        env,
        &report,
        &written.sha256,
        &kpi,
        &delivery,
        env.operator(),
        now,
        &mut journal,
    )
    .await?;
    let ending = finish::Ending {
        report: &report,
        report_path: &request.out,
        statement: &written.statement,
        kpi: &kpi,
        kpi_path: &kpi_path,
        matrix: kept.matrix.as_ref().unwrap_or(&matrix),
        delivery,
        badge_changed: kept.badge_changed,
    };
    finish::finish(wf, ending, journal, out)
}
