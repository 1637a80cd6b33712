//! The full-restore check (quarterly): the newest backup — or the one `--backup`
//! names — is read from the store once, as a stream. On the way, [`stream::open`] hashes the
//! stored bytes and decompresses them; the decompressed bytes go straight into the restore
//! engine ([`postgres`], [`sqlite`], [`files`] or [`command`]), then the validations of the
//! config run against what was restored ([`validate`]). Nothing but the engine's own output is
//! written to disk, and that only inside a temporary folder.
//!
//! The report says, per target: `listing`, `rpo`, `restore` (plus what an engine adds, such as
//! `integrity` for SQLite), `checksum` (a mismatch fails even when the restore worked),
//! `validate[N]` per validation, `cleanup` (the PostgreSQL scratch database) and `rto`; and the
//! metrics `download_seconds`, `restore_seconds`, `validate_seconds`, `total_seconds` (the
//! measured RTO), `bytes`, `backup_age_seconds`, `rto_met`, `rpo_met` (plus `unpacked_bytes`,
//! `rto_seconds`, `rpo_seconds`). An archived backup (GLACIER, DEEP_ARCHIVE, Azure Archive)
//! adds `restorable` after `rpo` and is not read unless the target's `restore-request` got a
//! readable copy in time ([`archive::prepare`]); the wait counts in the measured RTO and is
//! `restore_request_seconds`. The download runs alongside the restore, so
//! `download_seconds` is when the last stored byte arrived and `restore_seconds` when the engine
//! finished, both counted from the start of the restore (the scratch database's creation, or
//! the GET); `total_seconds` runs from the listing to the end of the validations. A stage
//! still running at 3× the RTO is stopped, so a hung engine or validation cannot hold the job
//! (and the report) forever; the stage that hung is the check that fails — a restore that
//! finished keeps its verdict and its checksum when a validation hangs. A signal stops the
//! stage that is running the same way ([`Cancel`]); the cleanup still runs, and the target
//! ends with a `cancelled` check in place of `rto`. A PostgreSQL restore on a shared server
//! first drops the stale scratch databases of earlier runs (`stale-scratch`, see
//! [`postgres::Marker`]).
//!
//! Only the [`BackupStore`] trait is used, so the local folder and S3 behave the same.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::archive;
use super::format::{Compression, Content};
use super::layers;
use super::listing::{KeyFilter, summarize_listing};
use super::sidecar::read_sidecar;
use super::stream::{self, ContentReader};
use super::verdicts;
use crate::cancel::Cancel;
use crate::config::{ChecksumMode, Restore, RestoreEngine, Target};
use crate::crypt::Sealed;
use crate::output::Sink;
use crate::report::Check;
use crate::report::{Evidence, Latest, TargetReport};
use crate::store::{BackupStore, ObjectMeta};
use crate::units::{self, short_size};
use engine::EngineOutcome;

pub mod command;
pub mod engine;
pub mod files;
pub mod parts;
pub mod pg_cluster;
pub mod pg_tools;
pub mod pg_url;
pub mod pg_version;
pub mod postgres;
pub mod sql_guard;
pub mod sqlite;
pub mod token;
pub mod validate;

/// How many decompressed bytes are looked at to tell a custom dump from tar, SQLite or SQL.
const SNIFF_BYTES: usize = 4096;

/// What the full-restore checks of one run share.
pub struct RestoreContext<'a> {
    pub store: &'a dyn BackupStore,
    pub now: DateTime<Utc>,
    /// Where relative commands (`./scripts/validate.sh`) are run from: the repository root.
    pub base_dir: &'a Path,
    /// A specific key to restore instead of the newest (`--backup`).
    pub backup: Option<&'a str>,
    /// Where the stages of a restore are told as they start and end, with a progress line
    /// every [`PROGRESS_EVERY`] in between: a restore can run for hours.
    pub progress: &'a dyn Sink,
    /// The server URLs the targets' `restore.database-url-env` name, by variable, read at the
    /// edge.
    pub secrets: &'a std::collections::BTreeMap<String, secrecy::SecretString>,
    /// Cancelled by SIGINT/SIGTERM: every stage stops at its next await, and the cleanup runs.
    pub cancel: &'a Cancel,
    /// This run's id, written into the marker of the scratch databases it makes.
    pub run_id: &'a str,
    /// What the restore's programs inherit from dr-action's environment (`env::INHERITED`),
    /// from the environment snapshot; `PATH` is also where the PostgreSQL programs are found.
    pub inherited: &'a [(String, String)],
}

/// How often a running restore says how far it got.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Restores one target's backup and validates it.
/// The detail of a target without `restore:` in a full restore.
pub const NOT_RESTORED: &str = "not restored: this target has no `restore:` section in the config (not a failure); add one (engine: postgres, sqlite, files or command) to restore it";

