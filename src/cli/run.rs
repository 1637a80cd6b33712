//! `dr-action run` arguments.

use clap::Args;

use super::{Global, ScheduleArg};
use crate::checks::CheckRequest;
use crate::commands::run::Request;
use crate::env::Env;
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
    #[command(flatten)]
    pub files: super::ResultFileArgs,
}

impl RunArgs {
    pub fn into_request(self, global: &Global, env: &Env) -> Request {
        let schedule = Schedule::from(self.schedule);
        let chaos = self.chaos || env.chaos;
        let out_dir = super::out_dir_for(global, chaos);
        let mut check =
            CheckRequest::for_schedule(schedule, out_dir.join(schedule.default_report_name()));
        check.chaos = chaos;
        Request {
            config: global.config.clone(),
            out_dir,
            check,
            files: self.files.into_files(),
        }
    }
}
