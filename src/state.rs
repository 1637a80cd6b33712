//! The files this tool keeps in the repository: the badge SVG and its PNG, the KPI state, the
//! chained history (one line per run), the trend picture drawn from it, the per-target
//! matrix, the verification ledger (what the monthly runs proved, backup by backup) and the
//! static status page rendered from them. Where they live, how they are read back (through the API from the default branch,
//! or from the working tree when there is no client), how the next KPI, history and matrix
//! follow from a report and the kept files, and how they are written and committed: when the
//! branch moved during the commit, they are derived again from what is on it, so a racing
//! run's history line is kept, not overwritten.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::badge::{self, Style};
use crate::config::{BadgeConfig, Loaded};
use crate::github::GitHub;
use crate::github::publish::{Contents, FileChange, Published};
use crate::history::{self, Broken, Entry};
use crate::kpi::{self, Inputs, Kpi, Slot};
use crate::ledger::Ledger;
use crate::matrix::{self, Matrix};
use crate::report::{PerSchedule, Report, Schedule};
use crate::site::trend;
use crate::store::ObjectMeta;
use chrono::SubsecRound;

/// The KPI state kept in the repository.
pub const STATE_PATH: &str = "badges/backup_kpi.json";
/// One line per run.
pub const HISTORY_PATH: &str = "badges/dr_history.jsonl";
/// The trend picture rendered from the history.
pub const TREND_PATH: &str = "badges/backup_trend.svg";
/// The per-target matrix and health scores.
pub const MATRIX_PATH: &str = "badges/dr_matrix.json";
/// What the monthly runs have proven, backup by backup.
pub const LEDGER_PATH: &str = "badges/dr_ledger.json";

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
        PathBuf::from(MATRIX_PATH),
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
    /// The verification ledger, when there is one.
    pub ledger: Option<Ledger>,
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
    let ledger = read_ledger(gh).await?;
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
        ledger,
    })
}

/// Reads the verification ledger through the API, or from the working tree when there is no
/// client. `None` when there is none yet; a file that is not a ledger is an error (writing over
/// it would lose what it proves).
pub async fn read_ledger(gh: Option<(&GitHub, &str)>) -> Result<Option<Ledger>> {
    let bytes = match gh {
        Some((gh, branch)) => gh.read_file(branch, LEDGER_PATH).await?,
        None => std::fs::read(LEDGER_PATH).ok(),
    };
    bytes
        .map(|b| {
            Ledger::parse(&String::from_utf8_lossy(&b))
                .map_err(|e| anyhow::anyhow!("{LEDGER_PATH} is not a verification ledger: {e}"))
        })
        .transpose()
}

/// The ledger after `report`: each target's deep reads applied, a quarterly restore recorded on
/// the backup it restored, sections of targets no longer configured dropped. `None` when there
/// was no ledger and nothing was verified.
pub fn ledger_after(loaded: &Loaded, kept: Option<&Ledger>, report: &Report) -> Option<Ledger> {
    let runs: Vec<(&str, &crate::ledger::Verification)> = report
        .targets
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.verify.as_ref()?)))
        .collect();
    // A quarterly restore that passed proves the backup it restored.
    let restores: Vec<(&str, ObjectMeta, &str)> = match (report.kind, report.chaos) {
        (crate::report::Mode::FullRestore, false) => report
            .targets
            .iter()
            .filter(|t| t.ok)
            .filter_map(|t| {
                let latest = t.latest.as_ref()?;
                let object = ObjectMeta {
                    key: latest.key.clone(),
                    size: latest.size,
                    last_modified: latest.last_modified,
                };
                Some((t.name.as_str(), object, t.evidence.sha256.as_deref()?))
            })
            .collect(),
        _ => Vec::new(),
    };
    let verifies = loaded.config.verifies();
    if kept.is_none() && runs.is_empty() && (restores.is_empty() || !verifies) {
        return None;
    }
    let configured = loaded
        .config
        .targets
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut ledger = kept.cloned().unwrap_or_default().after(runs, &configured);
    for (name, object, sha256) in restores {
        let proofs = ledger.targets.entry(name.to_string()).or_default();
        crate::ledger::record_restore(proofs, &object, sha256, report.finished_at.trunc_subsecs(0));
    }
    Some(ledger)
}

