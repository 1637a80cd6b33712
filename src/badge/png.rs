//! Rendering the SVG with resvg, using the embedded font so the picture is the same on every
//! machine.

use std::sync::Arc;

use anyhow::{Context, Result};
use resvg::{tiny_skia, usvg};

use super::{FONT, FONT_FAMILY};

fn options() -> usvg::Options<'static> {
    let mut opt = usvg::Options::default();
    let db = Arc::make_mut(&mut opt.fontdb);
    db.load_font_data(FONT.to_vec());
    db.set_sans_serif_family(FONT_FAMILY);
    opt
}

/// Rasterises `svg` at `scale` (2.0 for the committed PNG).
pub fn render_pixmap(svg: &str, scale: f32) -> Result<tiny_skia::Pixmap> {
    let tree = usvg::Tree::from_str(svg, &options()).context("parsing the badge SVG")?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .context("badge size overflows")?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .context("allocating the badge image")?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap)
}

/// The badge as PNG bytes at 2x.
pub fn render_png(svg: &str) -> Result<Vec<u8>> {
    render_pixmap(svg, 2.0)?
        .encode_png()
        .context("encoding the badge PNG")
}

#[cfg(test)]
mod tests {
    use super::super::layout::Layout;
    use super::super::{Style, svg};
    use super::*;

    fn rgb(p: &tiny_skia::Pixmap, x: u32, y: u32) -> (u8, u8, u8) {
        let c = p.pixel(x, y).unwrap().demultiply();
        (c.red(), c.green(), c.blue())
    }

    fn close(a: (u8, u8, u8), b: (u8, u8, u8)) -> bool {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
        d(a.0, b.0) <= 12 && d(a.1, b.1) <= 12 && d(a.2, b.2) <= 12
    }

    /// Columns in `[from, to)` where the text (white-ish on the box colour) has pixels.
    fn text_columns(p: &tiny_skia::Pixmap, from: u32, to: u32) -> Vec<u32> {
        (from..to)
            .filter(|&x| {
                (4..16).any(|y| {
                    let (r, g, b) = rgb(p, x, y);
                    r > 200 && g > 200 && b > 200
                })
            })
            .collect()
    }

    #[test]
    fn each_box_has_its_colour() {
        for (status_color, want) in [
            ("#4c1", (0x44, 0xcc, 0x11)),
            ("#dfb317", (0xdf, 0xb3, 0x17)),
            ("#e05d44", (0xe0, 0x5d, 0x44)),
        ] {
            let text = svg::render("Backup & DR", "green", status_color, Style::FlatSquare);
            let l = Layout::new("Backup & DR", "green");
            let p = render_pixmap(&text, 1.0).unwrap();
            assert_eq!(p.width(), l.width());
            assert_eq!(p.height(), 20);
            // Padding columns hold no text: the box colour shows pure.
            assert!(
                close(rgb(&p, 2, 10), (0x55, 0x55, 0x55)),
                "{:?}",
                rgb(&p, 2, 10)
            );
            assert!(close(rgb(&p, l.label_width - 2, 10), (0x55, 0x55, 0x55)));
            assert!(
                close(rgb(&p, l.label_width + 2, 10), want),
                "{:?}",
                rgb(&p, l.label_width + 2, 10)
            );
            assert!(close(rgb(&p, l.width() - 2, 10), want));
        }
    }

    #[test]
    fn a_long_label_widens_the_badge_and_stays_inside_its_box() {
        let label = "Backup & Disaster Recovery — every region, every night";
        let text = svg::render(label, "amber", "#dfb317", Style::Flat);
        let l = Layout::new(label, "amber");
        let short = Layout::new("DR", "amber");
        assert!(l.width() > short.width() + 200);
        let p = render_pixmap(&text, 1.0).unwrap();
        let label_cols = text_columns(&p, 0, l.label_width);
        assert!(!label_cols.is_empty(), "the label was drawn");
        let (first, last) = (label_cols[0], *label_cols.last().unwrap());
        assert!(
            first >= 3 && last <= l.label_width - 3,
            "label text spans {first}..{last} in a box of {}",
            l.label_width
        );
        // The text fills its box: no gap of more than a few pixels at either end.
        assert!(
            first <= 8 && last + 8 >= l.label_width,
            "label text spans {first}..{last} in a box of {}",
            l.label_width
        );
        let msg_cols = text_columns(&p, l.label_width, l.width());
        assert!(!msg_cols.is_empty());
        assert!(msg_cols[0] >= l.label_width + 3 && *msg_cols.last().unwrap() <= l.width() - 3);
    }

    #[test]
    fn png_is_rendered_at_twice_the_size() {
        let text = svg::render("Backup & DR", "red", "#e05d44", Style::Flat);
        let png = render_png(&text).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let p = tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!(p.height(), 40);
        assert_eq!(p.width(), 2 * Layout::new("Backup & DR", "red").width());
    }
}
