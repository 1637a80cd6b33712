//! `dr-action check`: runs a schedule's checks against the configured store and writes the
//! report. Exit 0 when every target is ok, 1 when any check failed (the report is written
//! either way), 2 when the checks could not run at all (bad config, unknown target).
//!
//! Lines go out as the run goes: the `::add-mask::` lines as soon as credentials exist (before
//! any check can echo them), a line per target when its checks finish (with its failed checks),
//! progress during a restore, and the verdict with the report's path last.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;

use super::require_config;
use crate::aws::{self, AwsSettings};
use crate::checks::CheckResult;
use crate::checks::dry_run::{self, CheckContext};
use crate::checks::restore::{self, RestoreContext};
use crate::cli::Global;
use crate::config::{Loaded, StorageKind, Target};
use crate::error::Outcome;
use crate::output::Sink;
use crate::report::{Mode, Report, RunInfo, SCHEMA_VERSION, Schedule, TargetReport};
use crate::store::BackupStore;
use crate::store::local::LocalStore;
use crate::store::s3::S3Store;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Which schedule: weekly (dry-run), monthly (dry-run reading every byte), quarterly
    /// (full restore).
    #[arg(long, value_enum)]
    pub schedule: Schedule,
    /// Override the schedule's mode.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Check only this target (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Fail on purpose (every prefix replaced by one that cannot exist) to prove alerting
    /// works. Also on when DR_CHAOS is true/1/yes.
    #[arg(long)]
    pub chaos: bool,
    /// The report file (default: OUT_DIR/<the schedule's report name>).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Full restore: restore this key instead of the newest backup (one target).
    #[arg(long, value_name = "KEY")]
    pub backup: Option<String>,
}

/// What a caller asks `check` to do, independent of the command line.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    pub schedule: Schedule,
    pub mode: Mode,
    pub targets: Vec<String>,
    pub chaos: bool,
    pub out: PathBuf,
    /// Full restore: the key to restore instead of the newest.
    pub backup: Option<String>,
}

impl CheckRequest {
    pub fn from_args(global: &Global, args: CheckArgs) -> Self {
        CheckRequest {
            schedule: args.schedule,
            mode: args.mode.unwrap_or(args.schedule.default_mode()),
            targets: args.targets,
            chaos: args.chaos || chaos_from_env(),
            out: args
                .out
                .unwrap_or_else(|| global.out_dir.join(args.schedule.default_report_name())),
            backup: args.backup,
        }
    }
}

/// `DR_CHAOS` set to true, 1 or yes (any case) turns chaos on.
pub fn chaos_from_env() -> bool {
    std::env::var("DR_CHAOS").is_ok_and(|v| is_truthy(&v))
}

pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

/// The GitHub Actions run this is, when there is one.
pub fn run_info() -> Option<RunInfo> {
    let repository = std::env::var("GITHUB_REPOSITORY").ok()?;
    let run_id = std::env::var("GITHUB_RUN_ID").ok()?;
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    let url = format!(
        "{}/{repository}/actions/runs/{run_id}",
        server.trim_end_matches('/')
    );
    Some(RunInfo {
        repository,
        run_id,
        url,
    })
}

/// The prefix a chaos run uses instead of every target's: one that cannot exist.
pub fn chaos_prefix(run_id: &str) -> String {
    format!("dr-chaos-{run_id}/")
}

