//! `dr-action history` subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::commands::history::VerifyRequest;

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Check the hash chain of the run history and name the first line that breaks it
    /// (exit 1 when it is broken or not chained yet).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The history file.
    #[arg(long, value_name = "FILE", default_value = crate::state::HISTORY_PATH)]
    pub file: PathBuf,
    /// A KPI state committed with the history (badges/backup_kpi.json): also check that the
    /// history ends at the line it records, so a history cut short shows.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

impl VerifyArgs {
    pub fn into_request(self) -> VerifyRequest {
        VerifyRequest {
            file: self.file,
            state: self.state,
        }
    }
}
