//! Running a schedule's checks: which targets, which prefix (a chaos drill swaps every prefix
//! for one that cannot exist), dry run or full restore, and the report they add up to. Lines
//! go to the progress sink as each target finishes. A signal ([`Cancel`]) stops the target
//! being checked (a restore cleans up first) and skips the rest; each says so in a `cancelled`
//! check, and the report is still returned to be written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::dry_run::{self, CheckContext};
use super::restore::{self, RestoreContext};
use super::verify::VerifyContext;
use crate::cancel::Cancel;
use crate::config::{Loaded, Target};
use crate::ledger::Ledger;
use crate::output::Sink;
use crate::report::Check;
use crate::report::{Mode, Report, RunInfo, SCHEMA_VERSION, Schedule, TargetReport};
use crate::store::BackupStore;
use crate::store::counting::Counting;
use crate::summary::target_lines;

/// What a caller asks the checks to do, independent of the command line.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    pub schedule: Schedule,
    pub mode: Mode,
    /// The targets to check; empty means all.
    pub targets: Vec<String>,
    pub chaos: bool,
    /// Where the report goes (the caller writes it).
    pub out: PathBuf,
    /// Full restore: the key to restore instead of the newest.
    pub backup: Option<String>,
    /// The Actions run this is, recorded in the report.
    pub run: Option<RunInfo>,
    /// The secrets the targets name: the variables of `restore.database-url-env` (the servers
    /// PostgreSQL restores use) and of `encryption` (the keys that decrypt the backups), with
    /// their values (see [`secrets`]).
    pub secrets: BTreeMap<String, SecretString>,
    /// Cancelled by a signal: the running target stops and cleans up, the targets after it are
    /// reported as not checked, and the report is still returned.
    pub cancel: Cancel,
    /// What earlier monthly runs proved (the ledger kept in the repository).
    pub ledger: Ledger,
    /// Monthly: deep-verify these backups (`--key`) instead of the rolling selection.
    pub keys: Vec<String>,
    /// Monthly: deep-verify every backup modified at or after this (`--since`).
    pub since: Option<DateTime<Utc>>,
}

impl CheckRequest {
    /// A schedule's checks in its default mode, on every target, reported to `out`.
    pub fn for_schedule(schedule: Schedule, out: PathBuf) -> Self {
        CheckRequest {
            schedule,
            mode: schedule.default_mode(),
            targets: Vec::new(),
            chaos: false,
            out,
            backup: None,
            run: None,
            secrets: BTreeMap::new(),
            cancel: Cancel::new(),
            ledger: Ledger::new(),
            keys: Vec::new(),
            since: None,
        }
    }
}

/// Opens the store and runs the checks; returns the report (not yet written). The
/// `::add-mask::` lines of any credentials obtained go to `out` before the first check runs,
/// then a line per target as it finishes. A store that cannot be opened (no region, the role
/// refused, no `id-token: write`) fails every selected target's `access` check with the reason,
/// so the report is still written and the alert path still runs: a broken role must be as loud
/// as a broken backup.
pub async fn execute(
    loaded: &Loaded,
    request: &CheckRequest,
    env: &crate::env::Env,
    out: &dyn Sink,
) -> Result<Report> {
    let targets = select_targets(loaded, &request.targets)?;
    something_to_restore(loaded, request, &targets)?;
    match crate::connect::open(loaded, env).await {
        Ok(opened) => {
            out.lines(&opened.masks);
            run(
                request,
                loaded,
                opened.store.as_ref(),
                Utc::now(),
                out,
                &env.inherited,
            )
            .await
        }
        Err(e) => {
            tracing::error!("cannot open the store: {e:#}");
            Ok(unreachable(
                request,
                &targets,
                &format!("cannot open the store: {e:#}"),
                Utc::now(),
                out,
            ))
        }
    }
}

