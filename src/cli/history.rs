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
    /// The history file [default: badges/dr_history.jsonl in the config's folder].
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A KPI state committed with the history (badges/backup_kpi.json): also check that the
    /// history ends at the line it records, so a history cut short shows.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

impl VerifyArgs {
    pub fn into_request(self) -> VerifyRequest {
        VerifyRequest {
            file: self
                .file
                .unwrap_or_else(|| PathBuf::from(crate::state::HISTORY_PATH)),
            state: self.state,
        }
    }
}
