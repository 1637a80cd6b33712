//! `dr-action notify --report F [--kpi F]`: the alert issue (opened, commented, closed) and the
//! Slack message, as the config's `notify:` asks (see [`crate::notify`]).
//!
//! A step that was attempted and failed is an undelivered alert: an `::error` annotation, a
//! summary line, and exit code 2 — a failure nobody hears of is the worst outcome this tool
//! can have. A failed report that reached no channel at all gets a warning and a summary line.

use std::path::PathBuf;

use anyhow::Result;

use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::github::GitHub;
use crate::kpi::read_state;
use crate::notify::{self, Channels};
use crate::output::Sink;

/// What `notify` is asked to do.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// The report `check` wrote.
    pub report: PathBuf,
    /// The KPI, to mention its status; its alert state (what each channel was told) is read
    /// and updated.
    pub kpi: Option<PathBuf>,
}

pub async fn run(req: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let wf = &env.workflow;
    let settings = config::load_optional(req.config.as_deref())?
        .map(|l| l.config.notify)
        .unwrap_or_default();
    let report = notify::read_report(&req.report)?;
    let kpi = req.kpi.as_deref().map(read_state).transpose()?.flatten();
    let gh = GitHub::from_env(env);
    // The alert state lives in the KPI state; a lone `notify` reads it from `--kpi` when
    // given, sends as the episodes there allow, and writes what it delivered back there (for
    // a workflow that publishes that file afterwards).
    let schedule = report.schedule.to_string();
    let episodes = kpi
        .as_ref()
        .and_then(|k| k.alerts.get(&schedule).cloned())
        .unwrap_or_default();
    let d = notify::deliver(
        &report,
        kpi.as_ref(),
        Channels::new(&settings, gh.as_ref().map_err(String::as_str), env),
        &episodes,
        chrono::Utc::now(),
    )
    .await;
    if let (Some(path), Some(mut kpi)) = (req.kpi.as_deref(), kpi)
        && !report.chaos
        && kpi.alerts.get(&schedule) != Some(&d.episodes)
    {
        if d.episodes.is_empty() {
            kpi.alerts.remove(&schedule);
        } else {
            kpi.alerts.insert(schedule, d.episodes.clone());
        }
        crate::atomic::write_json(path, &kpi)?;
    }
    out.lines(&d.notes);
    for e in &d.errors {
        out.line(&wf.error(e));
    }
    if d.unheard {
        out.line(&wf.warning(notify::UNHEARD));
        wf.append_summary(&format!(
            "### Alerts\n\n- ⚠️ **no one was told**: {}\n\n",
            notify::UNHEARD
        ))?;
    }
    if let Some(url) = &d.issue_url {
        wf.set_outputs(&[("issue-url", url.clone())])?;
    }
    if !d.errors.is_empty() {
        let md: String = d
            .errors
            .iter()
            .map(|e| format!("- ❌ **alert not delivered**: {e}\n"))
            .collect();
        wf.append_summary(&format!("### Alerts\n\n{md}\n"))?;
    }
    Ok(if d.errors.is_empty() {
        Outcome::ok()
    } else {
        Outcome::step_failed()
    })
}
