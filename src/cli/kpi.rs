//! `dr-action kpi` arguments.

use std::path::PathBuf;

use clap::Args;

use super::Global;
use crate::commands::kpi::Request;
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

impl KpiArgs {
    pub fn into_request(self, global: &Global) -> Request {
        Request {
            config: global.config.clone(),
            out_dir: global.out_dir.clone(),
            weekly: self.weekly,
            monthly: self.monthly,
            quarterly: self.quarterly,
            state: self.state,
            out: self.out,
            max_age_weekly: self.max_age_weekly,
            max_age_monthly: self.max_age_monthly,
            max_age_quarterly: self.max_age_quarterly,
        }
    }
}
