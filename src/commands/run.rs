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
use crate::github::{self, GitHub};
use crate::notify::{self, Channels};
use crate::output::Sink;
use crate::state::{self, PublishStep, STATE_PATH};

/// What `run` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// Where the report and the KPI are written.
    pub out_dir: PathBuf,
    pub check: CheckRequest,
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
    // The checks' lines stream into one foldable group of the job log; the masks written
    // inside it take effect at once all the same.
    if wf.in_actions {
        out.line("::group::checks");
    }
    let checked = checks::execute(&loaded, &request, env, out).await;
    if wf.in_actions {
        out.line("::endgroup::");
    }
    let report = checked?;
    crate::atomic::write_json(&request.out, &report)?;
    out.line(&verdict_line(&report, &request.out));
    let mut notes: Vec<String> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    match started {
        Some(Ok(note)) => notes.push(note),
        Some(Err(e)) => errors.push(e),
        None => {}
    }

    let gh = GitHub::from_env(env);
    let branch = match &gh {
        Ok(gh) => github::default_branch(wf, gh)
            .await
            .map_err(|e| errors.push(format!("could not learn the default branch: {e:#}")))
            .ok(),
        Err(_) => None,
    };
    let gh_ref = gh.as_ref().ok().zip(branch.as_deref());
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
    let kept_state = kept.as_ref().and_then(|k| k.state.as_ref());
    let kpi = state::merged_kpi(&loaded, kept_state, &report, Utc::now())?;
    let kpi_path = req.out_dir.join("backup_kpi.json");
    crate::atomic::write_json(&kpi_path, &kpi)?;
    out.line(&format!("kpi: {} — {}", kpi.status, kpi_path.display()));

    // The alerts go out before the state is written, so that it records what each channel
    // was told (in the KPI and in the kept state the files are derived from).
    let mut kpi = kpi;
    let mut kept = kept;
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
        state::record_alerts(&mut kpi, kept.as_mut(), schedule, &delivery.episodes);
        crate::atomic::write_json(&kpi_path, &kpi)?;
    }

    let mut badge_changed = false;
    if report.chaos {
        notes.push("chaos drill: the KPI state, history and badge are left alone".into());
    } else if let Some(kept) = &kept {
        let history = state::next_history(&kept.history, &loaded, &report, &kpi);
        state::write_files(&loaded, &kpi, &history)?;
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
                Some(state::publish_kept(gh, wf, default, badge, kpi.status).await)
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

    out.lines(&notes);
    for e in &errors {
        out.line(&wf.error(e));
    }
    for w in &warnings {
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
