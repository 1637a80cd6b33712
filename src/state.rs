//! The files this tool keeps in the repository: the badge SVG and its PNG, the KPI state, one
//! history line per run and the trend picture drawn from it. Where they live, how they are
//! read back (through the API from the default branch, or from the working tree when there is
//! no client), how the next KPI and history line follow from a report, and how they are
//! written and described for a commit.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::badge::trend::{self, HistoryEntry};
use crate::badge::{self, Style};
use crate::config::{BadgeConfig, Loaded};
use crate::github::GitHub;
use crate::github::publish::{FileChange, Published};
use crate::kpi::{self, Inputs, Kpi, MaxAges, Slot};
use crate::report::{Report, Schedule};

/// The KPI state kept in the repository.
pub const STATE_PATH: &str = "badges/backup_kpi.json";
/// One line per run.
pub const HISTORY_PATH: &str = "badges/dr_history.jsonl";
/// The trend picture rendered from the history.
pub const TREND_PATH: &str = "badges/backup_trend.svg";

/// The PNG beside the badge SVG.
pub fn png_path(badge: &BadgeConfig) -> PathBuf {
    badge.path.with_extension("png")
}

/// The files a badge update commits.
pub fn default_files(badge: &BadgeConfig) -> Vec<PathBuf> {
    vec![
        badge.path.clone(),
        png_path(badge),
        PathBuf::from(STATE_PATH),
        PathBuf::from(HISTORY_PATH),
        PathBuf::from(TREND_PATH),
    ]
}

/// The path of `file` in the repository: relative, `/`-separated, never leaving the root.
pub fn repo_path(file: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in file.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => anyhow::bail!(
                "{}: only paths inside the repository, relative to its root, can be published",
                file.display()
            ),
        }
    }
    anyhow::ensure!(!parts.is_empty(), "an empty path cannot be published");
    Ok(parts.join("/"))
}

/// Reads the files to commit.
pub fn read_changes(files: &[PathBuf]) -> Result<Vec<FileChange>> {
    files
        .iter()
        .map(|f| {
            Ok(FileChange {
                path: repo_path(f)?,
                bytes: std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
            })
        })
        .collect()
}

/// A KPI file's `status` and `chaos`, read loosely.
pub fn kpi_facts(path: &Path) -> (Option<String>, bool) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (None, false);
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (None, false);
    };
    (
        v.get("status").and_then(|s| s.as_str()).map(str::to_string),
        v.get("chaos").and_then(|c| c.as_bool()).unwrap_or(false),
    )
}

/// One line describing a publish.
pub fn describe(published: &Published, branch: &str) -> String {
    match published {
        Published::Committed { sha, files } => {
            format!("published {} to {branch} in commit {sha}", files.join(", "))
        }
        Published::Unchanged => format!("nothing to publish: {branch} already has these files"),
    }
}

/// The state and history kept in the repository.
pub struct Kept {
    pub state: Option<Kpi>,
    pub history: String,
}

/// Reads the kept state through the API, or from the working tree when there is no client.
pub async fn read_kept(gh: Option<(&GitHub, &str)>) -> Result<Kept> {
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
pub fn merged_kpi(
    loaded: &Loaded,
    kept: Option<&Kpi>,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<Kpi> {
    let view = crate::report::ReportView::from(report);
    let slot = |s: Schedule| {
        kept.map(|k| kpi::slot_of(k, s).clone())
            .unwrap_or_else(Slot::missing)
    };
    let mut inputs = Inputs {
        weekly: slot(Schedule::Weekly),
        monthly: slot(Schedule::Monthly),
        quarterly: slot(Schedule::Quarterly),
        chaos: report.chaos,
    };
    *kpi::slot_mut(&mut inputs, report.schedule) = Slot::from_view(&view);
    let mut kpi = kpi::compute(inputs, max_ages(loaded), now);
    // The alert state is carried over; the caller records this run's deliveries in it.
    kpi.alerts = kept.map(|k| k.alerts.clone()).unwrap_or_default();
    Ok(kpi)
}

/// Records what each alert channel was told on this run for `schedule`: in `kpi`, and in the
/// kept state when there is one (the files derived from it then carry it too).
pub fn record_alerts(
    kpi: &mut Kpi,
    kept: Option<&mut Kept>,
    schedule: Schedule,
    episodes: &std::collections::BTreeMap<String, crate::notify::episode::Episode>,
) {
    let apply = |alerts: &mut crate::notify::episode::AlertState| {
        if episodes.is_empty() {
            alerts.remove(schedule.as_str());
        } else {
            alerts.insert(schedule.as_str().to_string(), episodes.clone());
        }
    };
    apply(&mut kpi.alerts);
    if let Some(state) = kept.and_then(|k| k.state.as_mut()) {
        apply(&mut state.alerts);
    }
}

/// The history line of this run: the slowest restore against its target's RTO.
pub fn history_entry(loaded: &Loaded, report: &Report, kpi: &Kpi) -> HistoryEntry {
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

/// The kept history with this run's line appended.
pub fn next_history(kept: &str, loaded: &Loaded, report: &Report, kpi: &Kpi) -> String {
    let mut history = kept.to_string();
    if !history.is_empty() && !history.ends_with('\n') {
        history.push('\n');
    }
    history.push_str(&trend::history_line(&history_entry(loaded, report, kpi)));
    history
}

/// Writes badge, PNG, state, history and trend into the working tree.
pub fn write_files(loaded: &Loaded, kpi: &Kpi, history: &str) -> Result<()> {
    let cfg = &loaded.config.badge;
    badge::render_files(
        kpi.status,
        &cfg.label,
        None,
        Style::Flat,
        badge::Targets {
            svg: &cfg.path,
            png: Some(&png_path(cfg)),
            endpoint: None,
        },
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

/// What publishing the kept files to the default branch came to.
pub enum PublishStep {
    /// Not attempted, and why (an event or branch that does not publish).
    Skipped(String),
    /// Committed (or nothing changed), with the line that says so.
    Done { changed: bool, line: String },
    /// Attempted and refused or failed.
    Failed(String),
}

/// Commits the kept files (already written to the working tree) to `default`, unless this
/// event or branch does not publish.
pub async fn publish_kept(
    gh: &GitHub,
    wf: &crate::actions::Workflow,
    default: &str,
    badge: &BadgeConfig,
    status: crate::kpi::KpiStatus,
) -> PublishStep {
    use crate::github::publish;
    if let Some(why) = publish::refusal(
        wf.event_name.as_deref(),
        wf.branch.as_deref(),
        default,
        false,
        false,
    ) {
        return PublishStep::Skipped(format!("skipped publish: {why}"));
    }
    let message = publish::commit_message(status.as_str());
    let result = match read_changes(&default_files(badge)) {
        Ok(changes) => publish::commit_files(gh, default, &changes, &message)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => PublishStep::Done {
            changed: matches!(p, Published::Committed { .. }),
            line: describe(&p, default),
        },
        Err(e) => PublishStep::Failed(format!("the badge was not published: {e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_are_relative_and_slash_separated() {
        assert_eq!(
            repo_path(Path::new("./badges/backup_status.svg")).unwrap(),
            "badges/backup_status.svg"
        );
        assert!(repo_path(Path::new("/etc/passwd")).is_err());
        assert!(repo_path(Path::new("../x")).is_err());
        assert_eq!(
            png_path(&BadgeConfig::default()),
            PathBuf::from("badges/backup_status.png")
        );
    }
}