pub async fn check_target(target: &Target, prefix: &str, ctx: &RestoreContext<'_>) -> TargetReport {
    let started = Instant::now();
    let Some(restore) = &target.restore else {
        // Not every target can be restored here (a bucket of logs, a store of files checked
        // only for freshness): it is reported, not failed, so it cannot hold the badge amber.
        let check = Check::pass("restore", NOT_RESTORED);
        return TargetReport::new(&target.name, None, vec![check]);
    };
    // A backup kept as a folder of parts is restored part by part (`parts`).
    if let Some(set) = &target.set {
        return parts::check_target(target, set, restore, prefix, ctx).await;
    }
    let stop = Stop {
        until: deadline(target).map(|d| tokio::time::Instant::from_std(started) + d),
        cancel: ctx.cancel,
    };
    let backup = match stop.run(pick_backup(target, prefix, ctx)).await {
        Ok(Ok(b)) => b,
        Ok(Err(listing)) => {
            let checks = vec![listing, Check::fail("restore", "no backup to restore")];
            return TargetReport::new(&target.name, None, checks);
        }
        Err(why) => return interrupted(target, None, Vec::new(), why, "the listing", ctx),
    };
    let (listing, newest) = backup;
    let age = (ctx.now - newest.last_modified).num_seconds().max(0) as u64;
    let latest = Latest {
        key: newest.key.clone(),
        size: newest.size,
        last_modified: newest.last_modified,
        age_seconds: age,
    };
    let rpo_met = age <= target.rpo.secs();
    let rpo = match ctx.backup {
        // An older backup restored on purpose says nothing about how fresh the backups are.
        Some(_) => Check::pass(
            "rpo",
            format!(
                "the restored backup is {} old (rpo {}); --backup chose it, so its age is not held against the rpo",
                units::short_duration(age),
                target.rpo
            ),
        ),
        None => verdicts::rpo("rpo", "the restored backup", age, target),
    };
    let mut checks = vec![listing, rpo];

    // An archived backup is not read as it is (the GET would be refused): with
    // `restore-request`, a readable copy is asked for and awaited within the rto.
    let wait_limit = target
        .rto
        .as_ref()
        .map(|rto| rto.duration.saturating_sub(started.elapsed()))
        .unwrap_or_default();
    let prepared = stop.run(archive::prepare(
        ctx.store,
        &newest.key,
        target.restore_request.as_ref(),
        wait_limit,
        archive::POLL,
    ));
    let thawed = match prepared.await {
        Ok(p) => p,
        Err(why) => {
            let at = "the wait for a restored copy";
            return interrupted(target, Some(latest), checks, why, at, ctx);
        }
    };
    let mut thaw_seconds = None;
    if let Some(p) = thawed {
        thaw_seconds = p.waited;
        let readable = p.readable;
        checks.push(p.check);
        if !readable {
            checks.push(Check::fail(
                "restore",
                format!(
                    "not attempted: {} cannot be read until a restored copy of it is ready (see restorable)",
                    newest.key
                ),
            ));
            let mut report = TargetReport::new(&target.name, Some(latest), checks);
            report.evidence.uri = Some(ctx.store.uri(&newest.key));
            waited_for_copy(&mut report, thaw_seconds);
            return report;
        }
    }

    let expected = match stop
        .run(expected_checksum(ctx.store, &newest.key, target))
        .await
    {
        Ok(e) => e,
        Err(why) => {
            return interrupted(
                target,
                Some(latest),
                checks,
                why,
                "the checksum lookup",
                ctx,
            );
        }
    };
    let restore_started = Instant::now();
    // PostgreSQL first: a server that cannot be reached fails before anything is downloaded.
    // The scratch database is held here, outside the stops below, so it is dropped even when
    // the restore is stopped. On a shared server its creation is not cut short by a signal:
    // dropped half-way, it could leave a database without its marker; it takes well under a
    // second. A private cluster's start (seconds) is, as its drop cleans up whatever ran.
    let marker = postgres::Marker::new(ctx.run_id, Utc::now(), deadline(target));
    let scratch = match restore.engine {
        RestoreEngine::Postgres => match postgres::create_scratch(
            restore,
            restore
                .database_url_env
                .as_deref()
                .and_then(|v| ctx.secrets.get(v)),
            &marker,
            ctx.cancel,
            crate::process::var(ctx.inherited, "PATH"),
        )
        .await
        {
            Ok((s, stale)) => {
                checks.extend(stale);
                Some(s)
            }
            Err(e) => {
                checks.push(Check::fail("restore", e));
                None
            }
        },
        _ => None,
    };
    let can_start = restore.engine != RestoreEngine::Postgres || scratch.is_some();
    // Where the run was stopped (3× the rto, or a signal) and in which stage.
    let mut stopped: Option<(Stopped, String)> = None;
    let mut timings = Timings::default();
    let mut verified = None;
    if !can_start {
        checks.push(checksum_check(&expected, &ReadSummary::default()));
        for i in 0..restore.validate.len() {
            let name = format!("validate[{i}]");
            checks.push(Check::fail(&name, "not run: the restore did not succeed"));
        }
        if ctx.cancel.is_cancelled() {
            stopped = Some((
                Stopped::Cancelled,
                "the scratch database's preparation".into(),
            ));
        }
    } else {
        let restored = stop
            .run(restore_once(
                target,
                restore,
                &newest,
                scratch.clone(),
                ctx,
                restore_started,
            ))
            .await;
        match restored {
            Err(why) => {
                // Dropping the future killed the engine's processes (their whole process
                // group) and deleted its temporary folder.
                let took = units::human_seconds(started.elapsed());
                checks.push(Check::fail(
                    "restore",
                    match why {
                        Stopped::Deadline => format!(
                            "stopped after {took} by the RTO limit: still not restored at 3× the rto"
                        ),
                        Stopped::Cancelled => format!(
                            "cancelled by {} after {took}: not restored",
                            ctx.cancel.signal_name()
                        ),
                    },
                ));
                checks.push(match &expected {
                    Ok(Some(_)) => Check::fail(
                        "checksum",
                        "not verified: the restore was stopped before the object was read to its end",
                    ),
                    _ => checksum_check(&expected, &ReadSummary::default()),
                });
                let at = "the restore".to_string();
                for i in 0..restore.validate.len() {
                    let name = format!("validate[{i}]");
                    checks.push(Check::fail(&name, not_run(why, &at, ctx)));
                }
                stopped = Some((why, at));
            }
            Ok(run) => {
                let RestoreRun {
                    engine,
                    read,
                    download,
                    restore: restore_took,
                    _dir: dir,
                } = run;
                checks.extend(engine.checks);
                let checksum = checksum_check(&expected, &read);
                if checksum.ok && matches!(expected, Ok(Some(_))) {
                    verified = Some(read.sha256.clone());
                }
                checks.push(checksum);
                timings = Timings {
                    download: Some(download),
                    restore: Some(restore_took),
                    validate: None,
                    stored_bytes: read.stored_bytes,
                    content_bytes: read.content_bytes,
                };
                if !restore.validate.is_empty() && engine.restored.is_some() {
                    ctx.progress.line(&format!(
                        "{}: validating ({})",
                        target.name,
                        crate::units::count(restore.validate.len() as u64, "check")
                    ));
                }
                let validate_started = Instant::now();
                for (i, validation) in restore.validate.iter().enumerate() {
                    let name = format!("validate[{i}]");
                    let check = match (&engine.restored, &stopped) {
                        (_, Some((why, at))) => Check::fail(&name, not_run(*why, at, ctx)),
                        (None, None) => Check::fail(&name, "not run: the restore did not succeed"),
                        (Some(restored), None) => {
                            let ran = validate::run(
                                &name,
                                validation,
                                restored.as_ref(),
                                ctx.base_dir,
                                ctx.inherited,
                            );
                            match stop.run(ran).await {
                                Ok(check) => check,
                                Err(why) => {
                                    // The validation's programs went with its future; the
                                    // restore itself finished, so it is this check that failed.
                                    let took = units::human_seconds(started.elapsed());
                                    let what = validate::shown(validation);
                                    let detail = match why {
                                        Stopped::Deadline => format!(
                                            "stopped by the RTO limit after {took}: {what} was still running at 3× the rto"
                                        ),
                                        Stopped::Cancelled => format!(
                                            "cancelled by {} after {took}, while {what} ran",
                                            ctx.cancel.signal_name()
                                        ),
                                    };
                                    stopped = Some((why, name.clone()));
                                    Check::fail(&name, detail)
                                }
                            }
                        }
                    };
                    checks.push(check);
                }
                if stopped.is_none() {
                    timings.validate = Some(validate_started.elapsed());
                }
                // The engine's temporary folder goes now, with nothing left using it.
                drop(engine.restored);
                drop(dir);
            }
        }
    }
    // The measured RTO: from the first listing request until the data is restored and
    // validated. Dropping the scratch database afterwards is housekeeping, not recovery.
    let total = started.elapsed();
    let rto_met = conclude(scratch.as_ref(), &stopped, total, target, ctx, &mut checks).await;

    let mut report = TargetReport::new(&target.name, Some(latest), checks);
    report.evidence = Evidence {
        uri: Some(ctx.store.uri(&newest.key)),
        sha256: verified,
        ..Evidence::default()
    };
    timing_metrics(
        &mut report.metrics,
        &timings,
        total,
        age,
        rpo_met,
        rto_met,
        target,
    );
    waited_for_copy(&mut report, thaw_seconds);
    report
}