/// The KPI after this run: the kept slots, with this schedule's replaced by the report.
pub fn merged_kpi(
    loaded: &Loaded,
    kept: Option<&Kpi>,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<Kpi> {
    let view = crate::report::ReportView::from(report);
    let mut inputs = Inputs {
        slots: kept
            .map(|k| k.slots.clone())
            .unwrap_or_else(|| PerSchedule::all(Slot::missing())),
        chaos: report.chaos,
    };
    inputs.slots[report.schedule] = Slot::from_view(&view);
    let max_ages = crate::kpi::max_ages(&loaded.config.kpi.max_age);
    let mut kpi = kpi::compute(inputs, max_ages, now);
    // The alert state is carried over; the caller records this run's deliveries in it.
    kpi.alerts = kept.map(|k| k.alerts.clone()).unwrap_or_default();
    Ok(kpi)
}

/// This run's alert episodes for one schedule: what each channel was told.
pub type Episodes = std::collections::BTreeMap<String, crate::notify::episode::Episode>;

/// Records what each alert channel was told on this run for `schedule` in `alerts` (the KPI
/// written to out/, and every KPI derived for the commit, first attempt or retry alike — so a
/// first run and a run whose commit was retried keep them too).
pub fn record_alerts(
    alerts: &mut crate::notify::episode::AlertState,
    schedule: Schedule,
    episodes: &Episodes,
) {
    if episodes.is_empty() {
        alerts.remove(schedule.as_str());
    } else {
        alerts.insert(schedule.as_str().to_string(), episodes.clone());
    }
}

/// Verifies the kept history: its chain, and its end against the head the kept state recorded.
pub fn verify_kept(kept: &Kept) -> Result<history::Chain, Broken> {
    let chain = history::verify(&kept.history)?;
    if let Some(head) = kept.state.as_ref().and_then(|s| s.history_head.as_deref()) {
        history::check_head(&kept.history, &chain, head)?;
    }
    Ok(chain)
}

/// What the kept files become after this run.
pub struct Derived {
    pub kpi: Kpi,
    pub history: String,
    pub matrix: Matrix,
    /// The chain of `history`, known from appending to a verified one.
    pub chain: history::Chain,
    /// The verification ledger, when there is one.
    pub ledger: Option<Ledger>,
}

/// The KPI, history and matrix after this run, from the kept files: the run's entry (built
/// from the report, its status set from the KPI here, each target's health from the matrix)
/// appended to the kept chain. A broken chain is never appended to.
pub fn derive(
    loaded: &Loaded,
    kept: &Kept,
    report: &Report,
    entry: &Entry,
    episodes: &Episodes,
    now: DateTime<Utc>,
) -> Result<Derived> {
    let chain = verify_kept(kept).map_err(|b| {
        anyhow::anyhow!("{HISTORY_PATH} is broken at {b}; nothing was appended to it")
    })?;
    derive_checked(loaded, kept, &chain, report, entry, episodes, now)
}

/// [`derive`] on kept files whose chain the caller has just checked with [`verify_kept`]
/// (`chain` is its answer), so a long history is not verified twice.
pub fn derive_checked(
    loaded: &Loaded,
    kept: &Kept,
    chain: &history::Chain,
    report: &Report,
    entry: &Entry,
    episodes: &Episodes,
    now: DateTime<Utc>,
) -> Result<Derived> {
    let mut kpi = merged_kpi(loaded, kept.state.as_ref(), report, now)?;
    record_alerts(&mut kpi.alerts, report.schedule, episodes);
    let mut entry = entry.clone();
    entry.run.status = kpi.status;
    let matrix = matrix_with(loaded, &kept.history, &entry, now);
    for o in &mut entry.targets {
        o.health = matrix
            .targets
            .iter()
            .find(|r| r.name == o.name)
            .map(|r| r.health);
    }
    let (history, chain) =
        history::append_verified(&kept.history, chain, std::slice::from_ref(&entry), now);
    kpi.history_head = history::head_of(&history);
    Ok(Derived {
        kpi,
        history,
        matrix,
        chain,
        ledger: ledger_after(loaded, kept.ledger.as_ref(), report),
    })
}

/// The matrix from the kept history with this run's entry last.
pub fn matrix_with(
    loaded: &Loaded,
    kept_history: &str,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Matrix {
    let mut entries = history::entries(kept_history);
    entries.push(entry.clone());
    matrix::build(
        &loaded.config.targets,
        &entries,
        now,
        loaded.config.kpi.min_health,
    )
}

/// Writes badge, PNG, state, history, trend and matrix into the working tree.
pub fn write_files(loaded: &Loaded, derived: &Derived) -> Result<()> {
    let kpi = &derived.kpi;
    let history = &derived.history;
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
    let (entries, skipped) = crate::history::parse_history(history);
    if skipped > 0 {
        tracing::warn!("{HISTORY_PATH}: {skipped} lines are not history entries; skipped");
    }
    crate::atomic::write(Path::new(TREND_PATH), trend::render(&entries).as_bytes())?;
    crate::atomic::write_json(Path::new(MATRIX_PATH), &derived.matrix)?;
    if let Some(ledger) = &derived.ledger {
        crate::atomic::write(Path::new(LEDGER_PATH), ledger.to_text().as_bytes())?;
    }
    write_site(
        &loaded.config.site.path,
        Some(kpi),
        history,
        Some(&derived.matrix),
        Some(&derived.chain),
        kpi.generated_at,
    )?;
    Ok(())
}

/// The status page's files in `dir` (its index and target pages), for the badge commit.
pub fn site_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("targets"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "html"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let index = dir.join("index.html");
    if index.exists() {
        files.insert(0, index);
    }
    files
}

/// The files a run commits: the badge's, the ledger when there is one, and the status page's.
pub fn run_files(loaded: &Loaded) -> Vec<PathBuf> {
    let mut files = default_files(&loaded.config.badge);
    if Path::new(LEDGER_PATH).exists() {
        files.push(PathBuf::from(LEDGER_PATH));
    }
    files.extend(site_files(&loaded.config.site.path));
    files
}

/// Renders the status page into `dir` from the kept files' contents, and removes target pages
/// left there by targets no longer configured. Returns the files written.
pub fn write_site(
    dir: &Path,
    kpi: Option<&Kpi>,
    history: &str,
    matrix: Option<&Matrix>,
    chain: Option<&history::Chain>,
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>> {
    let pages = crate::site::render(&crate::site::Input {
        kpi,
        history,
        matrix,
        chain,
        now,
    });
    let mut written = Vec::with_capacity(pages.len());
    for p in &pages {
        let path = dir.join(&p.path);
        crate::atomic::write(&path, p.html.as_bytes())?;
        written.push(path);
    }
    if let Ok(old) = std::fs::read_dir(dir.join("targets")) {
        for f in old.flatten() {
            let path = f.path();
            if path.extension().is_some_and(|e| e == "html") && !written.contains(&path) {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing the old page {}", path.display()))?;
            }
        }
    }
    Ok(written)
}

/// Reads the kept files in `from` (the repository's root) and renders the status page.
pub fn write_site_from(from: &Path, dir: &Path, now: DateTime<Utc>) -> Result<Vec<PathBuf>> {
    let read = |p: &str| -> Result<Option<String>> {
        let path = from.join(p);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        }
    };
    let kpi: Option<Kpi> = match read(STATE_PATH)? {
        Some(t) => Some(serde_json::from_str(&t).with_context(|| {
            format!("{}: not a KPI state file", from.join(STATE_PATH).display())
        })?),
        None => None,
    };
    let matrix: Option<Matrix> =
        match read(MATRIX_PATH)? {
            Some(t) => Some(serde_json::from_str(&t).with_context(|| {
                format!("{}: not a matrix file", from.join(MATRIX_PATH).display())
            })?),
            None => None,
        };
    let history = read(HISTORY_PATH)?.unwrap_or_default();
    write_site(dir, kpi.as_ref(), &history, matrix.as_ref(), None, now)
}

/// The kept files of one run, derived again from the branch on every attempt after the first.
struct Rechain<'a> {
    gh: &'a GitHub,
    branch: &'a str,
    loaded: &'a Loaded,
    report: &'a Report,
    entry: &'a Entry,
    episodes: &'a Episodes,
    now: DateTime<Utc>,
}

#[async_trait::async_trait(?Send)]
impl Contents for Rechain<'_> {
    async fn files(&mut self, attempt: u32) -> Result<Vec<FileChange>, String> {
        if attempt > 1 {
            // Someone committed meanwhile, perhaps a racing run with its own history line:
            // the state and the history are read again and this run's line appended to them.
            let kept = read_kept(Some((self.gh, self.branch)))
                .await
                .map_err(|e| format!("re-reading the kept files: {e:#}"))?;
            let derived = derive(
                self.loaded,
                &kept,
                self.report,
                self.entry,
                self.episodes,
                self.now,
            )
            .map_err(|e| format!("{e:#}"))?;
            write_files(self.loaded, &derived).map_err(|e| format!("{e:#}"))?;
        }
        read_changes(&run_files(self.loaded)).map_err(|e| format!("{e:#}"))
    }

    /// The status page's target pages are all this run's: a target no longer configured loses
    /// its page in the same commit.
    fn owned_folders(&self) -> Vec<String> {
        repo_path(&self.loaded.config.site.path.join("targets"))
            .map(|p| vec![format!("{}/", p.trim_end_matches('/'))])
            .unwrap_or_default()
    }
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

/// The run whose kept files are published.
pub struct Run<'a> {
    pub loaded: &'a Loaded,
    pub report: &'a Report,
    pub entry: &'a Entry,
    /// What the alert channels were told on this run, kept in the committed KPI state.
    pub episodes: &'a Episodes,
    pub now: DateTime<Utc>,
}

/// Commits the kept files (already written to the working tree) to `default`, unless this
/// event or branch does not publish.
pub async fn publish_kept(
    gh: &GitHub,
    wf: &crate::workflow::Workflow,
    default: &str,
    run: Run<'_>,
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
    let mut contents = Rechain {
        gh,
        branch: default,
        loaded: run.loaded,
        report: run.report,
        entry: run.entry,
        episodes: run.episodes,
        now: run.now,
    };
    let result = publish::commit_contents(gh, default, &mut contents, &message)
        .await
        .map_err(anyhow::Error::from);
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
