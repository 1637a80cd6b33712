//! `dr-action config check` and `dr-action config schema`.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::{self, StorageKind};
use crate::error::Outcome;
use crate::output::Sink;

/// What `config` is asked to do.
#[derive(Debug)]
pub enum Request {
    /// Validate the config (`--config`, else the default paths) and summarise it.
    Check { config: Option<PathBuf> },
    /// Print the JSON Schema.
    Schema,
}

pub fn run(req: Request, out: &dyn Sink) -> Result<Outcome> {
    match req {
        Request::Schema => {
            let text = serde_json::to_string_pretty(&config::schema())?;
            out.line(&text);
            Ok(Outcome::ok())
        }
        Request::Check { config } => {
            let loaded = config::load_required(config.as_deref())?;
            let store = match loaded.storage() {
                StorageKind::Bucket(b) => format!("s3://{b}"),
                StorageKind::Local(p) => format!("local folder {}", p.display()),
                StorageKind::Azure(a) => {
                    format!("Azure container {} of account {}", a.container, a.account)
                }
            };
            let names: Vec<&str> = loaded
                .config
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            out.line(&format!(
                "{}: ok — {} target(s) ({}) in {store}",
                loaded.path.display(),
                names.len(),
                names.join(", ")
            ));
            Ok(Outcome::ok())
        }
    }
}