/// The wait for a restored copy of an archived backup, when there was one, as a metric.
fn waited_for_copy(report: &mut TargetReport, waited: Option<Duration>) {
    if let Some(waited) = waited {
        report
            .metrics
            .insert("restore_request_seconds".into(), seconds(Some(waited)));
    }
}

/// The end of a restore, whole or in parts: the scratch database dropped, then the `rto`
/// verdict — or, for a cancelled run, which measured nothing, what stopped it and where.
/// Returns whether the rto was met (`None` without an rto, or when cancelled).
async fn conclude(
    scratch: Option<&postgres::Scratch>,
    stopped: &Option<(Stopped, String)>,
    total: Duration,
    target: &Target,
    ctx: &RestoreContext<'_>,
    checks: &mut Vec<Check>,
) -> Option<bool> {
    if let Some(scratch) = scratch {
        checks.push(postgres::drop_scratch(scratch).await);
    }
    let cancelled = matches!(stopped, Some((Stopped::Cancelled, _)));
    match stopped {
        Some((Stopped::Cancelled, at)) => checks.push(cancelled_check(ctx, at, total)),
        _ => checks.push(verdicts::rto(total, target)),
    }
    target
        .rto
        .as_ref()
        .filter(|_| !cancelled)
        .map(|rto| total <= rto.duration)
}

