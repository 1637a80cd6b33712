//! What dr-action accepts of the short texts it is given, checked where they are read (the
//! config, a flag, a backup set's manifest): badge texts of a readable length, part names that
//! stay inside their folder. Pure rules over strings.

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

/// The longest part name accepted.
pub const MAX_NAME: usize = 1024;

/// A part name must stay inside its folder: relative, `/`-separated, no `.`/`..`/empty
/// segment, no backslash or control character.
pub fn check_part_name(name: &str) -> Result<(), String> {
    let shown = name.escape_debug();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "part name `{shown}` is empty or longer than {MAX_NAME} bytes"
        ));
    }
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return Err(format!(
            "part name `{shown}` holds a backslash or a control character"
        ));
    }
    if name.starts_with('/')
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!(
            "part name `{shown}` points outside the set's folder (absolute, or a `.`, `..` or empty segment)"
        ));
    }
    Ok(())
}
