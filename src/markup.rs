//! Text from outside (object keys, target names, check details quoting a backup's listing) made
//! safe for the languages it is shown in: XML and HTML through [`escape`] (the badge and trend
//! SVG, the status page, the alert e-mail's HTML part); one visible line through [`visible`];
//! Markdown lines, table cells and code spans; Slack's `mrkdwn`.
//!
//! The other escapers in the tree are each of one format: workflow commands
//! (`workflow::escape_data`, `escape_property`) and OpenMetrics label values.

use std::borrow::Cow;

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

/// Text from outside (object keys, and the details that quote them) made safe to show on one
/// line: control characters become their Rust escapes (`\n`, `\r`, `\t`, `\u{1b}`), and so do
/// the invisible bidirectional overrides that would reorder what a reader sees. A line break in
/// a key can then not start a new log line (a forged `::error::`), a table row or a list item,
/// and an escape sequence cannot colour or rewrite a terminal. Every other escaping function
/// here, and the issue body and Slack text, start from this one.
pub fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for one Markdown line (a heading, a list item): [`visible`], and `<` as `&lt;` so it
/// cannot open an HTML tag or a comment that hides the rest of the page.
pub fn markdown_text(text: &str) -> String {
    visible(text).replace('<', "&lt;")
}

/// Text for a Markdown table cell: [`markdown_text`], with pipes escaped so they cannot end
/// the cell.
pub fn markdown_cell(text: &str) -> String {
    markdown_text(text).replace('|', "\\|")
}

/// Text as Markdown inline code: [`visible`], fenced with more backticks than it holds in a
/// row, so a backtick in it cannot end the code span.
pub fn markdown_code(text: &str) -> String {
    let text = visible(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A space keeps a backtick at either end from joining the fence.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text for Slack's `mrkdwn`: [`visible`], and `&`, `<`, `>` escaped as Slack asks, so text
/// cannot form a link (`<https://…|click>`) or a mention (`<!channel>`).
pub fn slack_text(text: &str) -> String {
    visible(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

    #[test]
    fn text_from_outside_is_shown_on_one_line_without_control_characters() {
        let key = "db/a\nb\r\u{1b}[31mred|\u{202e}txt.gz";
        assert_eq!(visible(key), "db/a\\nb\\r\\u{1b}[31mred|\\u{202e}txt.gz");
        assert!(matches!(visible("plain/key.gz"), Cow::Borrowed(_)));
        assert_eq!(
            markdown_cell(key),
            "db/a\\nb\\r\\u{1b}[31mred\\|\\u{202e}txt.gz"
        );
        assert_eq!(markdown_text("<!-- hide"), "&lt;!-- hide");
        assert_eq!(markdown_code("a`b``c"), "```a`b``c```");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(
            slack_text("<!channel> & <https://x|y>\n"),
            "&lt;!channel&gt; &amp; &lt;https://x|y&gt;\\n"
        );
    }
}
