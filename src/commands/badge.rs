//! `dr-action badge`: renders the SVG badge (and optionally the PNG and the shields endpoint
//! file) from a KPI file.

use std::path::PathBuf;

use anyhow::Result;

use crate::badge::{self, Style};
use crate::config;
use crate::error::Outcome;
use crate::output::Sink;

/// What `badge` is asked to render; `None` means the config's value, else the default.
#[derive(Debug)]
pub struct Request {
    pub config: Option<PathBuf>,
    /// The KPI file.
    pub input: PathBuf,
    pub out: Option<PathBuf>,
    pub png: Option<PathBuf>,
    pub endpoint_json: Option<PathBuf>,
    pub label: Option<String>,
    pub message: Option<String>,
    pub style: Style,
}

pub fn run(req: Request, sink: &dyn Sink) -> Result<Outcome> {
    // Checked before anything is read, so a bad flag is the error a user sees.
    for (flag, text) in [("--label", &req.label), ("--message", &req.message)] {
        if let Some(text) = text {
            badge::check_text(text).map_err(|e| anyhow::anyhow!("{flag} {e}"))?;
        }
    }
    let config = config::load_optional(req.config.as_deref())?;
    let status = badge::read_status(&req.input)?;
    let badge_cfg = config
        .as_ref()
        .map(|c| c.config.badge.clone())
        .unwrap_or_default();
    let out = req.out.unwrap_or(badge_cfg.path);
    let label = req.label.unwrap_or(badge_cfg.label);
    let r = badge::render_files(
        status,
        &label,
        req.message.as_deref(),
        req.style,
        badge::Targets {
            svg: &out,
            png: req.png.as_deref(),
            endpoint: req.endpoint_json.as_deref(),
        },
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