/// A restore's timings, sizes and objectives as the report's metrics.
fn timing_metrics(
    metrics: &mut serde_json::Map<String, serde_json::Value>,
    timings: &Timings,
    total: Duration,
    age: u64,
    rpo_met: bool,
    rto_met: Option<bool>,
    target: &Target,
) {
    metrics.insert("download_seconds".into(), seconds(timings.download));
    metrics.insert("restore_seconds".into(), seconds(timings.restore));
    metrics.insert("validate_seconds".into(), seconds(timings.validate));
    metrics.insert("total_seconds".into(), seconds(Some(total)));
    metrics.insert("bytes".into(), timings.stored_bytes.into());
    metrics.insert("unpacked_bytes".into(), timings.content_bytes.into());
    metrics.insert("backup_age_seconds".into(), age.into());
    metrics.insert(
        "rto_seconds".into(),
        target.rto.as_ref().map(|r| r.secs()).into(),
    );
    metrics.insert("rpo_seconds".into(), target.rpo.secs().into());
    metrics.insert("rto_met".into(), rto_met.into());
    metrics.insert("rpo_met".into(), rpo_met.into());
}

/// The most a restore may write to disk, and which limit set it (said in the detail when a
/// restore is stopped there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackCap {
    pub bytes: u64,
    pub why: String,
}

/// How much the temporary folder's free space keeps back from a restore: a tenth, at least
/// 64 MiB, so the runner itself can still write its logs.
fn free_space_margin(free: u64) -> u64 {
    (free / 10).max(64 << 20)
}

/// 1000× the compressed size, at least 1 MiB, and never more than the temporary folder's free
/// space less a margin. Ordinary data (logs, dumps) often compresses 10–50×, so a low ratio fails
/// real backups; a real bomb (gzip reaches ~1000×, nested or zstd far more) still stops, and the
/// free-space bound stops it before it fills the disk.
pub fn default_unpack_cap(compressed: u64, free: Option<u64>) -> UnpackCap {
    let ratio = compressed.saturating_mul(1000).max(1 << 20);
    match free.map(|f| f.saturating_sub(free_space_margin(f))) {
        Some(room) if room < ratio => UnpackCap {
            bytes: room,
            why: format!(
                "the free space of the temporary folder less a margin ({})",
                short_size(room)
            ),
        },
        _ => UnpackCap {
            bytes: ratio,
            why: format!(
                "the default max-unpacked, 1000× the compressed size, at least 1 MiB ({})",
                short_size(ratio)
            ),
        },
    }
}

/// The space an unprivileged process may still write under `dir`, when the system says.
fn free_space(dir: &std::path::Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// How long a restore may run before it is stopped: 3× the RTO. Past the RTO the check has
/// failed already; running on for a while still measures how long recovery really takes,
/// and the cap keeps a hung restore from holding the job (and the report) forever.
fn deadline(target: &Target) -> Option<Duration> {
    target
        .rto
        .as_ref()
        .map(|rto| rto.duration.saturating_mul(3))
}

/// Why a stage of a restore did not finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopped {
    /// 3× the rto passed.
    Deadline,
    /// A signal cancelled the run.
    Cancelled,
}

/// The two things that stop a stage of a restore: 3× the rto from the listing, and a signal.
struct Stop<'a> {
    until: Option<tokio::time::Instant>,
    cancel: &'a Cancel,
}

impl Stop<'_> {
    /// Runs `work` unless stopped first; a stopped `work` is dropped, which kills its programs'
    /// process groups and deletes what it held.
    async fn run<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, Stopped> {
        let limit = async {
            match self.until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stopped::Cancelled),
            _ = limit => Err(Stopped::Deadline),
            done = work => Ok(done),
        }
    }
}

