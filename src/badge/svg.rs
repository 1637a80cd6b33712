//! The badge as SVG text. Accessible (`role="img"`, `aria-label`, `<title>`), XML-escaped, and
//! with `textLength` on every text so a viewer without DejaVu Sans still fits it to its box.

use std::fmt::Write;

use super::layout::{HEIGHT, Layout};
use super::{FONT_FAMILY, Style};

pub use crate::markup::escape;

/// `text` without the characters a badge does not show, so it is measured as it is drawn.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| crate::markup::allowed(*c))
        .collect()
}

/// Checks that `svg` is well-formed XML, so a broken picture is never written.
pub fn check_well_formed(svg: &str) -> Result<(), String> {
    resvg::usvg::roxmltree::Document::parse(svg)
        .map(|_| ())
        .map_err(|e| format!("the badge SVG is not well-formed XML: {e}"))
}

/// Renders the badge: `label` on grey, `message` on `color`.
pub fn render(label: &str, message: &str, color: &str, style: Style) -> String {
    let (label, message) = (&printable(label), &printable(message));
    let l = Layout::new(label, message);
    let (w, lw, mw) = (l.width(), l.label_width, l.message_width);
    let title = escape(&format!("{label}: {message}"));
    let (label_x, message_x) = (l.label_x(), l.message_x());
    let (label, message, color) = (escape(label), escape(message), escape(color));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{HEIGHT}" role="img" aria-label="{title}">"#
    );
    let _ = writeln!(s, "<title>{title}</title>");
    let radius = match style {
        Style::Flat => {
            let _ = writeln!(
                s,
                r##"<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##
            );
            3
        }
        Style::FlatSquare => 0,
    };
    let _ = writeln!(
        s,
        r##"<clipPath id="r"><rect width="{w}" height="{HEIGHT}" rx="{radius}" fill="#fff"/></clipPath>"##
    );
    let _ = writeln!(s, r#"<g clip-path="url(#r)">"#);
    let _ = writeln!(s, r##"<rect width="{lw}" height="{HEIGHT}" fill="#555"/>"##);
    let _ = writeln!(
        s,
        r#"<rect x="{lw}" width="{mw}" height="{HEIGHT}" fill="{color}"/>"#
    );
    if style == Style::Flat {
        let _ = writeln!(s, r#"<rect width="{w}" height="{HEIGHT}" fill="url(#s)"/>"#);
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(
        s,
        r##"<g fill="#fff" text-anchor="middle" font-family="{FONT_FAMILY},Verdana,Geneva,sans-serif" font-size="11">"##
    );
    for (x, text, len) in [
        (label_x, &label, l.label_text_width),
        (message_x, &message, l.message_text_width),
    ] {
        if style == Style::Flat {
            let _ = writeln!(
                s,
                r##"<text x="{x}" y="15" fill="#010101" fill-opacity=".3" textLength="{len}">{text}</text>"##
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="14" textLength="{len}">{text}</text>"#
        );
    }
    let _ = writeln!(s, "</g>");
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml_in_label_title_and_aria() {
        let svg = render("a<b>&\"c'", "green", "#4c1", Style::Flat);
        assert!(
            svg.contains(r#"aria-label="a&lt;b&gt;&amp;&quot;c&#39;: green""#),
            "{svg}"
        );
        assert!(svg.contains("<title>a&lt;b&gt;&amp;&quot;c&#39;: green</title>"));
        assert!(!svg.contains("a<b>"));
        // The result is well-formed XML.
        assert!(resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).is_ok());
    }

    #[test]
    fn flat_square_has_no_rounding_and_no_gradient() {
        let svg = render("Backup & DR", "red", "#e05d44", Style::FlatSquare);
        assert!(svg.contains(r#"rx="0""#));
        assert!(!svg.contains("linearGradient"));
        let svg = render("Backup & DR", "red", "#e05d44", Style::Flat);
        assert!(svg.contains(r#"rx="3""#));
    }

    #[test]
    fn the_default_badge_is_stable() {
        insta::assert_snapshot!(render("Backup & DR", "green", "#4c1", Style::Flat));
    }

    #[test]
    fn characters_xml_forbids_are_dropped_from_the_badge() {
        for label in [
            "Backup\u{ffff}",
            "Backup\u{fffe}",
            "Back\u{1}up\u{1b}",
            "Backup\u{FDD0}",
        ] {
            let svg = render(label, "ok\u{0}", "#4c1", Style::Flat);
            check_well_formed(&svg).unwrap_or_else(|e| panic!("{label:?}: {e}\n{svg}"));
            assert!(
                svg.contains("<title>Backup: ok</title>"),
                "{label:?}: {svg}"
            );
            // Measured as drawn: the same width as the clean label.
            assert_eq!(
                svg,
                render("Backup", "ok", "#4c1", Style::Flat),
                "{label:?}"
            );
        }
        assert!(check_well_formed("<svg>\u{ffff}</svg>").is_err());
    }
}
