//! `dr-action kpi`: reads the reports (any JSON object with a boolean `ok`), judges staleness,
//! applies the KPI rule, prints the KPI JSON and writes it. A report file that does not exist
//! counts as "not present"; a file that exists but is not a report is an error (exit 2).

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use crate::config::{self, MaxAge};
use crate::error::Outcome;
use crate::kpi::{self, Inputs, MaxAges, Slot, read_slot, read_state};
use crate::output::Sink;
use crate::report::{PerSchedule, Schedule};
use crate::units::Dur;

/// What `kpi` is asked to do; an empty report list means the schedule's default file.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub weekly: Vec<PathBuf>,
    pub monthly: Vec<PathBuf>,
    pub quarterly: Vec<PathBuf>,
    pub state: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub max_age_weekly: Option<Dur>,
    pub max_age_monthly: Option<Dur>,
    pub max_age_quarterly: Option<Dur>,
}

pub fn run(req: Request, sink: &dyn Sink) -> Result<Outcome> {
    let config_ages = config::load_optional(req.config.as_deref())?
        .map(|l| l.config.kpi.max_age)
        .unwrap_or_default();
    let ages = max_ages(&config_ages, &req);
    let paths = |given: &[PathBuf], s: Schedule| -> Vec<PathBuf> {
        if given.is_empty() {
            vec![req.out_dir.join(s.default_report_name())]
        } else {
            given.to_vec()
        }
    };
    let state = req.state.as_deref().map(read_state).transpose()?.flatten();
    let mut inputs = Inputs {
        slots: PerSchedule::all(Slot::missing()),
        chaos: false,
    };
    for (schedule, given) in [
        (Schedule::Weekly, &req.weekly),
        (Schedule::Monthly, &req.monthly),
        (Schedule::Quarterly, &req.quarterly),
    ] {
        let (slot, chaos) = read_slot(&paths(given, schedule))?;
        let slot = match (slot.present, &state) {
            (false, Some(prev)) => prev.slots[schedule].clone(),
            _ => slot,
        };
        inputs.chaos |= chaos;
        inputs.slots[schedule] = slot;
    }
    let mut kpi = kpi::compute(inputs, ages, Utc::now());
    // The alert state is not recomputed from reports: it is carried over from the state.
    kpi.alerts = state.map(|s| s.alerts).unwrap_or_default();
    let out = req
        .out
        .clone()
        .unwrap_or_else(|| req.out_dir.join("backup_kpi.json"));
    crate::atomic::write_json(&out, &kpi)?;
    sink.line(&serde_json::to_string_pretty(&kpi)?);
    Ok(Outcome::ok())
}

/// The config's max ages (its defaults when there is no config), each overridden by its flag.
fn max_ages(config: &MaxAge, req: &Request) -> MaxAges {
    let flags = PerSchedule {
        weekly: req.max_age_weekly.as_ref(),
        monthly: req.max_age_monthly.as_ref(),
        quarterly: req.max_age_quarterly.as_ref(),
    };
    let mut ages = crate::kpi::max_ages(config);
    for (s, flag) in flags.iter() {
        if let Some(d) = flag {
            ages[s] = d.secs();
        }
    }
    ages
}