/// The detail of a validation that never started because the run was stopped `at` a stage.
fn not_run(why: Stopped, at: &str, ctx: &RestoreContext<'_>) -> String {
    match why {
        Stopped::Deadline => format!("not run: the RTO limit stopped the run at {at}"),
        Stopped::Cancelled => format!(
            "not run: the run was cancelled by {} at {at}",
            ctx.cancel.signal_name()
        ),
    }
}

/// The `cancelled` check: which signal, when, and in which stage.
fn cancelled_check(ctx: &RestoreContext<'_>, at: &str, after: Duration) -> Check {
    Check::fail(
        "cancelled",
        format!(
            "cancelled by {} after {}, at {at}: the checks before it ran, the rest did not",
            ctx.cancel.signal_name(),
            units::human_seconds(after)
        ),
    )
}

/// The report of a target stopped before anything was restored (in the listing or the checksum
/// lookup): nothing to clean up, only what ran and what stopped it.
fn interrupted(
    target: &Target,
    latest: Option<Latest>,
    mut checks: Vec<Check>,
    why: Stopped,
    at: &str,
    ctx: &RestoreContext<'_>,
) -> TargetReport {
    checks.push(match why {
        Stopped::Deadline => Check::fail(
            "restore",
            format!("stopped by the RTO limit at {at}: not restored"),
        ),
        Stopped::Cancelled => Check::fail(
            "cancelled",
            format!(
                "cancelled by {} at {at}: nothing was restored",
                ctx.cancel.signal_name()
            ),
        ),
    });
    TargetReport::new(&target.name, latest, checks)
}

/// The parts of the run the metrics quote; `None` for a stage that never finished.
#[derive(Default)]
struct Timings {
    download: Option<Duration>,
    restore: Option<Duration>,
    validate: Option<Duration>,
    stored_bytes: u64,
    content_bytes: u64,
}

fn seconds(d: Option<Duration>) -> serde_json::Value {
    d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
        .into()
}

/// The backup to restore: the one `--backup` names, or the newest matching key.
async fn pick_backup(
    target: &Target,
    prefix: &str,
    ctx: &RestoreContext<'_>,
) -> Result<(Check, ObjectMeta), Check> {
    const NAME: &str = "listing";
    let where_ = format!("{} under `{prefix}`", ctx.store.describe());
    if let Some(key) = ctx.backup {
        if !key.starts_with(prefix) {
            return Err(Check::fail(
                NAME,
                format!("--backup {key} is not under the target's prefix `{prefix}`"),
            ));
        }
        return match ctx.store.head(key).await {
            Ok(Some(head)) => {
                let meta = ObjectMeta {
                    key: key.to_string(),
                    size: head.size,
                    last_modified: head.last_modified.unwrap_or(ctx.now),
                };
                Ok((
                    Check::pass(NAME, format!("restoring {key}, as --backup asks")),
                    meta,
                ))
            }
            Ok(None) => Err(Check::fail(
                NAME,
                format!("--backup {key} does not exist in {}", ctx.store.describe()),
            )),
            Err(e) => Err(Check::fail(NAME, format!("HEAD {key} failed: {e}"))),
        };
    }
    let filter = KeyFilter::new(&target.pattern)
        .map_err(|e| Check::fail(NAME, format!("bad match glob: {e}")))?;
    let summary = summarize_listing(ctx.store, prefix, &filter, None)
        .await
        .map_err(|e| Check::fail(NAME, format!("cannot list {where_}: {e}")))?;
    match summary.newest.into_iter().next() {
        Some(newest) => Ok((
            Check::pass(
                NAME,
                format!(
                    "{} match `{}` under `{prefix}`; restoring the newest, {}",
                    crate::units::count(summary.matched, "backup"),
                    target.pattern,
                    newest.key
                ),
            ),
            newest,
        )),
        None => Err(Check::fail(
            NAME,
            format!(
                "no key matching `{}` in {where_} ({} other objects)",
                target.pattern, summary.scanned
            ),
        )),
    }
}

/// The SHA-256 the object must have, from where the config says: `Ok(None)` when it names
/// none, `Err` when it names one that cannot be had.
async fn expected_checksum(
    store: &dyn BackupStore,
    key: &str,
    target: &Target,
) -> Result<Option<(String, &'static str)>, String> {
    match target.checksum {
        ChecksumMode::None => Ok(None),
        ChecksumMode::Sidecar => read_sidecar(store, key)
            .await
            .map(|h| Some((h, "the sidecar"))),
        ChecksumMode::S3 => match store.head(key).await {
            Ok(Some(head)) => match head.sha256 {
                Some(h) => Ok(Some((h, "the stored SHA-256"))),
                None => Err(format!(
                    "{key} has no stored SHA-256 (upload it with a SHA-256 checksum, or use checksum: sidecar)"
                )),
            },
            Ok(None) => Err(format!("{key} vanished after listing")),
            Err(e) => Err(format!("HEAD {key} failed: {e}")),
        },
    }
}

