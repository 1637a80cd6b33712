//! `dr-action site` arguments.

use std::path::PathBuf;

use clap::Args;

use crate::commands::site::Request;

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The folder to write the pages to (index.html and targets/).
    #[arg(long, value_name = "DIR", default_value = "site")]
    pub out: PathBuf,
    /// The repository root whose badges/ holds the KPI state, history and matrix.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub from: PathBuf,
}

impl SiteArgs {
    pub fn into_request(self) -> Request {
        Request {
            from: self.from,
            out: self.out,
        }
    }
}