/// A full restore needs at least one selected target with `restore:`: one that restores
/// nothing would prove nothing, yet report ok (a target without `restore:` is reported as not
/// restored, not failed).
fn something_to_restore(
    loaded: &Loaded,
    request: &CheckRequest,
    targets: &[&Target],
) -> Result<()> {
    if request.mode != Mode::FullRestore || targets.iter().any(|t| t.restore.is_some()) {
        return Ok(());
    }
    let which = match targets {
        [only] => format!("target `{}` has none", only.name),
        _ => format!("none of the {} targets checked has one", targets.len()),
    };
    anyhow::bail!(
        "a full restore needs a target with a `restore:` section, and {which}: add `restore:` (engine: postgres, sqlite, files or command) to a target in {}",
        loaded.path.display()
    )
}

/// The report of a run whose store could not be opened: every target fails `access`.
fn unreachable(
    request: &CheckRequest,
    targets: &[&Target],
    detail: &str,
    now: DateTime<Utc>,
    out: &dyn Sink,
) -> Report {
    let reports: Vec<TargetReport> = targets
        .iter()
        .map(|t| TargetReport {
            critical: t.critical,
            ..TargetReport::new(&t.name, None, vec![Check::fail("access", detail)])
        })
        .collect();
    for t in &reports {
        out.lines(&target_lines(t));
    }
    Report {
        schema: SCHEMA_VERSION,
        kind: request.mode,
        schedule: request.schedule,
        ok: Report::ok_of(&reports),
        chaos: request.chaos,
        started_at: now,
        finished_at: now,
        run: request.run.clone(),
        targets: reports,
        cost: None,
    }
}

/// Runs the checks against `store` and returns the report (not yet written); a line per
/// target goes to `progress` as soon as that target is done.
pub async fn run(
    request: &CheckRequest,
    loaded: &Loaded,
    store: &dyn BackupStore,
    now: DateTime<Utc>,
    progress: &dyn Sink,
    inherited: &[(String, String)],
) -> Result<Report> {
    let targets = select_targets(loaded, &request.targets)?;
    something_to_restore(loaded, request, &targets)?;
    if request.backup.is_some() {
        anyhow::ensure!(
            request.mode == Mode::FullRestore,
            "--backup picks the backup a full restore uses; it needs --schedule quarterly or --mode full-restore"
        );
        anyhow::ensure!(
            targets.len() == 1,
            "--backup names one backup, so check one target: add --target NAME"
        );
    }
    // A set's `--backup` names a folder, which has no HEAD: `checks::set` looks for it.
    if let Some(key) = request
        .backup
        .as_deref()
        .filter(|_| targets.iter().all(|t| t.set.is_none()))
    {
        // A key that is not there is a mistake in the command, not a failed backup: say so and
        // stop. A store that cannot answer stays a failed check, so the report is written.
        if let Ok(None) = store.head(key).await {
            anyhow::bail!(
                "--backup {}: no such backup in {}",
                key.escape_debug(),
                store.describe()
            );
        }
    }
    let deep_asked = !request.keys.is_empty() || request.since.is_some();
    anyhow::ensure!(
        !deep_asked || request.schedule == Schedule::Monthly,
        "--key and --since deep-verify backups; they need --schedule monthly"
    );
    for key in &request.keys {
        anyhow::ensure!(
            targets.iter().any(|t| key.starts_with(&t.prefix)),
            "--key {}: no target checked has a prefix it starts with",
            key.escape_debug()
        );
    }
    // Every request to the store goes through one counter, so the report can say what it cost.
    let counting = Counting::new(store);
    let store: &dyn BackupStore = &counting;
    let started_at = now;
    let run_id = request
        .run
        .as_ref()
        .map(|r| r.run_id.clone())
        .unwrap_or_else(|| format!("local-{}", started_at.timestamp()));
    let ctx = CheckContext {
        store,
        now: started_at,
        deep: request.schedule == Schedule::Monthly,
        kms_key_arn: loaded.config.storage.kms_key_arn.as_deref(),
        secrets: &request.secrets,
        progress,
        verify: (request.schedule == Schedule::Monthly).then_some(VerifyContext {
            ledger: &request.ledger,
            global: loaded.config.verify.as_ref(),
            keys: &request.keys,
            since: request.since,
        }),
    };
    let restore_ctx = RestoreContext {
        store,
        now: started_at,
        base_dir: &loaded.base_dir,
        backup: request.backup.as_deref(),
        progress,
        secrets: &request.secrets,
        cancel: &request.cancel,
        run_id: &run_id,
        inherited,
    };
    let chaos_prefix = chaos_prefix(&run_id);
    let mut reports = Vec::with_capacity(targets.len());
    for target in targets {
        let prefix = if request.chaos {
            chaos_prefix.as_str()
        } else {
            target.prefix.as_str()
        };
        let cancel = &request.cancel;
        if cancel.is_cancelled() {
            let report = not_checked(&target.name, cancel);
            progress.lines(&target_lines(&report));
            reports.push(report);
            continue;
        }
        tracing::info!(target = %target.name, prefix, "checking");
        let mut report = match request.mode {
            // A dry run holds nothing to clean up: stopping it is dropping it.
            Mode::DryRun => tokio::select! {
                biased;
                _ = cancel.cancelled() => TargetReport::new(
                    &target.name,
                    None,
                    vec![Check::fail(
                        "cancelled",
                        format!(
                            "cancelled by {} while this target was checked: its checks did not finish",
                            cancel.signal_name()
                        ),
                    )],
                ),
                report = dry_run::check_target(target, prefix, &ctx) => report,
            },
            // A restore stops its stages itself, so its cleanup runs and what ran is kept.
            Mode::FullRestore => restore::check_target(target, prefix, &restore_ctx).await,
        };
        report.critical = target.critical;
        tracing::trace!(
            target = %report.name,
            ok = report.ok,
            checks = report.checks.len(),
            "checked"
        );
        progress.lines(&target_lines(&report));
        reports.push(report);
    }
    Ok(Report {
        schema: SCHEMA_VERSION,
        kind: request.mode,
        schedule: request.schedule,
        ok: Report::ok_of(&reports),
        chaos: request.chaos,
        started_at,
        finished_at: Utc::now(),
        run: request.run.clone(),
        targets: reports,
        cost: Some(crate::report::Cost::of(
            counting.counts(),
            &loaded.config.prices,
        )),
    })
}

