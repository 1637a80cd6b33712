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
    /// changes the KPI state or the committed badge.
    #[arg(long)]
    pub chaos: bool,
}

impl RunArgs {
    pub fn into_request(self, global: &Global, env: &Env) -> Request {
        let schedule = Schedule::from(self.schedule);
        let mut check = CheckRequest::for_schedule(
            schedule,
            global.out_dir.join(schedule.default_report_name()),
        );
        check.chaos = self.chaos || env.chaos;
        Request {
            config: global.config.clone(),
            out_dir: global.out_dir.clone(),
            check,
        }
    }
}
