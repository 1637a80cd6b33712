//! `dr-action config check` and `dr-action config schema`.

use anyhow::Result;
use clap::Subcommand;

use super::require_config;
use crate::cli::Global;
use crate::config::StorageKind;
use crate::error::Outcome;
use crate::output::Sink;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and summarise it.
    Check,
    /// Print the JSON Schema of the config file.
    Schema,
}

pub fn run(global: &Global, cmd: ConfigCommand, out: &dyn Sink) -> Result<Outcome> {
    match cmd {
        ConfigCommand::Schema => {
            let text = serde_json::to_string_pretty(&crate::config::schema())?;
            out.line(&text);
            Ok(Outcome::ok())
        }
        ConfigCommand::Check => {
            let loaded = require_config(global)?;
            let store = match loaded.storage() {
                StorageKind::Bucket(b) => format!("s3://{b}"),
                StorageKind::Local(p) => format!("local folder {}", p.display()),
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
