//! `dr-action kpi`: reads the reports (any JSON object with a boolean `ok`), judges staleness,
//! applies the KPI rule, prints the KPI JSON and writes it. A report file that does not exist
//! counts as "not present"; a file that exists but is not a report is an error (exit 2).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;

use super::optional_config;
use crate::cli::Global;
use crate::config::MaxAge;
use crate::error::Outcome;
use crate::kpi::{self, Inputs, Kpi, MaxAges, Slot};
use crate::output::Sink;
use crate::report::{self, Schedule};
use crate::units::Dur;

#[derive(Debug, Args)]
pub struct KpiArgs {
    /// Weekly report(s) (default: OUT_DIR/dr_dryrun_weekly.json). Several are merged.
    #[arg(long, value_name = "FILE")]
    pub weekly: Vec<PathBuf>,
    /// Monthly report(s) (default: OUT_DIR/dr_dryrun_result.json).
    #[arg(long, value_name = "FILE")]
    pub monthly: Vec<PathBuf>,
    /// Quarterly report(s) (default: OUT_DIR/dr_fullrestore_summary.json).
    #[arg(long, value_name = "FILE")]
    pub quarterly: Vec<PathBuf>,
    /// A previous KPI (e.g. badges/backup_kpi.json) whose slots fill in schedules with no report.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Where to write the KPI (default: OUT_DIR/backup_kpi.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Max age of the weekly report (default: kpi.max-age.weekly, else 8d).
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    pub max_age_weekly: Option<Dur>,
    /// Max age of the monthly report (default 32d).
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    pub max_age_monthly: Option<Dur>,
    /// Max age of the quarterly report (default 93d).
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    pub max_age_quarterly: Option<Dur>,
}

fn parse_dur(s: &str) -> Result<Dur, String> {
    Dur::parse(s)
}

pub fn run(global: &Global, args: KpiArgs, sink: &dyn Sink) -> Result<Outcome> {
    let config_ages = optional_config(global)?
        .map(|l| l.config.kpi.max_age)
        .unwrap_or_default();
    let ages = max_ages(&config_ages, &args);
    let paths = |given: &[PathBuf], s: Schedule| -> Vec<PathBuf> {
        if given.is_empty() {
            vec![global.out_dir.join(s.default_report_name())]
        } else {
            given.to_vec()
        }
    };
    let state = args.state.as_deref().map(read_state).transpose()?.flatten();
    let mut inputs = Inputs {
        weekly: Slot::missing(),
        monthly: Slot::missing(),
        quarterly: Slot::missing(),
        chaos: false,
    };
    for (schedule, given) in [
        (Schedule::Weekly, &args.weekly),
        (Schedule::Monthly, &args.monthly),
        (Schedule::Quarterly, &args.quarterly),
    ] {
        let (slot, chaos) = read_slot(&paths(given, schedule))?;
        let slot = match (slot.present, &state) {
            (false, Some(prev)) => slot_of(prev, schedule).clone(),
            _ => slot,
        };
        inputs.chaos |= chaos;
        *slot_mut(&mut inputs, schedule) = slot;
    }
    let kpi = kpi::compute(inputs, ages, Utc::now());
    let out = args
        .out
        .unwrap_or_else(|| global.out_dir.join("backup_kpi.json"));
    crate::atomic::write_json(&out, &kpi)?;
    sink.line(&serde_json::to_string_pretty(&kpi)?);
    Ok(Outcome::ok())
}

fn max_ages(config: &MaxAge, args: &KpiArgs) -> MaxAges {
    let pick = |flag: &Option<Dur>, cfg: &Dur| flag.as_ref().unwrap_or(cfg).secs();
    MaxAges {
        weekly: pick(&args.max_age_weekly, &config.weekly),
        monthly: pick(&args.max_age_monthly, &config.monthly),
        quarterly: pick(&args.max_age_quarterly, &config.quarterly),
    }
}

/// Reads one schedule's report files into a slot; returns whether any was a chaos drill.
pub fn read_slot(paths: &[PathBuf]) -> Result<(Slot, bool)> {
    let mut views = Vec::new();
    for path in paths {
        match report::read_view(path)? {
            Some(view) => views.push(view),
            None => tracing::warn!("{} does not exist: counted as not present", path.display()),
        }
    }
    Ok(match kpi::merge_views(&views) {
        Some(view) => (Slot::from_view(&view), view.chaos),
        None => (Slot::missing(), false),
    })
}

/// Reads a previous KPI; `None` when the file does not exist.
pub fn read_state(path: &Path) -> Result<Option<Kpi>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{}: not a KPI state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn slot_of(kpi: &Kpi, schedule: Schedule) -> &Slot {
    match schedule {
        Schedule::Weekly => &kpi.weekly,
        Schedule::Monthly => &kpi.monthly,
        Schedule::Quarterly => &kpi.quarterly,
    }
}

pub fn slot_mut(inputs: &mut Inputs, schedule: Schedule) -> &mut Slot {
    match schedule {
        Schedule::Weekly => &mut inputs.weekly,
        Schedule::Monthly => &mut inputs.monthly,
        Schedule::Quarterly => &mut inputs.quarterly,
    }
}
