//! `dr-action demo`: builds the sample store, then runs what a scheduled workflow would —
//! weekly and monthly checks, the quarterly full restore (into SQLite), the KPI, the badge and
//! the trend picture — says where each file went, and ends with what to try next.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use crate::badge::{self, Style};
use crate::checks::{self, CheckRequest};
use crate::config;
use crate::env::Env;
use crate::error::Outcome;
use crate::kpi::{self, Inputs, Slot};
use crate::output::Sink;
use crate::report::{PerSchedule, Schedule};
use crate::site::trend;
use crate::summary::verdict_line;

/// What `demo` is asked to do.
#[derive(Debug)]
pub struct Request {
    /// The folder to build the demo in.
    pub dir: PathBuf,
}

pub async fn run(args: Request, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let started = std::time::Instant::now();
    // Everything is written into a hidden sibling folder that replaces `args.dir` when whole.
    let staging = crate::demo::begin(&args.dir)?;
    let work = staging.path().to_path_buf();
    let built = crate::demo::build(&work, Utc::now())?;
    let loaded = config::load(&built.config)?;
    let out_dir = work.join("out");
    // Paths are shown where they will be once the demo is in place.
    let shown = |p: &std::path::Path| args.dir.join(p.strip_prefix(&work).unwrap_or(p));
    out.line(&format!(
        "demo store: {} daily backups of a SQLite database in {} (newest {})",
        built.backups,
        args.dir.join("backups").display(),
        built.newest_key
    ));
    let mut slots = Inputs {
        slots: PerSchedule::all(Slot::missing()),
        chaos: false,
    };
    let max_ages = crate::kpi::max_ages(&loaded.config.kpi.max_age);
    let mut all_ok = true;
    // The history a scheduled workflow would keep: one chained line per run, with the KPI as
    // it stood after that run (the trend picture colours each run by it).
    let mut entries = Vec::new();
    // What the monthly run proved and the quarterly restored, backup by backup, as `run` keeps it.
    let mut ledger = None;
    for schedule in Schedule::ALL {
        let mut request =
            CheckRequest::for_schedule(schedule, out_dir.join(schedule.default_report_name()));
        request.run = env.run.clone();
        let report = checks::execute(&loaded, &request, env, out).await?;
        crate::atomic::write_json(&request.out, &report)?;
        out.line(&verdict_line(&report, &shown(&request.out)));
        all_ok &= report.ok;
        ledger = crate::state::ledger_after(&loaded, ledger.as_ref(), &report);
        slots.slots[schedule] = Slot::from_view(&crate::report::ReportView::from(&report));
        let so_far = kpi::compute(slots.clone(), max_ages, Utc::now());
        let sha = crate::history::sha256_hex(&std::fs::read(&request.out)?);
        entries.push(crate::history::entry_of(
            &loaded,
            &report,
            &sha,
            so_far.status,
            env.operator(),
        ));
    }
    let kpi = kpi::compute(slots, max_ages, Utc::now());
    let kpi_path = out_dir.join("backup_kpi.json");
    crate::atomic::write_json(&kpi_path, &kpi)?;
    out.line(&format!(
        "kpi: {} — {}",
        kpi.status,
        shown(&kpi_path).display()
    ));
    let badge_dir = work.join("badges");
    let rendered = badge::render_files(
        kpi.status,
        &loaded.config.badge.label,
        None,
        Style::Flat,
        badge::Targets {
            svg: &badge_dir.join("backup_status.svg"),
            png: Some(&badge_dir.join("backup_status.png")),
            endpoint: Some(&badge_dir.join("backup_status.json")),
        },
    )?;
    out.line(&format!(
        "badge: {} (png {})",
        shown(&rendered.svg).display(),
        rendered
            .png
            .map(|p| shown(&p).display().to_string())
            .unwrap_or_default()
    ));
    let runs: Vec<_> = entries.iter().map(|e| e.run.clone()).collect();
    let trend_path = badge_dir.join("backup_trend.svg");
    crate::atomic::write(&trend_path, trend::render(&runs).as_bytes())?;
    out.line(&format!("trend: {}", shown(&trend_path).display()));
    let now = Utc::now();
    let history = crate::history::append_all("", &entries, now)
        .map_err(|b| anyhow::anyhow!("the demo's history: {b}"))?;
    let matrix = crate::matrix::build(
        &loaded.config.targets,
        &entries,
        now,
        loaded.config.kpi.min_health,
    );
    let mut kept = kpi.clone();
    kept.history_head = crate::history::head_of(&history);
    crate::atomic::write(&work.join(crate::state::HISTORY_PATH), history.as_bytes())?;
    crate::atomic::write_json(&work.join(crate::state::MATRIX_PATH), &matrix)?;
    crate::atomic::write_json(&work.join(crate::state::STATE_PATH), &kept)?;
    if let Some(ledger) = &ledger {
        let path = work.join(crate::state::LEDGER_PATH);
        crate::atomic::write(&path, ledger.to_text().as_bytes())?;
        let proofs: usize = ledger.targets.values().map(|p| p.len()).sum();
        out.line(&format!(
            "ledger: {} — {}",
            crate::units::count(proofs as u64, "proven backup"),
            shown(&path).display()
        ));
    }
    let site_dir = work.join("site");
    let site_started = std::time::Instant::now();
    crate::state::write_site(&site_dir, Some(&kept), &history, Some(&matrix), None, now)?;
    out.line(&format!(
        "status page: {} (rendered in {:.2}s; open it in a browser)",
        shown(&site_dir.join("index.html")).display(),
        site_started.elapsed().as_secs_f64()
    ));
    out.line(&format!("config: {}", shown(&built.config).display()));
    staging.commit()?;
    env.workflow.set_outputs(&[
        ("status", kpi.status.as_str().to_string()),
        ("ok", all_ok.to_string()),
        (
            "report",
            shown(&out_dir.join(Schedule::Weekly.default_report_name()))
                .display()
                .to_string(),
        ),
        ("kpi", shown(&kpi_path).display().to_string()),
        ("badge-changed", "false".to_string()),
    ])?;
    out.line(&format!("done in {:.1}s", started.elapsed().as_secs_f64()));
    out.lines(&what_next(&args.dir, &built.newest_key));
    Ok(Outcome::checked(all_ok))
}

/// The closing lines: how to see a check fail, and how to put the action in a repository.
fn what_next(dir: &std::path::Path, newest_key: &str) -> Vec<String> {
    let config = dir.join("dr.yml");
    let newest = dir.join("backups").join(newest_key);
    vec![
        String::new(),
        "what next:".to_string(),
        format!(
            "  see a check fail: corrupt the newest backup (`printf x >> {}`), then run `dr-action --config {} check --schedule monthly`: it exits 1 and names the failed checksum; run the demo again to reset it",
            newest.display(),
            config.display()
        ),
        format!(
            "  add it to a repository: copy {} to .github/dr.yml and point `storage:` at your backups, copy the files of workflows/ to .github/workflows/, and `dr-action config check` it (README: \"Use it in GitHub Actions\")",
            config.display()
        ),
    ]
}