fn checksum_check(expected: &Result<Option<(String, &str)>, String>, read: &ReadSummary) -> Check {
    const NAME: &str = "checksum";
    let (want, source) = match expected {
        Err(e) => return Check::fail(NAME, e.clone()),
        Ok(None) => return Check::pass(NAME, "not configured (checksum: none)"),
        Ok(Some((h, s))) => (h, *s),
    };
    if !read.stored_eof && read.stored_bytes == 0 && read.error.is_none() {
        return Check::fail(
            NAME,
            "not verified: the backup was not read, because the restore could not start",
        );
    }
    if !read.stored_eof {
        return Check::fail(
            NAME,
            format!(
                "not verified: the object could not be read to its end ({} read{})",
                short_size(read.stored_bytes),
                read.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        );
    }
    if &read.sha256 == want {
        Check::pass(
            NAME,
            format!(
                "sha256 {} of the {} streamed matches {source}",
                &read.sha256[..12],
                short_size(read.stored_bytes)
            ),
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "sha256 of the object is {}, {source} says {want}",
                read.sha256
            ),
        )
    }
}

/// What reading the object showed, once the engine is done with it.
#[derive(Debug, Default)]
struct ReadSummary {
    stored_bytes: u64,
    /// Whether the store's stream was read to its end (so the hash covers the object).
    stored_eof: bool,
    sha256: String,
    content_bytes: u64,
    /// Why reading or decompressing stopped early, if it did.
    error: Option<String>,
}

