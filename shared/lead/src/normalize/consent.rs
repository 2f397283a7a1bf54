//! Consent: booleans, boolean words, and checkbox values that carry the consent wording.

/// A consent value given as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Consent {
    /// A plain boolean word (`yes`, `off`, `1`, `ja`, ...).
    Plain(bool),
    /// Any other non-empty text: what a checked checkbox sends as its value, typically the
    /// consent wording itself. Counts as consent; the wording is kept.
    Worded(String),
}

/// Boolean words in English and the main European languages, lowercase.
const TRUE_WORDS: &[&str] = &[
    "1", "checked", "ja", "on", "oui", "si", "sim", "sí", "t", "tak", "true", "y", "yes",
];
const FALSE_WORDS: &[&str] = &[
    "0",
    "f",
    "false",
    "n",
    "nao",
    "nee",
    "nein",
    "nej",
    "nie",
    "no",
    "non",
    "não",
    "off",
    "unchecked",
];

/// Reads consent text (already a clean, non-empty line).
pub(crate) fn parse(text: &str) -> Consent {
    let lower = text.to_lowercase();
    if TRUE_WORDS.contains(&lower.as_str()) {
        Consent::Plain(true)
    } else if FALSE_WORDS.contains(&lower.as_str()) {
        Consent::Plain(false)
    } else {
        Consent::Worded(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        for w in [
            "true", "TRUE", "yes", "Yes", "on", "1", "ja", "oui", "sí", "checked",
        ] {
            assert_eq!(parse(w), Consent::Plain(true), "{w}");
        }
        for w in ["false", "no", "OFF", "0", "nein", "non", "não", "unchecked"] {
            assert_eq!(parse(w), Consent::Plain(false), "{w}");
        }
        let text = "I agree to the privacy policy";
        assert_eq!(parse(text), Consent::Worded(text.to_string()));
    }
}
