//! The steps of a scheduled run after its checks, as library functions that `commands::run`
//! composes in order:
//!
//! 1. [`Repository::open`]: the kept state and history, read through the API from the default
//!    branch (no state = first run), the history chain verified once;
//! 2. [`evidence::judge`]: a broken chain fails a `chain` check; the matrix with this run last,
//!    where a critical target under `kpi.min-health` fails a `health` check;
//! 3. [`evidence::write`]: the report, its in-toto statement, `--junit` / `--metrics`;
//! 4. [`alert`]: the KPI (this schedule's slot replaced), the alert channels told, what each was
//!    told recorded in the KPI;
//! 5. [`keep`]: badge, PNG, state, history line, trend, matrix and site written and committed in
//!    one commit — not for a drill, nor onto a broken history;
//! 6. [`finish::finish`]: log lines, job summary, outputs, exit code.
//!
//! Every step runs even when an earlier one failed, so an alert still goes out when
//! publishing was refused; what each step says is gathered in a [`Journal`].

pub mod evidence;
pub mod finish;
mod repository;

pub use repository::Repository;

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::config::Loaded;
use crate::env::Env;
use crate::github::GitHub;
use crate::history;
use crate::kpi::Kpi;
use crate::matrix::Matrix;
use crate::notify::{self, Channels, Delivery};
use crate::report::Operator;
use crate::report::Report;
use crate::state::{self, PublishStep};

/// What the steps say, for the log and the job summary.
#[derive(Debug, Default)]
pub struct Journal {
    /// What happened (written, committed, skipped and why).
    pub notes: Vec<String>,
    /// Steps that were attempted and failed: the run exits 2.
    pub errors: Vec<String>,
    /// Said loudly, but not a failed step.
    pub warnings: Vec<String>,
}

/// The KPI after this run, written to `kpi_path`, and what the alert channels were told (also
/// recorded in the KPI, except on a drill, which never changes the alert state).
pub async fn alert(
    loaded: &Loaded,
    env: &Env,
    gh: Result<&GitHub, &str>,
    report: &Report,
    kept: Option<&Kpi>,
    kpi_path: &Path,
    now: DateTime<Utc>,
) -> Result<(Kpi, Delivery)> {
    let mut kpi = state::merged_kpi(loaded, kept, report, now)?;
    crate::atomic::write_json(kpi_path, &kpi)?;
    let channels = Channels::new(&loaded.config.notify, gh, env);
    let episodes = kpi
        .alerts
        .get(report.schedule.as_str())
        .cloned()
        .unwrap_or_default();
    let delivery = notify::deliver(report, Some(&kpi), channels, &episodes, Utc::now()).await;
    if !report.chaos {
        state::record_alerts(&mut kpi.alerts, report.schedule, &delivery.episodes);
        crate::atomic::write_json(kpi_path, &kpi)?;
    }
    Ok((kpi, delivery))
}

/// What [`keep`] did.
pub struct Kept {
    /// The matrix as written (the history's new entry included), when the files were written.
    pub matrix: Option<Matrix>,
    /// Whether the commit changed the badge.
    pub badge_changed: bool,
}

/// Writes the kept files (badge, PNG, state, history line, trend, matrix, site) and commits
/// them to the default branch in one commit. A drill changes none of them, and a broken
/// history is never appended to.
#[allow(clippy::too_many_arguments)]
pub async fn keep(
    loaded: &Loaded,
    repo: &Repository,
    env: &Env,
    report: &Report,
    report_sha256: &str,
    kpi: &Kpi,
    delivery: &Delivery,
    operator: Operator,
    now: DateTime<Utc>,
    journal: &mut Journal,
) -> Result<Kept> {
    let mut done = Kept {
        matrix: None,
        badge_changed: false,
    };
    if report.chaos {
        journal
            .notes
            .push("chaos drill: the KPI state, history and badge are left alone".into());
        return Ok(done);
    }
    if repo.broken().is_some() {
        journal.notes.push(format!(
            "{} is broken: the KPI state, history, matrix and badge were not written or published",
            state::HISTORY_PATH
        ));
        return Ok(done);
    }
    let Some(kept) = &repo.kept else {
        return Ok(done);
    };
    let entry = history::entry_of(loaded, report, report_sha256, kpi.status, operator);
    let derived = match &repo.chain {
        // Checked when the repository was opened: the history is not verified a second time.
        Some(Ok(chain)) => {
            state::derive_checked(loaded, kept, chain, report, &entry, &delivery.episodes, now)?
        }
        _ => state::derive(loaded, kept, report, &entry, &delivery.episodes, now)?,
    };
    state::write_files(loaded, &derived)?;
    done.matrix = Some(derived.matrix);
    journal.notes.push(format!(
        "badge {} written to {}",
        kpi.status,
        loaded.config.badge.path.display()
    ));
    let step = match (&repo.gh, repo.branch.as_deref()) {
        (Err(why), _) => Some(PublishStep::Skipped(format!("skipped publish: {why}"))),
        (Ok(_), None) => None,
        (Ok(gh), Some(default)) => {
            let run = state::Run {
                loaded,
                report,
                entry: &entry,
                episodes: &delivery.episodes,
                now,
            };
            Some(state::publish_kept(gh, &env.workflow, default, run, kpi.status).await)
        }
    };
    match step {
        Some(PublishStep::Skipped(line)) => journal.notes.push(line),
        Some(PublishStep::Done { changed, line }) => {
            done.badge_changed = changed;
            journal.notes.push(line);
        }
        Some(PublishStep::Failed(e)) => journal.errors.push(e),
        None => {}
    }
    Ok(done)
}
