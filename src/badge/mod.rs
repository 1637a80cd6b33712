//! The status badge: shields.io "flat" geometry with text widths from the metrics of an
//! embedded open font (DejaVu Sans), so any label fits its box exactly. [`layout`] measures,
//! [`svg`] writes the SVG, [`png`] renders it with resvg, and [`endpoint_json`] writes the
//! shields endpoint file.

pub mod layout;
pub mod png;
pub mod svg;
pub mod trend;

use serde::Serialize;

use crate::kpi::KpiStatus;

/// DejaVu Sans (Bitstream Vera license, see `assets/DejaVuSans.LICENSE`).
pub static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// The longest label or message a badge takes, in characters. A badge is a few words; text
/// far longer makes an unreadable picture and costs seconds to render.
pub const MAX_TEXT_CHARS: usize = 200;

/// Refuses a label or message longer than [`MAX_TEXT_CHARS`]; the error reads after the name
/// of what was given (`--label is 10000 characters; at most 200`).
pub fn check_text(text: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(format!("is {n} characters; at most {MAX_TEXT_CHARS}"));
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
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
