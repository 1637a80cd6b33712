//! `dr-action notify` arguments.

use std::path::PathBuf;

use clap::Args;

use super::Global;
use crate::commands::notify::Request;

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The report `check` wrote.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// The KPI, to mention its status; its alert state (what each channel was told) is read
    /// and updated.
    #[arg(long, value_name = "FILE")]
    pub kpi: Option<PathBuf>,
}

impl NotifyArgs {
    pub fn into_request(self, global: &Global) -> Request {
        Request {
            config: global.config.clone(),
            report: self.report,
            kpi: self.kpi,
        }
    }
}
