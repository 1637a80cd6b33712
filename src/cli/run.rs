//! `dr-action run` arguments.

use std::path::PathBuf;

use clap::Args;

use super::{Global, ScheduleArg};
use crate::checks::CheckRequest;
use crate::commands::run::Request;
use crate::env::Env;
use crate::formats::RunFiles;
use crate::report::Schedule;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which schedule: weekly, monthly or quarterly (its default mode).
    #[arg(long, value_enum)]
    pub schedule: ScheduleArg,
    /// A chaos drill: fail on purpose to prove alerting works (also DR_CHAOS=true). Never
    /// changes the KPI state or the committed badge; its report and KPI go to OUT_DIR/chaos/.
    #[arg(long)]
    pub chaos: bool,
    /// Also write the results as JUnit XML (a test case per check of each target).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the figures as OpenMetrics text (for node-exporter's textfile collector).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

impl RunArgs {
    pub fn into_request(self, global: &Global, env: &Env) -> Request {
        let schedule = Schedule::from(self.schedule);
        let chaos = self.chaos || env.chaos;
        // A drill's report and KPI go beside the real ones, never over them.
        let out_dir = if chaos {
            global.out_dir.join("chaos")
        } else {
            global.out_dir.clone()
        };
        let mut check =
            CheckRequest::for_schedule(schedule, out_dir.join(schedule.default_report_name()));
        check.chaos = chaos;
        Request {
            config: global.config.clone(),
            out_dir,
            check,
            files: RunFiles {
                junit: self.junit,
                metrics: self.metrics,
            },
        }
    }
}
