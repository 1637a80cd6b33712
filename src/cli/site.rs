//! `dr-action site` arguments.

use std::path::PathBuf;

use clap::Args;

use crate::commands::site::Request;

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The folder to write the pages to (index.html and targets/) [default: site in the
    /// config's folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The repository root whose badges/ holds the KPI state, history and matrix [default: the
    /// config's folder].
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

impl SiteArgs {
    pub fn into_request(self) -> Request {
        Request {
            from: self.from.unwrap_or_else(|| PathBuf::from(".")),
            out: self.out.unwrap_or_else(|| PathBuf::from("site")),
        }
    }
}
