//! `dr-action badge` arguments.

use std::path::PathBuf;

use clap::Args;

use super::{Global, StyleArg};
use crate::commands::badge::Request;

#[derive(Debug, Args)]
pub struct BadgeArgs {
    /// The KPI file (default: OUT_DIR/backup_kpi.json).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The SVG to write (default: badge.path from the config, else badges/backup_status.svg).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write a PNG (rendered at 2x).
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Also write a shields.io endpoint JSON.
    #[arg(long, value_name = "FILE")]
    pub endpoint_json: Option<PathBuf>,
    /// The label (default: badge.label from the config, else "Backup & DR").
    #[arg(long)]
    pub label: Option<String>,
    /// The message (default: the status word).
    #[arg(long)]
    pub message: Option<String>,
    #[arg(long, value_enum, default_value = "flat")]
    pub style: StyleArg,
}

impl BadgeArgs {
    pub fn into_request(self, global: &Global) -> Request {
        Request {
            config: global.config.clone(),
            input: self
                .input
                .unwrap_or_else(|| global.out_dir.join("backup_kpi.json")),
            out: self.out,
            png: self.png,
            endpoint_json: self.endpoint_json,
            label: self.label,
            message: self.message,
            style: self.style.into(),
        }
    }
}
