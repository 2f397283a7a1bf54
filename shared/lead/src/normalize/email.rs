//! Email addresses: trimmed, lowercased, syntax-checked.

use super::domain::is_valid_domain;

/// Characters allowed in an unquoted local part besides letters and digits (RFC 5322 atext).
const ATEXT: &str = "!#$%&'*+/=?^_`{|}~-";

/// Normalizes an email address: surrounding `Name <...>` and a `mailto:` prefix removed, a
/// trailing dot after the domain removed, the whole address lowercased. Returns `None` unless
/// it is a plausible address: exactly one `@`, a dot-atom local part of 1-64 bytes (non-ASCII
/// letters allowed, quoted local parts are not), a valid domain with a dot, at most 254 bytes
/// in all. Idempotent.
pub(crate) fn normalize(input: &str) -> Option<String> {
    let mut s = input.trim();
    if s.ends_with('>')
        && let Some(open) = s.rfind('<')
    {
        s = s[open + 1..s.len() - 1].trim();
    }
    if let Some(prefix) = s.get(..7)
        && prefix.eq_ignore_ascii_case("mailto:")
    {
        s = s[7..].trim_start();
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    let lower = s.to_lowercase();
    let (local, domain) = lower.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c == '.'
                || ATEXT.contains(c)
                || (!c.is_ascii() && c.is_alphanumeric())
        });
    if !local_ok || !is_valid_domain(domain) || lower.len() > 254 {
        return None;
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses() {
        for (input, want) in [
            ("  John.Doe@Example.COM ", "john.doe@example.com"),
            ("j.o'neil+leads@acme.co.uk", "j.o'neil+leads@acme.co.uk"),
            ("Jane Roe <Jane@Acme.io>", "jane@acme.io"),
            ("mailto:Sales@Acme.com", "sales@acme.com"),
            ("MAILTO: sales@acme.com", "sales@acme.com"),
            ("ops@acme.com.", "ops@acme.com"),
            ("jörg@müller.de", "jörg@müller.de"),
            ("JÖRG@MÜLLER.DE", "jörg@müller.de"),
            ("x@xn--mller-kva.de", "x@xn--mller-kva.de"),
            ("a@b.co", "a@b.co"),
            (
                "user_name-1@sub.domain-name.org",
                "user_name-1@sub.domain-name.org",
            ),
        ] {
            assert_eq!(normalize(input).as_deref(), Some(want), "{input}");
            assert_eq!(normalize(want).as_deref(), Some(want), "idempotent {want}");
        }
    }

    #[test]
    fn invalid_addresses() {
        let long_local = format!("{}@acme.com", "a".repeat(65));
        let long_total = format!(
            "{}@{}.com",
            "a".repeat(64),
            ["b".repeat(63), "c".repeat(63), "d".repeat(60)].join(".")
        );
        for input in [
            "",
            "john",
            "john@",
            "@acme.com",
            "john@@acme.com",
            "john@acme@com",
            "john@acme",
            "john@acme,com",
            "john doe@acme.com",
            ".john@acme.com",
            "john.@acme.com",
            "jo..hn@acme.com",
            "john@acme..com",
            "john@-acme.com",
            "john@acme.c",
            "john@[192.168.0.1]",
            "john@1.2.3.4",
            "\"john doe\"@acme.com",
            "john@acme.com?subject=hi",
            "john(comment)@acme.com",
            "<>",
            long_local.as_str(),
            long_total.as_str(),
        ] {
            assert_eq!(normalize(input), None, "{input}");
        }
    }
}
