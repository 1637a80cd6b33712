//! `dr-action run --schedule S [--chaos]`: the whole pipeline the action runs.
//!
//! check → KPI (the slot of this schedule replaces the one in the state kept in the repository,
//! read through the API from the default branch; no state = first run) → badge, PNG, state,
//! history line and trend picture → one commit → issue and Slack → outputs and job summary.
//!
//! Every step after the check runs even when an earlier one failed, so an alert still goes out
//! when publishing was refused. A chaos drill computes and reports its KPI but never changes the
//! state, the history or the badge. Without `GITHUB_TOKEN` the checks still run and everything
//! is written locally; the lines say which steps were skipped and why. Exit: 2 when a step
//! failed (an alert not delivered, a publish refused by GitHub), else 1 when checks failed,
//! else 0 — always after the alerts went out.

use std::path::Path;

use anyhow::Result;
use chrono::Utc;
use clap::Args;

use super::check::{CheckRequest, chaos_from_env, execute, verdict_line};
use super::notify::deliver;
use super::publish::{
    HISTORY_PATH, STATE_PATH, TREND_PATH, default_branch, default_files, describe, github_client,
    png_path, read_changes,
};
use super::require_config;
use crate::actions::{Workflow, summary_markdown};
use crate::badge::Style;
use crate::badge::trend::{self, HistoryEntry};
use crate::cli::Global;
use crate::config::Loaded;
use crate::error::Outcome;
use crate::github::GitHub;
use crate::github::publish::{self, Published};
use crate::kpi::{self, Inputs, Kpi, MaxAges, Slot};
use crate::output::Sink;
use crate::report::{Report, Schedule};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which schedule: weekly, monthly or quarterly (its default mode).
    #[arg(long, value_enum)]
    pub schedule: Schedule,
    /// A chaos drill: fail on purpose to prove alerting works (also DR_CHAOS=true). Never
    /// changes the KPI state or the committed badge.
    #[arg(long)]
    pub chaos: bool,
}

/// The state and history kept in the repository.
struct Kept {
    state: Option<Kpi>,
    history: String,
}

/// Reads the kept state through the API, or from the working tree when there is no client.
async fn read_kept(gh: Option<(&GitHub, &str)>) -> Result<Kept> {
    let (state, history) = match gh {
        Some((gh, branch)) => (
            gh.read_file(branch, STATE_PATH).await?,
            gh.read_file(branch, HISTORY_PATH).await?,
        ),
        None => (
            std::fs::read(STATE_PATH).ok(),
            std::fs::read(HISTORY_PATH).ok(),
        ),
    };
    let state = match state {
        Some(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!("{STATE_PATH} in the repository is not a KPI state file: {e}")
        })?),
        None => None,
    };
    Ok(Kept {
        state,
        history: history
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
    })
}

fn max_ages(loaded: &Loaded) -> MaxAges {
    let m = &loaded.config.kpi.max_age;
    MaxAges {
        weekly: m.weekly.secs(),
        monthly: m.monthly.secs(),
        quarterly: m.quarterly.secs(),
    }
}

/// The KPI after this run: the kept slots, with this schedule's replaced by the report.
fn merged_kpi(loaded: &Loaded, kept: Option<&Kpi>, report: &Report) -> Result<Kpi> {
    let view =
        crate::report::parse_view(&serde_json::to_string(report)?).map_err(anyhow::Error::msg)?;
    let slot = |s: Schedule| {
        kept.map(|k| super::kpi::slot_of(k, s).clone())
            .unwrap_or_else(Slot::missing)
    };
    let mut inputs = Inputs {
        weekly: slot(Schedule::Weekly),
        monthly: slot(Schedule::Monthly),
        quarterly: slot(Schedule::Quarterly),
        chaos: report.chaos,
    };
    *super::kpi::slot_mut(&mut inputs, report.schedule) = Slot::from_view(&view);
    Ok(kpi::compute(inputs, max_ages(loaded), Utc::now()))
}

/// The history line of this run: the slowest restore against its target's RTO.
fn history_entry(loaded: &Loaded, report: &Report, kpi: &Kpi) -> HistoryEntry {
    let mut worst: Option<(f64, Option<u64>)> = None;
    for t in &report.targets {
        let Some(total) = t.metrics.get("total_seconds").and_then(|v| v.as_f64()) else {
            continue;
        };
        let rto = loaded
            .config
            .targets
            .iter()
            .find(|c| c.name == t.name)
            .and_then(|c| c.rto.as_ref())
            .map(|d| d.secs());
        let ratio = |(total, rto): (f64, Option<u64>)| match rto {
            Some(r) if r > 0 => total / r as f64,
            _ => 0.0,
        };
        if worst.is_none_or(|w| ratio((total, rto)) > ratio(w)) {
            worst = Some((total, rto));
        }
    }
    HistoryEntry {
        at: report.finished_at,
        schedule: report.schedule,
        kind: report.kind.as_str().to_string(),
        ok: report.ok,
        status: kpi.status,
        run_url: report.run.as_ref().map(|r| r.url.clone()),
        total_seconds: worst.map(|w| w.0),
        rto_seconds: worst.and_then(|w| w.1),
    }
}