pub async fn run(global: &Global, args: CheckArgs, out: &dyn Sink) -> Result<Outcome> {
    let loaded = require_config(global)?;
    let request = CheckRequest::from_args(global, args);
    // A mistyped --target is reported (exit 2) before any credentials are fetched.
    let report = execute(&loaded, &request, out).await?;
    crate::atomic::write_json(&request.out, &report)?;
    out.line(&verdict_line(&report, &request.out));
    Ok(Outcome::checked(report.ok))
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

/// A store ready to check, and the `::add-mask::` lines for the credentials obtained to open it
/// (print them before anything else).
pub struct OpenedStore {
    pub store: Box<dyn BackupStore>,
    pub masks: Vec<String>,
}

/// Builds the store the config names. For a bucket this resolves AWS access (region, endpoint,
/// credentials through GitHub OIDC inside Actions) and builds the one S3 client of the run.
pub async fn open_store(loaded: &Loaded) -> Result<OpenedStore> {
    match loaded.storage() {
        StorageKind::Local(path) => Ok(OpenedStore {
            store: Box::new(LocalStore::new(path)),
            masks: Vec::new(),
        }),
        StorageKind::Bucket(bucket) => {
            let (client, conn) = connect_s3(loaded, &bucket).await?;
            Ok(OpenedStore {
                store: Box::new(S3Store::new(client, bucket, conn.endpoint.clone())),
                masks: conn.masks,
            })
        }
    }
}

/// Resolves AWS access from the config and the environment (region, endpoint, credentials
/// through GitHub OIDC inside Actions) and builds the S3 client of the run for `bucket`.
pub async fn connect_s3(
    loaded: &Loaded,
    bucket: &str,
) -> Result<(aws_sdk_s3::Client, aws::Connection)> {
    let settings = AwsSettings::resolve(loaded.config.aws.as_ref(), |k| std::env::var(k).ok());
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()
        .context("building the HTTP client")?;
    let conn = aws::connect(&settings, &http)
        .await
        .with_context(|| format!("getting AWS access for bucket `{bucket}`"))?;
    Ok((aws::s3_client(&conn), conn))
}

/// Opens the store and runs the checks; returns the report (not yet written). The
/// `::add-mask::` lines of any credentials obtained go to `out` before the first check runs,
/// then a line per target as it finishes. A store that cannot be opened (no region, the role
/// refused, no `id-token: write`) fails every selected target's `access` check with the reason,
/// so the report is still written and the alert path still runs: a broken role must be as loud
/// as a broken backup.
pub async fn execute(loaded: &Loaded, request: &CheckRequest, out: &dyn Sink) -> Result<Report> {
    let targets = select_targets(loaded, &request.targets)?;
    match open_store(loaded).await {
        Ok(opened) => {
            out.lines(&opened.masks);
            execute_on(opened.store.as_ref(), loaded, request, out).await
        }
        Err(e) => {
            tracing::error!("cannot open the store: {e:#}");
            let detail = format!("cannot open the store: {e:#}");
            let now = Utc::now();
            let reports: Vec<TargetReport> = targets
                .iter()
                .map(|t| {
                    TargetReport::new(
                        &t.name,
                        None,
                        vec![CheckResult::fail("access", detail.clone())],
                    )
                })
                .collect();
            for t in &reports {
                out.lines(&target_lines(t));
            }
            let report = Report {
                schema: SCHEMA_VERSION,
                kind: request.mode,
                schedule: request.schedule,
                ok: false,
                chaos: request.chaos,
                started_at: now,
                finished_at: now,
                run: run_info(),
                targets: reports,
            };
            Ok(report)
        }
    }
}

/// Runs the checks against `store` and returns the report (not yet written); a line per
/// target goes to `out` as soon as that target is done.
pub async fn execute_on(
    store: &dyn BackupStore,
    loaded: &Loaded,
    request: &CheckRequest,
    out: &dyn Sink,
) -> Result<Report> {
    let targets = select_targets(loaded, &request.targets)?;
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
    let started_at = Utc::now();
    let run = run_info();
    let run_id = run
        .as_ref()
        .map(|r| r.run_id.clone())
        .unwrap_or_else(|| format!("local-{}", started_at.timestamp()));
    let ctx = CheckContext {
        store,
        now: started_at,
        deep: request.schedule == Schedule::Monthly,
        kms_key_arn: loaded.config.storage.kms_key_arn.as_deref(),
    };
    let restore_ctx = RestoreContext {
        store,
        now: started_at,
        base_dir: &loaded.base_dir,
        backup: request.backup.as_deref(),
        progress: out,
    };
    let chaos_prefix = chaos_prefix(&run_id);
    let mut reports = Vec::with_capacity(targets.len());
    for target in targets {
        let prefix = if request.chaos {
            chaos_prefix.as_str()
        } else {
            target.prefix.as_str()
        };
        tracing::info!(target = %target.name, prefix, "checking");
        let report = match request.mode {
            Mode::DryRun => dry_run::check_target(target, prefix, &ctx).await,
            Mode::FullRestore => restore::check_target(target, prefix, &restore_ctx).await,
        };
        tracing::trace!(
            target = %report.name,
            ok = report.ok,
            checks = report.checks.len(),
            "checked"
        );
        out.lines(&target_lines(&report));
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
        run,
        targets: reports,
    })
}

/// The line that ends a run: the verdict and where the report is.
pub fn verdict_line(report: &Report, path: &std::path::Path) -> String {
    let failed = report.targets.iter().filter(|t| !t.ok).count();
    let verdict = if report.ok {
        "ok".to_string()
    } else {
        format!("FAILED ({failed} of {} targets)", report.targets.len())
    };
    let chaos = if report.chaos { " [chaos drill]" } else { "" };
    format!(
        "{} {}{chaos}: {verdict} — report {}",
        report.schedule,
        report.kind.as_str(),
        path.display()
    )
}

/// A finished target: `ok`/`FAIL` and its name, then each failed check.
pub fn target_lines(t: &TargetReport) -> Vec<String> {
    let mut lines = vec![format!(
        "  {} {}",
        if t.ok { "ok  " } else { "FAIL" },
        t.name
    )];
    for c in t.failed_checks() {
        // A detail may quote an object key: one line, so a key cannot forge a workflow
        // command in the job log.
        lines.push(format!(
            "         {}: {}",
            c.name,
            crate::actions::visible(&c.detail)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_accepts_true_one_yes_in_any_case() {
        for v in ["true", "TRUE", "1", "yes", "Yes", " true "] {
            assert!(is_truthy(v), "{v}");
        }
        for v in ["false", "0", "", "no", "on"] {
            assert!(!is_truthy(v), "{v}");
        }
        assert_eq!(chaos_prefix("123"), "dr-chaos-123/");
    }
}
