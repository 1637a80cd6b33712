//! `dr-action config` subcommands.

use clap::Subcommand;

use super::Global;
use crate::commands::config::Request;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and summarise it.
    Check,
    /// Print the JSON Schema of the config file.
    Schema,
}

impl ConfigCommand {
    pub fn into_request(self, global: &Global) -> Request {
        match self {
            ConfigCommand::Check => Request::Check {
                config: global.config.clone(),
            },
            ConfigCommand::Schema => Request::Schema,
        }
    }
}
