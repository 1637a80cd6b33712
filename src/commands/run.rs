//! `dr-action run --schedule S [--chaos]`: the whole pipeline the action runs.
//!
//! the kept ledger (monthly: what earlier runs proved) → check → the kept state and history (read through the API from the default branch; no state =
//! first run) → the history chain verified (a broken chain is a failed `chain` check and nothing
//! is appended) → the matrix, where a critical target under `kpi.min-health` fails a `health`
//! check → the report and its in-toto statement → KPI (the slot of this schedule replaces the
//! kept one) → badge, PNG, state, history line, trend picture and matrix → one commit → issue
//! and Slack → outputs and job summary.
//!
//! Every step after the check runs even when an earlier one failed, so an alert still goes out
//! when publishing was refused. A chaos drill computes and reports its KPI but never changes the
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

use crate::actions::{summary_markdown, verdict_line};
use crate::checks::{self, CheckRequest};
use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::formats::{self, RunFiles};
use crate::github::{self, GitHub};
use crate::history;
use crate::kpi::KpiStatus;
use crate::matrix;
use crate::notify::{self, Channels};
use crate::output::Sink;
use crate::report::{Check, Report, Schedule, TargetReport};
use crate::state::{self, PublishStep, STATE_PATH};

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
    request.database_urls = checks::database_urls(&loaded, env);
    // The dead-man switch hears that the run started; a drill is not a run of the schedule.
    let started = match request.chaos {
        true => None,
        false => notify::heartbeat_start(&loaded.config.notify, env).await,
    };
    let mut early_errors: Vec<String> = Vec::new();
    let gh = GitHub::from_env(env);
    let branch = match &gh {
        Ok(gh) => github::default_branch(wf, gh)
            .await
            .map_err(|e| early_errors.push(format!("could not learn the default branch: {e:#}")))
            .ok(),
        Err(_) => None,
    };
    let gh_ref = gh.as_ref().ok().zip(branch.as_deref());
    // The monthly deep reads start from what the kept ledger already proves.
    if request.schedule == Schedule::Monthly && !request.chaos && loaded.config.verifies() {
        match state::read_ledger(gh_ref).await {
            Ok(ledger) => request.ledger = ledger.unwrap_or_default(),
            Err(e) => early_errors.push(format!("could not read the kept ledger: {e:#}")),
        }
    }
    // The checks' lines stream into one foldable group of the job log; the masks written
    // inside it take effect at once all the same.
    if wf.in_actions {
        out.line("::group::checks");
    }
    crate::cancel::listen_for_signals(&request.cancel);
    let checked = checks::execute(&loaded, &request, env, out).await;
    if wf.in_actions {
        out.line("::endgroup::");
    }
    let mut report = checked?;
    if let Some(code) = request.cancel.exit_code() {
        return cancelled(report_skipping(&mut report), &request, wf, out, code);
    }
    let mut notes: Vec<String> = Vec::new();
    let mut errors: Vec<String> = early_errors;
    match started {
        Some(Ok(note)) => notes.push(note),
        Some(Err(e)) => errors.push(e),
        None => {}
    }

    // When the state cannot be read, nothing may be published: it would overwrite the state.
    let kept = state::read_kept(gh_ref)
        .await
        .map_err(|e| errors.push(format!("could not read the kept KPI state: {e:#}")))
        .ok();
    if gh_ref.is_some() && kept.as_ref().is_some_and(|k| k.state.is_none()) {
        notes.push(format!(
            "no {STATE_PATH} on the default branch yet: first run"
        ));
    }
    let now = Utc::now();
    let kept_history = kept.as_ref().map_or("", |k| k.history.as_str());
    // The chain is checked before anything is appended to it: a broken one is an alert itself.
    let verdict = kept.as_ref().map(state::verify_kept);
    let broken = verdict.as_ref().and_then(|v| v.as_ref().err());
    if let Some(b) = &broken {
        report.targets.push(TargetReport::new(
            state::HISTORY_PATH,
            None,
            vec![Check::fail(
                "chain",
                format!(
                    "{b}: the history was changed after it was written; nothing is appended to \
                     it until it is repaired (see `dr-action history verify`)"
                ),
            )],
        ));
    }
    let operator = env.operator();
    let provisional = history::entry_of(&loaded, &report, "", KpiStatus::Green, operator.clone());
    let mut matrix = state::matrix_with(&loaded, kept_history, &provisional, now);
    if !report.chaos {
        for row in matrix.unhealthy() {
            if let Some(t) = report.targets.iter_mut().find(|t| t.name == row.name) {
                t.checks.push(Check::fail(
                    matrix::HEALTH_CHECK,
                    matrix::health_detail(row, matrix.min_health),
                ));
                t.ok = false;
            }
        }
    }
    report.ok = Report::ok_of(&report.targets);
    let mut report_bytes = serde_json::to_vec_pretty(&report)?;
    report_bytes.push(b'\n');
    crate::atomic::write(&request.out, &report_bytes)?;
    let report_sha256 = history::sha256_hex(&report_bytes);
    let statement = crate::attest::write(&report, &request.out, &report_sha256)?;
    // The metrics carry each target's health score from the matrix this run computed.
    let extra = formats::openmetrics::Extra {
        health: matrix
            .targets
            .iter()
            .map(|row| (row.name.clone(), f64::from(row.health)))
            .collect(),
    };
    out.lines(&formats::write_run_files(&req.files, &report, &extra)?);
    out.line(&verdict_line(&report, &request.out));

    let kept_state = kept.as_ref().and_then(|k| k.state.as_ref());
    let kpi = state::merged_kpi(&loaded, kept_state, &report, now)?;
    let kpi_path = req.out_dir.join("backup_kpi.json");
    crate::atomic::write_json(&kpi_path, &kpi)?;
    out.line(&format!("kpi: {} — {}", kpi.status, kpi_path.display()));

    // The alerts go out before the state is written, so that it records what each channel
    // was told (in the KPI and in the kept state the files are derived from).
    let mut kpi = kpi;
    let channels = Channels::new(
        &loaded.config.notify,
        gh.as_ref().map_err(String::as_str),
        env,
    );
    let schedule = report.schedule;
    let episodes = kpi
        .alerts
        .get(schedule.as_str())
        .cloned()
        .unwrap_or_default();
    let delivery = notify::deliver(&report, Some(&kpi), channels, &episodes, Utc::now()).await;
    if !report.chaos {
        state::record_alerts(&mut kpi.alerts, schedule, &delivery.episodes);
        crate::atomic::write_json(&kpi_path, &kpi)?;
    }

    let mut badge_changed = false;
    if report.chaos {
        notes.push("chaos drill: the KPI state, history and badge are left alone".into());
    } else if broken.is_some() {
        notes.push(format!(
            "{} is broken: the KPI state, history, matrix and badge were not written or published",
            state::HISTORY_PATH
        ));
    } else if let Some(kept) = &kept {
        let entry = history::entry_of(&loaded, &report, &report_sha256, kpi.status, operator);
        let derived = match verdict.as_ref() {
            // Checked above: the history is not verified a second time.
            Some(Ok(chain)) => state::derive_checked(
                &loaded,
                kept,
                chain,
                &report,
                &entry,
                &delivery.episodes,
                now,
            )?,
            _ => state::derive(&loaded, kept, &report, &entry, &delivery.episodes, now)?,
        };
        state::write_files(&loaded, &derived)?;
        matrix = derived.matrix;
        let badge = &loaded.config.badge;
        notes.push(format!(
            "badge {} written to {}",
            kpi.status,
            badge.path.display()
        ));
        let step = match (&gh, branch.as_deref()) {
            (Err(why), _) => Some(PublishStep::Skipped(format!("skipped publish: {why}"))),
            (Ok(_), None) => None,
            (Ok(gh), Some(default)) => {
                let run = state::Run {
                    loaded: &loaded,
                    report: &report,
                    entry: &entry,
                    episodes: &delivery.episodes,
                    now,
                };
                Some(state::publish_kept(gh, wf, default, run, kpi.status).await)
            }
        };
        match step {
            Some(PublishStep::Skipped(line)) => notes.push(line),
            Some(PublishStep::Done { changed, line }) => {
                badge_changed = changed;
                notes.push(line);
            }
            Some(PublishStep::Failed(e)) => errors.push(e),
            None => {}
        }
    }

    notes.extend(delivery.notes);
    errors.extend(delivery.errors);
    let mut warnings: Vec<String> = Vec::new();
    if delivery.unheard && report.chaos {
        // A drill exists to prove the alerts arrive; with nowhere to send them it proved nothing.
        errors.push(
            "chaos drill: no alert channel is configured, and a drill with no alert channel \
             proves nothing"
                .to_string(),
        );
    } else if delivery.unheard {
        warnings.push(notify::UNHEARD.to_string());
    }
    // A target that is not critical fails as a warning: an annotation, not an alert.
    let not_critical: Vec<String> = report
        .warning_lines()
        .into_iter()
        .map(|w| format!("warning (target not critical): {w}"))
        .collect();

    out.lines(&notes);
    for e in &errors {
        out.line(&wf.error(e));
    }
    for w in warnings.iter().chain(&not_critical) {
        out.line(&wf.warning(w));
    }
    if !report.ok && !report.chaos {
        out.line(&wf.error(&format!(
            "{} {} checks failed: {}",
            report.schedule,
            report.kind.as_str(),
            report.failure_lines().join("; ")
        )));
    } else if report.chaos && !delivery.unheard {
        out.line(&wf.warning("chaos drill: this run failed on purpose to exercise the alerts"));
    }
    let mut summary_notes = notes.clone();
    summary_notes.extend(
        errors
            .iter()
            .map(|e| format!("❌ **not delivered / failed**: {e}")),
    );
    summary_notes.extend(
        warnings
            .iter()
            .map(|w| format!("⚠️ **no one was told**: {w}")),
    );
    summary_notes.extend(not_critical.iter().map(|w| format!("⚠️ {w}")));
    let table = crate::actions::bounded(
        crate::actions::matrix_markdown(&matrix),
        crate::actions::SUMMARY_LIMIT / 4,
    );
    let summary = crate::actions::bounded(
        summary_markdown(&report, Some(&kpi), &summary_notes),
        crate::actions::SUMMARY_LIMIT - table.len(),
    );
    wf.append_summary(&format!("{summary}{table}"))?;
    wf.set_outputs(&[
        ("status", kpi.status.as_str().to_string()),
        ("ok", report.ok.to_string()),
        ("report", request.out.display().to_string()),
        ("attestation", statement.statement.display().to_string()),
        (
            "attestation-subjects",
            statement.checksums.display().to_string(),
        ),
        ("kpi", kpi_path.display().to_string()),
        ("badge-changed", badge_changed.to_string()),
        ("issue-url", delivery.issue_url.unwrap_or_default()),
    ])?;
    Ok(if errors.is_empty() {
        Outcome::checked(report.ok)
    } else {
        Outcome::step_failed()
    })
}

