//! Text widths from DejaVu Sans' own advance widths at 11px, and the flat badge geometry:
//! each text gets 5px of padding on both sides, the label box on the left, the message box on
//! the right. Pure.

use std::sync::OnceLock;

use super::FONT;

pub const HEIGHT: u32 = 20;
pub const FONT_SIZE: f32 = 11.0;
pub const PADDING: u32 = 5;

struct Metrics {
    units_per_em: f32,
    /// Advance widths of U+0000..U+00FF, the common case, read once.
    latin: [u16; 256],
    face: ttf_parser::Face<'static>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let face = ttf_parser::Face::parse(FONT, 0).expect("the embedded font parses");
        let mut latin = [0u16; 256];
        for (i, w) in latin.iter_mut().enumerate() {
            *w = advance(&face, char::from(i as u8));
        }
        Metrics {
            units_per_em: f32::from(face.units_per_em()),
            latin,
            face,
        }
    })
}

fn advance(face: &ttf_parser::Face<'_>, c: char) -> u16 {
    let glyph = face.glyph_index(c).or_else(|| face.glyph_index('?'));
    glyph.and_then(|g| face.glyph_hor_advance(g)).unwrap_or(0)
}

/// The width in pixels of `text` set in DejaVu Sans at 11px (without kerning, which only
/// narrows it, so the text always fits).
pub fn text_width(text: &str) -> f32 {
    let m = metrics();
    let units: u32 = text
        .chars()
        .map(|c| match u32::from(c) {
            n @ 0..=255 => u32::from(m.latin[n as usize]),
            _ => u32::from(advance(&m.face, c)),
        })
        .sum();
    units as f32 * FONT_SIZE / m.units_per_em
}

/// Where everything goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    pub label_width: u32,
    pub message_width: u32,
    pub label_text_width: u32,
    pub message_text_width: u32,
}

impl Layout {
    pub fn new(label: &str, message: &str) -> Self {
        let label_text_width = text_width(label).ceil() as u32;
        let message_text_width = text_width(message).ceil() as u32;
        Layout {
            label_width: label_text_width + 2 * PADDING,
            message_width: message_text_width + 2 * PADDING,
            label_text_width,
            message_text_width,
        }
    }

    pub fn width(&self) -> u32 {
        self.label_width + self.message_width
    }

    /// Centre of the label text.
    pub fn label_x(&self) -> f32 {
        self.label_width as f32 / 2.0
    }

    /// Centre of the message text.
    pub fn message_x(&self) -> f32 {
        self.label_width as f32 + self.message_width as f32 / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_come_from_the_font() {
        // DejaVu Sans: 'i' is much narrower than 'W'; widths add up.
        assert!(text_width("W") > 2.0 * text_width("i"));
        let ab = text_width("ab");
        assert!((ab - (text_width("a") + text_width("b"))).abs() < 1e-4);
        assert_eq!(text_width(""), 0.0);
        // Known advance: DejaVu Sans 'a' is 1255 units of 2048 → 6.74px at 11px.
        assert!(
            (text_width("a") - 1255.0 * 11.0 / 2048.0).abs() < 0.01,
            "{}",
            text_width("a")
        );
    }

    #[test]
    fn boxes_pad_each_text_by_five_pixels_each_side() {
        let l = Layout::new("Backup & DR", "green");
        assert_eq!(l.label_width, l.label_text_width + 10);
        assert_eq!(l.message_width, l.message_text_width + 10);
        assert_eq!(l.width(), l.label_width + l.message_width);
        let long = Layout::new("Backup & Disaster Recovery, all regions", "green");
        assert!(long.label_width > l.label_width + 100);
    }

    #[test]
    fn characters_outside_latin_are_measured_too() {
        assert!(text_width("Ω€") > 0.0);
    }
}
