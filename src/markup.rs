//! Escaping text for XML and HTML: the badge and trend SVG, the status page and the alert
//! e-mail's HTML part all put untrusted text (target names, check details from a backup's
//! listing) into markup through [`escape`], the one escaper for markup.
//!
//! The other escapers in the tree are for other languages: workflow commands
//! (`actions::escape_data`, `escape_property`) and OpenMetrics label values.

/// Escapes `text` for XML/HTML content and attribute values. The five markup characters become
/// references (`&#39;` for the apostrophe: HTML 4 mail readers do not know `&apos;`); newlines and
/// tabs stay; characters XML 1.0 forbids (other control characters, U+FFFE/U+FFFF and the other
/// noncharacters) are dropped, so the result is always well-formed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if !allowed(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A character XML 1.0 allows and a reader can see: not a control character and not a
/// noncharacter.
pub fn allowed(c: char) -> bool {
    let noncharacter = (u32::from(c) & 0xFFFE) == 0xFFFE || ('\u{FDD0}'..='\u{FDEF}').contains(&c);
    !c.is_control() && !noncharacter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_markup_characters_become_references() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&#39;");
    }

    #[test]
    fn control_characters_and_noncharacters_are_dropped_but_lines_stay() {
        assert_eq!(escape("a\u{0}b\u{1b}[31mc\u{FFFE}\u{FDD0}d"), "ab[31mcd");
        assert_eq!(escape("line 1\n\tline 2"), "line 1\n\tline 2");
    }

    #[test]
    fn the_result_parses_as_xml_whatever_the_input() {
        let hostile: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let doc = format!("<t a=\"{0}\">{0}</t>", escape(&hostile));
        assert!(resvg::usvg::roxmltree::Document::parse(&doc).is_ok());
    }
}
