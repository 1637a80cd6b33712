//! The full restore of a backup set (`set:` on the target): the newest complete set — or the
//! folder `--backup` names — is picked by `checks::set`, then each part is streamed once through
//! the same path as a single backup ([`restore_once`]: hash, decompress, engine), with the engine
//! `set.engines` names for it, else `restore.engine`. A PostgreSQL scratch database is created
//! once, when a part needs it, and dropped at the end. The validations run once, after every
//! part, against all the parts together ([`SetRestored`]): `sql` goes to the part restored into
//! a database, a `command` gets every part's `DR_RESTORE_*` variables.
//!
//! The report: `listing`, `set`, `rpo`, one `part NAME` check per part (the engine's verdict and
//! the part's SHA-256 against the manifest or its sidecar), `restore` (all parts), the
//! `validate[N]`, `cleanup` and `rto` — the RTO counting the whole set — and the same metrics as
//! a single backup, bytes summed over the parts.

use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;

use super::engine::{Cell, Restored};
use super::{
    RestoreContext, RestoreRun, Stop, Stopped, Timings, checksum_check, conclude, deadline,
    not_run, postgres, restore_once, timing_metrics, validate,
};
use crate::checks::set::{self, Part};
use crate::checks::verdicts;
use crate::config::{BackupSet, Restore, RestoreEngine, Target};
use crate::report::{Check, Evidence, TargetReport};
use crate::store::ObjectMeta;
use crate::units;

/// The engine a part is restored with: the one `set.engines` names, else `restore.engine`.
pub fn engine_for(set: &BackupSet, restore: &Restore, part: &str) -> RestoreEngine {
    set.engines.get(part).copied().unwrap_or(restore.engine)
}

fn engine_name(engine: RestoreEngine) -> &'static str {
    match engine {
        RestoreEngine::Postgres => "postgres",
        RestoreEngine::Sqlite => "sqlite",
        RestoreEngine::Files => "files",
        RestoreEngine::Command => "command",
    }
}

/// Every part restored, seen by the validations as one restore.
struct SetRestored<'a> {
    parts: Vec<(RestoreEngine, &'a dyn Restored)>,
}

#[async_trait]
impl Restored for SetRestored<'_> {
    async fn query_first(&self, sql: &str) -> Result<Cell, String> {
        let db = self
            .parts
            .iter()
            .find(|(e, _)| *e == RestoreEngine::Postgres)
            .or_else(|| self.parts.iter().find(|(e, _)| *e == RestoreEngine::Sqlite));
        match db {
            Some((_, r)) => r.query_first(sql).await,
            None => {
                Err("`sql` validations need a part restored with engine postgres or sqlite".into())
            }
        }
    }

    fn command_env(&self) -> Vec<(String, String)> {
        self.parts
            .iter()
            .flat_map(|(_, r)| r.command_env())
            .collect()
    }

    fn secrets(&self) -> Vec<String> {
        self.parts.iter().flat_map(|(_, r)| r.secrets()).collect()
    }
}

