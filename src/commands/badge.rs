//! `dr-action badge`: renders the SVG badge (and optionally the PNG and the shields endpoint
//! file) from a KPI file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use super::optional_config;
use crate::badge::{self, Style};
use crate::cli::Global;
use crate::error::Outcome;
use crate::kpi::KpiStatus;
use crate::output::Sink;

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
    pub style: Style,
}

#[derive(Deserialize)]
struct StatusOnly {
    status: KpiStatus,
}

/// Reads the status from a KPI file.
pub fn read_status(path: &Path) -> Result<KpiStatus> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading KPI {}", path.display()))?;
    let kpi: StatusOnly = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a KPI file (needs \"status\": green, amber or red)",
            path.display()
        )
    })?;
    Ok(kpi.status)
}

/// The files a badge render produced.
pub struct Rendered {
    pub svg: PathBuf,
    pub png: Option<PathBuf>,
    pub endpoint: Option<PathBuf>,
}

/// Renders and writes the badge files.
pub fn render_files(
    status: KpiStatus,
    label: &str,
    message: Option<&str>,
    style: Style,
    svg_path: &Path,
    png_path: Option<&Path>,
    endpoint_path: Option<&Path>,
) -> Result<Rendered> {
    let message = message.unwrap_or(status.as_str());
    badge::check_text(label).map_err(|e| anyhow::anyhow!("the badge label {e}"))?;
    badge::check_text(message).map_err(|e| anyhow::anyhow!("the badge message {e}"))?;
    let svg = badge::svg::render(label, message, badge::color_of(status), style);
    badge::svg::check_well_formed(&svg).map_err(anyhow::Error::msg)?;
    crate::atomic::write(svg_path, svg.as_bytes())?;
    if let Some(p) = png_path {
        crate::atomic::write(p, &badge::png::render_png(&svg)?)?;
    }
    if let Some(p) = endpoint_path {
        crate::atomic::write(p, badge::endpoint_json(label, message, status).as_bytes())?;
    }
    Ok(Rendered {
        svg: svg_path.to_path_buf(),
        png: png_path.map(Path::to_path_buf),
        endpoint: endpoint_path.map(Path::to_path_buf),
    })
}

pub fn run(global: &Global, args: BadgeArgs, sink: &dyn Sink) -> Result<Outcome> {
    // Checked before anything is read, so a bad flag is the error a user sees.
    for (flag, text) in [("--label", &args.label), ("--message", &args.message)] {
        if let Some(text) = text {
            badge::check_text(text).map_err(|e| anyhow::anyhow!("{flag} {e}"))?;
        }
    }
    let config = optional_config(global)?;
    let input = args
        .input
        .unwrap_or_else(|| global.out_dir.join("backup_kpi.json"));
    let status = read_status(&input)?;
    let badge_cfg = config
        .as_ref()
        .map(|c| c.config.badge.clone())
        .unwrap_or_default();
    let out = args.out.unwrap_or(badge_cfg.path);
    let label = args.label.unwrap_or(badge_cfg.label);
    let r = render_files(
        status,
        &label,
        args.message.as_deref(),
        args.style,
        &out,
        args.png.as_deref(),
        args.endpoint_json.as_deref(),
    )?;
    sink.line(&format!("badge {status}: {}", r.svg.display()));
    if let Some(p) = r.png {
        sink.line(&format!("png: {}", p.display()));
    }
    if let Some(p) = r.endpoint {
        sink.line(&format!("endpoint: {}", p.display()));
    }
    Ok(Outcome::ok())
}
