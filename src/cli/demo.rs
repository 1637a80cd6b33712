//! `dr-action demo` arguments.

use std::path::PathBuf;

use clap::Args;

use crate::commands::demo::Request;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder to build the demo in (created; a previous demo there is replaced).
    #[arg(long, default_value = "dr-demo")]
    pub dir: PathBuf,
}

impl DemoArgs {
    pub fn into_request(self) -> Request {
        Request { dir: self.dir }
    }
}