struct RestoreRun {
    engine: EngineOutcome,
    read: ReadSummary,
    download: Duration,
    restore: Duration,
    /// The temporary folder the engine wrote into; deleted when the run is dropped, after
    /// the validations.
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// GETs the object once and feeds it through the engine; then reads whatever the engine left
/// unread, so the hash covers the whole object.
async fn restore_once(
    target: &Target,
    restore: &Restore,
    backup: &ObjectMeta,
    scratch: Option<postgres::Scratch>,
    ctx: &RestoreContext<'_>,
    started: Instant,
) -> RestoreRun {
    let name = target.name.as_str();
    let failed = |detail: String, read: ReadSummary| RestoreRun {
        engine: EngineOutcome::failed(detail),
        read,
        download: started.elapsed(),
        restore: started.elapsed(),
        _dir: None,
    };
    let reader = match ctx.store.read(&backup.key).await {
        Ok(r) => r,
        Err(e) => {
            let detail = format!("reading {} failed: {e}", backup.key);
            let read = ReadSummary {
                error: Some(detail.clone()),
                ..ReadSummary::default()
            };
            return failed(detail, read);
        }
    };
    let (reader, head) = match reader.sniff(stream::SNIFF).await {
        Ok(x) => x,
        Err(e) => {
            let detail = format!("reading {} failed: {e}", backup.key);
            let read = ReadSummary {
                error: Some(stream::describe_io(&e)),
                ..ReadSummary::default()
            };
            return failed(detail, read);
        }
    };
    let keys = layers::keys(target, ctx.secrets);
    let (options, sealed) = match layers::options(&backup.key, &head, backup.size, &keys) {
        Ok(x) => x,
        Err(why) => return failed(format!("{}: {why}", backup.key), ReadSummary::default()),
    };
    let (mut content, stats) = stream::open(reader, options);
    let peeked = content.peek(SNIFF_BYTES).await;
    // Known once the decompressor started (inside the encryption, for a sealed backup).
    let compression = stats.compression().unwrap_or(Compression::None);
    let head = match peeked {
        Ok(head) => head,
        Err(_) => {
            // The stats have the error; the summary carries it into the details.
            let read = summarize(&stats);
            let detail = stream_broke(&read, sealed, compression);
            return failed(detail, read);
        }
    };
    if sealed.is_some()
        && let Err(why) = layers::plausible(sealed, compression, &head)
            .and_then(|()| layers::promise(&backup.key, compression))
    {
        return failed(format!("{}: {why}", backup.key), summarize(&stats));
    }
    let kind = Content::detect(&head);
    tracing::info!(
        key = %backup.key,
        compression = compression.name(),
        content = kind.name(),
        "restoring"
    );
    // The key comes from the store: escaped onto one line, so a line break in it cannot start
    // a forged workflow command (`::add-mask::`, `::error::`) in the job log.
    ctx.progress.line(&format!(
        "{name}: restoring {} ({}, {} {})",
        backup.key.escape_debug(),
        short_size(backup.size),
        layers::names(sealed, compression),
        kind.name()
    ));
    let scratch_dir = match tempfile::Builder::new().prefix("dr-restore-").tempdir() {
        Ok(d) => Arc::new(d),
        Err(e) => {
            let read = summarize(&stats);
            return failed(format!("creating a temporary folder failed: {e}"), read);
        }
    };
    // What the engines that write to disk may write.
    let limit = match restore.max_unpacked.as_ref() {
        Some(s) => UnpackCap {
            bytes: s.bytes,
            why: format!("max-unpacked ({})", short_size(s.bytes)),
        },
        None => default_unpack_cap(backup.size, free_space(scratch_dir.path())),
    };
    let cap = limit.bytes;
    let work = async {
        let (engine, mut rest) = match restore.engine {
            RestoreEngine::Files => {
                let (engine, rest) = files::restore(
                    content,
                    kind,
                    scratch_dir.path().join("files"),
                    cap,
                    scratch_dir.clone(),
                )
                .await;
                (engine, Box::pin(rest) as ContentReader)
            }
            other => {
                let mut content: ContentReader = Box::pin(content);
                let engine = match other {
                    RestoreEngine::Sqlite => {
                        sqlite::restore(&mut content, kind, scratch_dir.path(), cap).await
                    }
                    RestoreEngine::Command => {
                        command::restore(
                            restore.command.as_deref(),
                            ctx.base_dir,
                            ctx.inherited,
                            &mut content,
                        )
                        .await
                    }
                    RestoreEngine::Postgres | RestoreEngine::Files => match &scratch {
                        Some(scratch) => {
                            postgres::restore(scratch, kind, &head, &mut content).await
                        }
                        None => EngineOutcome::failed("no scratch database"),
                    },
                };
                (engine, content)
            }
        };
        stream::discard(&mut rest).await;
        engine
    };
    let watch = Watch {
        name,
        stats: &stats,
        size: backup.size,
        started,
        rto: target.rto.as_ref().map(|r| r.duration),
    };
    let mut engine = with_progress(work, &watch, ctx.progress).await;
    let restore_took = started.elapsed();
    ctx.progress.line(&format!(
        "{name}: restore finished after {} ({} read)",
        units::human_seconds(restore_took),
        short_size(stats.stored_bytes())
    ));
    let read = summarize(&stats);
    if stats.content_bytes() > cap
        && let Some(c) = engine
            .checks
            .iter_mut()
            .find(|c| c.name == "restore" && !c.ok)
    {
        // The engines name the size; only this function knows which limit set it.
        c.detail = format!("{}; the limit was {}", c.detail, limit.why);
    }
    if read.error.is_some() {
        // Whatever the engine made of it, a stream that broke is not a restore.
        let detail = stream_broke(&read, sealed, compression);
        match engine.checks.iter_mut().find(|c| c.name == "restore") {
            Some(c) => {
                c.ok = false;
                c.detail = format!("{detail}; the engine said: {}", c.detail);
            }
            None => engine.checks.insert(0, Check::fail("restore", detail)),
        }
        engine.restored = None;
    }
    let download = stats
        .eof_at()
        .map(|t| t.duration_since(started))
        .unwrap_or(restore_took);
    RestoreRun {
        engine,
        read,
        download,
        restore: restore_took,
        _dir: Some(scratch_dir),
    }
}

fn stream_broke(read: &ReadSummary, sealed: Option<Sealed>, compression: Compression) -> String {
    format!(
        "the backup stream broke after {} of {} content: {}",
        short_size(read.content_bytes),
        layers::names(sealed, compression),
        read.error.as_deref().unwrap_or("unknown error")
    )
}

fn summarize(stats: &stream::Stats) -> ReadSummary {
    let sha256 = stats.sha256();
    ReadSummary {
        stored_bytes: stats.stored_bytes(),
        stored_eof: sha256.is_some(),
        sha256: sha256.unwrap_or_default(),
        content_bytes: stats.content_bytes(),
        error: stats.error(),
    }
}

/// What a progress line is made of.
struct Watch<'a> {
    name: &'a str,
    stats: &'a stream::Stats,
    /// The stored size, from the listing.
    size: u64,
    started: Instant,
    rto: Option<Duration>,
}

impl Watch<'_> {
    fn line(&self) -> String {
        progress_line(
            self.name,
            self.stats.stored_bytes(),
            self.size,
            self.started.elapsed(),
            self.rto,
        )
    }
}

/// `orders-db: restoring… 512.0 MiB of 1.0 GiB read (50%), 8.5 MiB/s, 1m elapsed, about 1m
/// left (rto 4h)`: how far, how fast, and whether the rest fits in the RTO at this rate.
fn progress_line(
    name: &str,
    read: u64,
    size: u64,
    elapsed: Duration,
    rto: Option<Duration>,
) -> String {
    let secs = elapsed.as_secs_f64();
    let mut line = format!(
        "{name}: restoring… {} of {} read",
        short_size(read),
        short_size(size)
    );
    if let Some(pct) = (read.min(size).saturating_mul(100)).checked_div(size) {
        line.push_str(&format!(" ({pct}%)"));
    }
    if secs < 1.0 || read == 0 {
        return line;
    }
    let rate = read as f64 / secs;
    line.push_str(&format!(
        ", {}/s, {} elapsed",
        short_size(rate as u64),
        units::short_duration(elapsed.as_secs())
    ));
    let left = size.saturating_sub(read) as f64 / rate;
    line.push_str(&format!(
        ", about {} left",
        units::short_duration(left.ceil() as u64)
    ));
    if let Some(rto) = rto {
        let at_end = secs + left;
        let verdict = if at_end <= rto.as_secs_f64() {
            ""
        } else {
            ", past it at this rate"
        };
        line.push_str(&format!(
            " (rto {}{verdict})",
            units::short_duration(rto.as_secs())
        ));
    }
    line
}

