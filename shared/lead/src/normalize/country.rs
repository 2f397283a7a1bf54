//! Countries: ISO 3166-1 alpha-2/alpha-3 codes and names in English and the main European
//! languages (tables generated from pycountry by `tools/gen_countries.py`).

use super::country_table::{ALPHA2, ALPHA3, NAMES, fold_char};

/// The upper-case alpha-2 code of a country given as an alpha-2 or alpha-3 code (any case) or a
/// name or common alias in one of the supported languages (case, accents and punctuation do
/// not matter: `côte d'ivoire`, `COTE D IVOIRE`, `Elfenbenküste`...). `None` if unrecognized.
pub(crate) fn lookup(input: &str) -> Option<&'static str> {
    let t = input.trim();
    if t.is_empty() || t.len() > 200 {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_alphabetic()) {
        let upper = t.to_ascii_uppercase();
        match t.len() {
            2 => {
                if let Ok(i) = ALPHA2.binary_search(&upper.as_str()) {
                    return Some(ALPHA2[i]);
                }
            }
            3 => {
                if let Ok(i) = ALPHA3.binary_search_by(|(a3, _)| (*a3).cmp(upper.as_str())) {
                    return Some(ALPHA3[i].1);
                }
            }
            _ => {}
        }
    }
    let key = fold_key(t);
    NAMES
        .binary_search_by(|(name, _)| (*name).cmp(key.as_str()))
        .ok()
        .map(|i| NAMES[i].1)
}

/// Folds a name into its lookup key: Latin letters lose their accents (`ö` -> `o`, `ß` ->
/// `ss`), everything is lowercased, punctuation and spaces are removed, and a leading English
/// "the" is dropped (`The Netherlands` -> `netherlands`). Must match `key()` in the generator.
pub(crate) fn fold_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut first_word_end: Option<usize> = None;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if let Some(folded) = fold_char(c) {
            out.push_str(folded);
        } else if ('\u{300}'..='\u{36F}').contains(&c) {
            // A combining accent of a decomposed letter: the base letter was already kept.
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if first_word_end.is_none() && !out.is_empty() {
            first_word_end = Some(out.len());
        }
    }
    // Drop a leading "the" when another word follows it.
    if let Some(end) = first_word_end
        && end < out.len()
        && &out[..end] == "the"
    {
        out.drain(..end);
    }
    out
}

/// Whether `code` is an alpha-2 code known to the table (upper case).
#[cfg(test)]
pub(crate) fn is_alpha2(code: &str) -> bool {
    ALPHA2.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_any_case() {
        assert_eq!(lookup("de"), Some("DE"));
        assert_eq!(lookup(" DE "), Some("DE"));
        assert_eq!(lookup("deu"), Some("DE"));
        assert_eq!(lookup("USA"), Some("US"));
        assert_eq!(lookup("gbr"), Some("GB"));
        assert_eq!(lookup("Xk"), Some("XK"));
        assert_eq!(lookup("ZZ"), None);
        assert_eq!(lookup("ZZZ"), None);
    }

    #[test]
    fn english_names_and_aliases() {
        for (input, code) in [
            ("Germany", "DE"),
            ("united states of america", "US"),
            ("U.S.", "US"),
            ("US", "US"),
            ("UK", "GB"),
            ("Great Britain", "GB"),
            ("England", "GB"),
            ("United Kingdom", "GB"),
            ("The Netherlands", "NL"),
            ("Holland", "NL"),
            ("South Korea", "KR"),
            ("Korea, Republic of", "KR"),
            ("Republic of Korea", "KR"),
            ("North Korea", "KP"),
            ("Iran", "IR"),
            ("Iran, Islamic Republic of", "IR"),
            ("Russia", "RU"),
            ("Czech Republic", "CZ"),
            ("Turkey", "TR"),
            ("Türkiye", "TR"),
            ("Ivory Coast", "CI"),
            ("Côte d’Ivoire", "CI"),
            ("COTE D IVOIRE", "CI"),
            ("Bosnia and Herzegovina", "BA"),
            ("Democratic Republic of the Congo", "CD"),
            ("Congo", "CG"),
            ("Virgin Islands, British", "VG"),
            ("Hong Kong", "HK"),
            ("Taiwan", "TW"),
            ("Vatican City", "VA"),
            ("the Gambia", "GM"),
            ("Kosovo", "XK"),
        ] {
            assert_eq!(lookup(input), Some(code), "{input}");
        }
    }

    #[test]
    fn european_languages() {
        for (input, code) in [
            ("Deutschland", "DE"),
            ("Österreich", "AT"),
            ("OSTERREICH", "AT"),
            ("Schweiz", "CH"),
            ("Suisse", "CH"),
            ("Allemagne", "DE"),
            ("États-Unis", "US"),
            ("Royaume-Uni", "GB"),
            ("España", "ES"),
            ("espana", "ES"),
            ("Alemania", "DE"),
            ("Países Bajos", "NL"),
            ("Germania", "DE"),
            ("Regno Unito", "GB"),
            ("Alemanha", "DE"),
            ("Brasil", "BR"),
            ("Duitsland", "DE"),
            ("Nederland", "NL"),
            ("België", "BE"),
            ("Niemcy", "DE"),
            ("Wielka Brytania", "GB"),
            ("Wybrzeże Kości Słoniowej", "CI"),
            ("Tyskland", "DE"),
            ("Sverige", "SE"),
            ("Storbritannien", "GB"),
            ("Polska", "PL"),
            ("Suomi", "FI"),
            ("Danmark", "DK"),
            ("Norge", "NO"),
        ] {
            assert_eq!(lookup(input), Some(code), "{input}");
        }
    }

    #[test]
    fn decomposed_accents_fold_like_precomposed() {
        assert_eq!(lookup("O\u{308}sterreich"), Some("AT"));
        assert_eq!(lookup("Espan\u{303}a"), Some("ES"));
    }

    #[test]
    fn unknown_and_junk() {
        for input in [
            "",
            "  ",
            "Atlantis",
            "n/a",
            "-",
            "Europe",
            "EU",
            "12",
            "Virgin Islands",
            "😀",
        ] {
            assert_eq!(lookup(input), None, "{input}");
        }
        assert_eq!(lookup(&"Germany".repeat(100)), None);
    }

    #[test]
    fn fold_key_rules() {
        assert_eq!(fold_key("The Netherlands"), "netherlands");
        assert_eq!(fold_key("the"), "the");
        assert_eq!(fold_key("  THE  bahamas "), "bahamas");
        assert_eq!(fold_key("Theland"), "theland");
        assert_eq!(fold_key("Straße"), "strasse");
        assert_eq!(fold_key("Łódź"), "lodz");
        assert_eq!(fold_key("Guinea-Bissau"), "guineabissau");
    }

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(
            NAMES.windows(2).all(|w| w[0].0 < w[1].0),
            "NAMES sorted, unique"
        );
        assert!(ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(ALPHA3.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, code) in NAMES.iter() {
            assert_eq!(
                fold_key(name),
                *name,
                "key {name} is a fixed point of fold_key"
            );
            assert!(is_alpha2(code), "{name} -> {code}");
        }
        for (_, code) in ALPHA3.iter() {
            assert!(is_alpha2(code));
        }
        for code in ALPHA2.iter() {
            assert_eq!(
                lookup(code),
                Some(*code),
                "alpha-2 output is accepted again"
            );
        }
    }
}