/// Writes badge, PNG, state, history and trend into the working tree.
fn write_badge_files(loaded: &Loaded, kpi: &Kpi, history: &str) -> Result<()> {
    let cfg = &loaded.config.badge;
    super::badge::render_files(
        kpi.status,
        &cfg.label,
        None,
        Style::Flat,
        &cfg.path,
        Some(&png_path(cfg)),
        None,
    )?;
    crate::atomic::write_json(Path::new(STATE_PATH), kpi)?;
    crate::atomic::write(Path::new(HISTORY_PATH), history.as_bytes())?;
    let (entries, skipped) = trend::parse_history(history);
    if skipped > 0 {
        tracing::warn!("{HISTORY_PATH}: {skipped} lines are not history entries; skipped");
    }
    crate::atomic::write(Path::new(TREND_PATH), trend::render(&entries).as_bytes())?;
    Ok(())
}

pub async fn run(global: &Global, args: RunArgs, out: &dyn Sink) -> Result<Outcome> {
    let loaded = require_config(global)?;
    let wf = Workflow::from_env();
    let request = CheckRequest {
        schedule: args.schedule,
        mode: args.schedule.default_mode(),
        targets: Vec::new(),
        chaos: args.chaos || chaos_from_env(),
        out: global.out_dir.join(args.schedule.default_report_name()),
        backup: None,
    };
    // The checks' lines stream into one foldable group of the job log; the masks written
    // inside it take effect at once all the same.
    if wf.in_actions {
        out.line("::group::checks");
    }
    let checked = execute(&loaded, &request, out).await;
    if wf.in_actions {
        out.line("::endgroup::");
    }
    let report = checked?;
    crate::atomic::write_json(&request.out, &report)?;
    out.line(&verdict_line(&report, &request.out));
    let mut notes: Vec<String> = Vec::new();
    let mut errors: Vec<String> = Vec::new();

    let gh = github_client(&wf);
    let branch = match &gh {
        Ok(gh) => match default_branch(&wf, gh).await {
            Ok(b) => Some(b),
            Err(e) => {
                errors.push(format!("could not learn the default branch: {e:#}"));
                None
            }
        },
        Err(_) => None,
    };
    let gh_ref = gh.as_ref().ok().zip(branch.as_deref());
    // When the state cannot be read, nothing may be published: it would overwrite the state.
    let kept = match read_kept(gh_ref).await {
        Ok(k) => Some(k),
        Err(e) => {
            errors.push(format!("could not read the kept KPI state: {e:#}"));
            None
        }
    };
    if gh_ref.is_some() && kept.as_ref().is_some_and(|k| k.state.is_none()) {
        notes.push(format!(
            "no {STATE_PATH} on the default branch yet: first run"
        ));
    }
    let kpi = merged_kpi(
        &loaded,
        kept.as_ref().and_then(|k| k.state.as_ref()),
        &report,
    )?;
    let kpi_path = global.out_dir.join("backup_kpi.json");
    crate::atomic::write_json(&kpi_path, &kpi)?;
    out.line(&format!("kpi: {} — {}", kpi.status, kpi_path.display()));

    let mut badge_changed = false;
    if report.chaos {
        notes.push("chaos drill: the KPI state, history and badge are left alone".into());
    } else if let Some(kept) = &kept {
        let mut history = kept.history.clone();
        if !history.is_empty() && !history.ends_with('\n') {
            history.push('\n');
        }
        history.push_str(&trend::history_line(&history_entry(&loaded, &report, &kpi)));
        write_badge_files(&loaded, &kpi, &history)?;
        notes.push(format!(
            "badge {} written to {}",
            kpi.status,
            loaded.config.badge.path.display()
        ));
        match (&gh, branch.as_deref()) {
            (Err(why), _) => notes.push(format!("skipped publish: {why}")),
            (Ok(_), None) => {}
            (Ok(gh), Some(default)) => {
                match publish::refusal(
                    wf.event_name.as_deref(),
                    wf.branch.as_deref(),
                    default,
                    false,
                    false,
                ) {
                    Some(why) => notes.push(format!("skipped publish: {why}")),
                    None => {
                        let message = publish::commit_message(kpi.status.as_str());
                        let result = match read_changes(&default_files(&loaded.config.badge)) {
                            Ok(changes) => publish::commit_files(gh, default, &changes, &message)
                                .await
                                .map_err(anyhow::Error::from),
                            Err(e) => Err(e),
                        };
                        match result {
                            Ok(p) => {
                                badge_changed = matches!(p, Published::Committed { .. });
                                notes.push(describe(&p, default));
                            }
                            Err(e) => errors.push(format!("the badge was not published: {e:#}")),
                        }
                    }
                }
            }
        }
    }

    let delivery = deliver(
        &loaded.config.notify,
        &report,
        Some(&kpi),
        gh.as_ref().map_err(String::as_str),
    )
    .await;
    notes.extend(delivery.notes);
    errors.extend(delivery.errors);

    out.lines(&notes);
    for e in &errors {
        out.line(&wf.error(e));
    }
    if !report.ok && !report.chaos {
        out.line(&wf.error(&format!(
            "{} {} checks failed: {}",
            report.schedule,
            report.kind.as_str(),
            report.failure_lines().join("; ")
        )));
    } else if report.chaos {
        out.line(&wf.warning("chaos drill: this run failed on purpose to exercise the alerts"));
    }
    let mut summary_notes = notes.clone();
    summary_notes.extend(
        errors
            .iter()
            .map(|e| format!("❌ **not delivered / failed**: {e}")),
    );
    wf.append_summary(&summary_markdown(&report, Some(&kpi), &summary_notes))?;
    wf.set_outputs(&[
        ("status", kpi.status.as_str().to_string()),
        ("ok", report.ok.to_string()),
        ("report", request.out.display().to_string()),
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