/// Runs `work` (the engine reading the backup), writing a progress line every
/// [`PROGRESS_EVERY`] until it is done.
async fn with_progress<T>(
    work: impl std::future::Future<Output = T>,
    watch: &Watch<'_>,
    out: &dyn Sink,
) -> T {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    // A runtime busy for longer than a period skips the missed lines instead of bursting.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => {
                out.progress_done();
                return done;
            }
            _ = ticks.tick() => out.progress(&watch.line()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_compares_only_a_whole_read() {
        let want = Ok(Some(("ab".repeat(32), "the sidecar")));
        let whole = ReadSummary {
            stored_bytes: 10,
            stored_eof: true,
            sha256: "ab".repeat(32),
            ..ReadSummary::default()
        };
        assert!(checksum_check(&want, &whole).ok);
        let other = ReadSummary {
            sha256: "cd".repeat(32),
            ..whole
        };
        let c = checksum_check(&want, &other);
        assert!(!c.ok && c.detail.contains("the sidecar says abab"), "{c:?}");
        let cut = ReadSummary {
            stored_bytes: 10,
            error: Some("connection reset".into()),
            ..ReadSummary::default()
        };
        let c = checksum_check(&want, &cut);
        assert!(!c.ok && c.detail.contains("connection reset"), "{c:?}");
        assert!(checksum_check(&Ok(None), &cut).ok);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_restore_says_how_far_it_got_every_period() {
        let read = stream::Stats::with_stored(512 << 20);
        let watch = Watch {
            name: "orders-db",
            stats: &read,
            size: 1 << 30,
            started: Instant::now(),
            rto: None,
        };
        let out = crate::output::Captured::new();
        let work = async {
            tokio::time::sleep(PROGRESS_EVERY * 2 + Duration::from_secs(5)).await;
            7
        };
        assert_eq!(with_progress(work, &watch, &out).await, 7);
        let lines = out.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("orders-db: restoring… 512.0 MiB of 1.0 GiB read (50%)")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_progress_line_gives_the_rate_and_what_is_left_against_the_rto() {
        let min = Duration::from_secs(60);
        assert_eq!(
            progress_line("db", 600 << 20, 1800 << 20, min, Some(min * 10)),
            "db: restoring… 600.0 MiB of 1.8 GiB read (33%), 10.0 MiB/s, 1m elapsed, about 2m left (rto 10m)"
        );
        assert_eq!(
            progress_line("db", 60 << 20, 1800 << 20, min, Some(min * 10)),
            "db: restoring… 60.0 MiB of 1.8 GiB read (3%), 1.0 MiB/s, 1m elapsed, about 29m left (rto 10m, past it at this rate)"
        );
        assert_eq!(
            progress_line("db", 0, 100, Duration::from_secs(5), None),
            "db: restoring… 0 B of 100 B read (0%)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_restore_says_nothing_in_between() {
        let out = crate::output::Captured::new();
        let stats = stream::Stats::default();
        let watch = Watch {
            name: "t",
            stats: &stats,
            size: 10,
            started: Instant::now(),
            rto: None,
        };
        let work = tokio::time::sleep(PROGRESS_EVERY - Duration::from_secs(1));
        with_progress(work, &watch, &out).await;
        assert!(out.lines().is_empty());
    }

    #[test]
    fn the_default_unpack_cap_rejected_a_log_compressed_ten_times() {
        // 20.8 MB of application log packed to 2.0 MB used to be "an expansion bomb".
        let cap = default_unpack_cap(2_000_000, None);
        assert!(cap.bytes > 20_800_000, "{cap:?}");
        assert_eq!(cap.bytes, 2_000_000_000);
        assert!(cap.why.contains("1000×"), "{cap:?}");
        assert_eq!(default_unpack_cap(1000, None).bytes, 1 << 20);
    }

    #[test]
    fn the_default_unpack_cap_never_exceeds_the_free_space_less_a_margin() {
        let free = 1u64 << 30;
        let cap = default_unpack_cap(1 << 30, Some(free));
        assert_eq!(cap.bytes, free - (free / 10));
        assert!(cap.why.contains("free space"), "{cap:?}");
        // With room to spare, the ratio decides.
        let cap = default_unpack_cap(1000, Some(free));
        assert_eq!(cap.bytes, 1 << 20);
        assert!(cap.why.contains("1000×"), "{cap:?}");
    }
}