/// Restores one set target; called by `restore::check_target` when the target has `set:`.
pub async fn check_target(
    target: &Target,
    set: &BackupSet,
    restore: &Restore,
    prefix: &str,
    ctx: &RestoreContext<'_>,
) -> TargetReport {
    let started = Instant::now();
    let stop = Stop {
        until: deadline(target).map(|d| tokio::time::Instant::from_std(started) + d),
        cancel: ctx.cancel,
    };
    let picked = match stop
        .run(set::pick(ctx.store, target, set, prefix, ctx.backup))
        .await
    {
        Ok(Ok(p)) => p,
        Ok(Err(listing)) => {
            let checks = vec![listing, Check::fail("restore", "no backup set to restore")];
            return TargetReport::new(&target.name, None, checks);
        }
        Err(why) => {
            return super::interrupted(target, None, Vec::new(), why, "the listing", ctx);
        }
    };
    let mut checks = vec![picked.listing, picked.set];
    let Some(chosen) = picked.complete else {
        checks.push(Check::fail("restore", "no complete backup set to restore"));
        return TargetReport::new(&target.name, None, checks);
    };
    let latest = set::latest(&chosen.folder, ctx.now);
    let age = latest.age_seconds;
    let rpo_met = age <= target.rpo.secs();
    checks.push(match ctx.backup {
        Some(_) => Check::pass(
            "rpo",
            format!(
                "the restored set is {} old (rpo {}); --backup chose it, so its age is not held against the rpo",
                units::short_duration(age),
                target.rpo
            ),
        ),
        None => verdicts::rpo("rpo", "the restored set", age, target),
    });

    let engines: Vec<RestoreEngine> = chosen
        .parts
        .iter()
        .map(|p| engine_for(set, restore, &p.name))
        .collect();
    let restore_started = Instant::now();
    let marker = postgres::Marker::new(ctx.run_id, Utc::now(), deadline(target));
    let mut scratch_error = None;
    let scratch = if engines.contains(&RestoreEngine::Postgres) {
        let url = restore
            .database_url_env
            .as_deref()
            .and_then(|v| ctx.secrets.get(v));
        let path = crate::process::var(ctx.inherited, "PATH");
        match postgres::create_scratch(restore, url, &marker, ctx.cancel, path).await {
            Ok((s, stale)) => {
                checks.extend(stale);
                Some(s)
            }
            Err(e) => {
                scratch_error = Some(e);
                None
            }
        }
    } else {
        None
    };

    let mut runs: Vec<(RestoreEngine, RestoreRun)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut stopped: Option<(Stopped, String)> = None;
    let mut timings = Timings::default();
    for (part, engine) in chosen.parts.iter().zip(&engines) {
        let name = set::part_check_name(&part.name);
        let how = engine_name(*engine);
        if let Some((why, at)) = &stopped {
            checks.push(Check::fail(&name, not_run(*why, at, ctx)));
            failed.push(part.name.clone());
            continue;
        }
        if *engine == RestoreEngine::Postgres && scratch.is_none() {
            let why = scratch_error.as_deref().unwrap_or("no scratch database");
            checks.push(Check::fail(&name, format!("{how}: {why}")));
            failed.push(part.name.clone());
            continue;
        }
        let run = stop
            .run(restore_part(target, part, *engine, restore, &scratch, ctx))
            .await;
        match run {
            Err(why) => {
                let at = format!("part {}", part.name);
                checks.push(Check::fail(
                    &name,
                    format!(
                        "{how}: stopped before it finished ({})",
                        stop_reason(why, ctx)
                    ),
                ));
                failed.push(part.name.clone());
                stopped = Some((why, at));
            }
            Ok((check, run)) => {
                if !check.ok {
                    failed.push(part.name.clone());
                }
                timings.stored_bytes += run.read.stored_bytes;
                timings.content_bytes += run.read.content_bytes;
                checks.push(check);
                runs.push((*engine, run));
            }
        }
    }
    let restore_took = restore_started.elapsed();
    timings.download = Some(restore_took);
    timings.restore = Some(restore_took);
    let all_restored = failed.is_empty() && stopped.is_none();
    checks.push(if all_restored {
        let listed: Vec<String> = chosen
            .parts
            .iter()
            .zip(&engines)
            .map(|(p, e)| format!("{} ({})", p.name, engine_name(*e)))
            .collect();
        Check::pass(
            "restore",
            format!(
                "{} of {} restored: {}",
                units::count(listed.len() as u64, "part"),
                chosen.folder.name,
                listed.join(", ")
            ),
        )
    } else {
        Check::fail(
            "restore",
            format!(
                "{} of set {} not restored: {}",
                units::count(failed.len() as u64, "part"),
                chosen.folder.name,
                failed.join(", ")
            ),
        )
    });

    let validate_started = Instant::now();
    let restored = SetRestored {
        parts: runs
            .iter()
            .filter_map(|(e, r)| r.engine.restored.as_deref().map(|x| (*e, x)))
            .collect(),
    };
    for (i, validation) in restore.validate.iter().enumerate() {
        let name = format!("validate[{i}]");
        let check = match (&stopped, all_restored) {
            (Some((why, at)), _) => Check::fail(&name, not_run(*why, at, ctx)),
            (None, false) => Check::fail(&name, "not run: a part of the set was not restored"),
            (None, true) => {
                match stop
                    .run(validate::run(
                        &name,
                        validation,
                        &restored,
                        ctx.base_dir,
                        ctx.inherited,
                    ))
                    .await
                {
                    Ok(check) => check,
                    Err(why) => {
                        let what = validate::shown(validation);
                        stopped = Some((why, name.clone()));
                        Check::fail(&name, format!("{what}: {}", stop_reason(why, ctx)))
                    }
                }
            }
        };
        checks.push(check);
    }
    if stopped.is_none() {
        timings.validate = Some(validate_started.elapsed());
    }
    drop(restored);
    // The engines' temporary folders go now, with nothing left using them.
    drop(runs);
    let total = started.elapsed();
    let rto_met = conclude(scratch.as_ref(), &stopped, total, target, ctx, &mut checks).await;

    let mut report = TargetReport::new(&target.name, Some(latest), checks);
    report.evidence = Evidence {
        uri: Some(ctx.store.uri(&chosen.folder.prefix)),
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
    let metrics = &mut report.metrics;
    metrics.insert("parts".into(), (chosen.parts.len() as u64).into());
    report
}

fn stop_reason(why: Stopped, ctx: &RestoreContext<'_>) -> String {
    match why {
        Stopped::Deadline => "the RTO limit (3× the rto) was reached".into(),
        Stopped::Cancelled => format!("cancelled by {}", ctx.cancel.signal_name()),
    }
}

/// Restores one part with `engine` and judges it: the engine's checks and the part's SHA-256,
/// folded into one `part NAME` check.
async fn restore_part(
    target: &Target,
    part: &Part,
    engine: RestoreEngine,
    restore: &Restore,
    scratch: &Option<postgres::Scratch>,
    ctx: &RestoreContext<'_>,
) -> (Check, RestoreRun) {
    let name = set::part_check_name(&part.name);
    let how = engine_name(engine);
    let expected = part.expected_sha256(ctx.store).await.map(|h| {
        Some((
            h,
            if part.sha256.is_some() {
                "the manifest"
            } else {
                "the sidecar"
            },
        ))
    });
    let meta = part.stored.clone().unwrap_or_else(|| ObjectMeta {
        key: part.key.clone(),
        size: 0,
        last_modified: ctx.now,
    });
    let per_part = Restore {
        engine,
        ..restore.clone()
    };
    // The part restores as its own target (its name in messages, the set's RTO for progress).
    let label = Target {
        name: format!("{} {}", target.name, part.name),
        ..target.clone()
    };
    let run = restore_once(
        &label,
        &per_part,
        &meta,
        scratch.clone(),
        ctx,
        Instant::now(),
    )
    .await;
    let checksum = checksum_check(&expected, &run.read);
    let engine_ok = run.engine.checks.iter().all(|c| c.ok) && run.engine.restored.is_some();
    let said: Vec<String> = run
        .engine
        .checks
        .iter()
        .map(|c| {
            if c.name == "restore" {
                c.detail.clone()
            } else {
                format!("{}: {}", c.name, c.detail)
            }
        })
        .collect();
    let check = Check::new(
        &name,
        engine_ok && checksum.ok,
        format!("{how}: {}; {}", said.join("; "), checksum.detail),
    );
    (check, run)
}
