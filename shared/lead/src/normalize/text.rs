//! String hygiene shared by every field: trimming, whitespace, invisible characters, caps.

/// Characters that are dropped everywhere: zero-width space, word joiner, byte-order mark,
/// soft hyphen, Mongolian vowel separator. They sneak in through copy and paste.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

/// A single-line value: runs of whitespace and control characters become one space,
/// invisible characters are dropped, both ends are trimmed. Idempotent.
pub(crate) fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
        } else if !is_invisible(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// A multi-line value (the message): line endings become `\n`, control characters other than
/// newline and tab and invisible characters are dropped, both ends are trimmed. Idempotent.
pub(crate) fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() || is_invisible(c) => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

/// Whether `s` has more than `max` characters (not bytes).
pub(crate) fn too_long(s: &str, max: usize) -> bool {
    // Byte length bounds the char count from above: skip counting for short strings.
    s.len() > max && s.chars().count() > max
}

/// The problem text for a value over its cap.
pub(crate) fn too_long_problem(max: usize) -> String {
    format!("too long (max {max})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_line_collapses_and_trims() {
        assert_eq!(
            clean_line("  Ana \t\n  María\u{00A0}López  "),
            "Ana María López"
        );
        assert_eq!(
            clean_line("\u{FEFF}\u{200B}ACME\u{200B} GmbH\r\n"),
            "ACME GmbH"
        );
        assert_eq!(clean_line("a\u{0}b"), "a b");
        assert_eq!(clean_line(" \u{200B} "), "");
        assert_eq!(clean_line(""), "");
    }

    #[test]
    fn clean_text_keeps_lines() {
        assert_eq!(
            clean_text("\r\n Hello,\r\nplease call.\r\r\tThanks\u{7} \n"),
            "Hello,\nplease call.\n\n\tThanks"
        );
        assert_eq!(clean_text("  \n\t "), "");
    }

    #[test]
    fn caps_count_chars() {
        assert!(!too_long("ééé", 3));
        assert!(too_long("éééé", 3));
        assert!(!too_long("", 0));
    }
}
