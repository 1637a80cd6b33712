//! The status badge: shields.io "flat" geometry with text widths from the metrics of an
//! embedded open font (DejaVu Sans), so any label fits its box exactly. [`layout`] measures,
//! [`svg`] writes the SVG, [`png`] renders it with resvg, and [`endpoint_json`] writes the
//! shields endpoint file.

pub mod layout;
pub mod png;
pub mod svg;

use serde::Serialize;

use crate::kpi::KpiStatus;

/// DejaVu Sans (Bitstream Vera license, see `assets/DejaVuSans.LICENSE`).
pub static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub const FONT_FAMILY: &str = "DejaVu Sans";

pub use crate::limits::{MAX_TEXT_CHARS, check_text};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    #[default]
    Flat,
    FlatSquare,
}

/// The colour of each status (shields' brightgreen, yellow and red).
pub fn color_of(status: KpiStatus) -> &'static str {
    match status {
        KpiStatus::Green => "#4c1",
        KpiStatus::Amber => "#dfb317",
        KpiStatus::Red => "#e05d44",
    }
}

/// The shields named colour of each status, for the endpoint file.
fn shields_color_of(status: KpiStatus) -> &'static str {
    match status {
        KpiStatus::Green => "brightgreen",
        KpiStatus::Amber => "yellow",
        KpiStatus::Red => "red",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint<'a> {
    schema_version: u32,
    label: &'a str,
    message: &'a str,
    color: &'a str,
}

/// A shields.io endpoint file (`{"schemaVersion":1,"label":…,"message":…,"color":…}`).
pub fn endpoint_json(label: &str, message: &str, status: KpiStatus) -> String {
    let e = Endpoint {
        schema_version: 1,
        label,
        message,
        color: shields_color_of(status),
    };
    let mut text = serde_json::to_string_pretty(&e).expect("endpoint serialises");
    text.push('\n');
    text
}

/// Reads the status from a KPI file.
pub fn read_status(path: &std::path::Path) -> anyhow::Result<KpiStatus> {
    use anyhow::Context;
    #[derive(serde::Deserialize)]
    struct StatusOnly {
        status: KpiStatus,
    }
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
    pub svg: std::path::PathBuf,
    pub png: Option<std::path::PathBuf>,
    pub endpoint: Option<std::path::PathBuf>,
}

/// Where to write the badge files: the SVG, and optionally the PNG and the endpoint JSON.
pub struct Targets<'a> {
    pub svg: &'a std::path::Path,
    pub png: Option<&'a std::path::Path>,
    pub endpoint: Option<&'a std::path::Path>,
}

/// Renders and writes the badge files.
pub fn render_files(
    status: KpiStatus,
    label: &str,
    message: Option<&str>,
    style: Style,
    to: Targets<'_>,
) -> anyhow::Result<Rendered> {
    let message = message.unwrap_or(status.as_str());
    check_text(label).map_err(|e| anyhow::anyhow!("the badge label {e}"))?;
    check_text(message).map_err(|e| anyhow::anyhow!("the badge message {e}"))?;
    let svg = svg::render(label, message, color_of(status), style);
    svg::check_well_formed(&svg).map_err(anyhow::Error::msg)?;
    crate::atomic::write(to.svg, svg.as_bytes())?;
    if let Some(p) = to.png {
        crate::atomic::write(p, &png::render_png(&svg)?)?;
    }
    if let Some(p) = to.endpoint {
        crate::atomic::write(p, endpoint_json(label, message, status).as_bytes())?;
    }
    Ok(Rendered {
        svg: to.svg.to_path_buf(),
        png: to.png.map(std::path::Path::to_path_buf),
        endpoint: to.endpoint.map(std::path::Path::to_path_buf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_file_has_the_shields_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&endpoint_json("Backup & DR", "amber", KpiStatus::Amber)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"schemaVersion": 1, "label": "Backup & DR", "message": "amber", "color": "yellow"})
        );
    }
}