/// What a cancelled `run` leaves out, said in its `cancelled` checks: a KPI or badge from a
/// half-checked schedule would be wrong, and the job is going away.
const SKIPPED: &str = "the KPI, the badge, publishing and the alerts were skipped";

fn report_skipping(report: &mut crate::report::Report) -> &crate::report::Report {
    for check in report
        .targets
        .iter_mut()
        .flat_map(|t| t.checks.iter_mut())
        .filter(|c| c.name == "cancelled")
    {
        check.detail = format!("{}; {SKIPPED}", check.detail);
    }
    report
}

/// A run a signal cancelled: the report of what ran is written, nothing is published or sent.
fn cancelled(
    report: &crate::report::Report,
    request: &CheckRequest,
    wf: &crate::actions::Workflow,
    out: &dyn Sink,
    code: u8,
) -> Result<Outcome> {
    crate::atomic::write_json(&request.out, report)?;
    out.line(&verdict_line(report, &request.out));
    let note = format!(
        "cancelled by {}: the report of what ran is written; {SKIPPED}",
        request.cancel.signal_name()
    );
    out.line(&wf.warning(&note));
    wf.append_summary(&summary_markdown(report, None, std::slice::from_ref(&note)))?;
    wf.set_outputs(&[
        ("ok", "false".to_string()),
        ("report", request.out.display().to_string()),
    ])?;
    Ok(Outcome::cancelled(code))
}
