//! `dr-action plan` arguments.

use clap::Args;

use super::Global;
use crate::commands::plan::Request;

#[derive(Debug, Args)]
pub struct PlanArgs {}

impl PlanArgs {
    pub fn into_request(self, global: &Global) -> Request {
        Request {
            config: global.config.clone(),
        }
    }
}