/// The report of a target a cancelled run never reached.
fn not_checked(name: &str, cancel: &Cancel) -> TargetReport {
    TargetReport::new(
        name,
        None,
        vec![Check::fail(
            "cancelled",
            format!(
                "not checked: the run was cancelled by {} before this target",
                cancel.signal_name()
            ),
        )],
    )
}

/// The values of the variables the targets name (`restore.database-url-env`, `encryption`),
/// those that are set.
pub fn secrets(loaded: &Loaded, env: &crate::env::Env) -> BTreeMap<String, SecretString> {
    let targets = &loaded.config.targets;
    let database_urls = targets
        .iter()
        .filter_map(|t| t.restore.as_ref()?.database_url_env.as_deref());
    let keys = targets
        .iter()
        .filter_map(|t| t.encryption.as_ref())
        .flat_map(|e| e.variables());
    database_urls
        .chain(keys)
        .filter_map(|var| Some((var.to_string(), env.secret(var)?)))
        .collect()
}

/// Picks the targets to check; an unknown name is an error listing the known ones.
pub fn select_targets<'a>(loaded: &'a Loaded, names: &[String]) -> Result<Vec<&'a Target>> {
    let all = &loaded.config.targets;
    if names.is_empty() {
        return Ok(all.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|t| &t.name == n).ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
                anyhow::anyhow!(
                    "no target named `{n}` in {}; targets: {}",
                    loaded.path.display(),
                    known.join(", ")
                )
            })
        })
        .collect()
}

/// The prefix a chaos run uses instead of every target's: one that cannot exist.
pub fn chaos_prefix(run_id: &str) -> String {
    format!("dr-chaos-{run_id}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chaos_prefix_names_the_run() {
        assert_eq!(chaos_prefix("123"), "dr-chaos-123/");
    }
}
