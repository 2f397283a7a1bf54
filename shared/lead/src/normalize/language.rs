//! Preferred language: lowercase ISO 639-1.

use super::country::fold_key;

/// (folded language name, ISO 639-1): English names, endonyms and the names in the main
/// European languages. Sorted by name.
static NAMES: &[(&str, &str)] = &[
    ("aleman", "de"),
    ("alemao", "de"),
    ("allemand", "de"),
    ("angielski", "en"),
    ("anglais", "en"),
    ("arabic", "ar"),
    ("bulgarian", "bg"),
    ("castellano", "es"),
    ("catala", "ca"),
    ("catalan", "ca"),
    ("cestina", "cs"),
    ("chinese", "zh"),
    ("croatian", "hr"),
    ("czech", "cs"),
    ("danish", "da"),
    ("dansk", "da"),
    ("deutsch", "de"),
    ("duits", "de"),
    ("dutch", "nl"),
    ("eesti", "et"),
    ("engels", "en"),
    ("engelska", "en"),
    ("englisch", "en"),
    ("english", "en"),
    ("espagnol", "es"),
    ("espanhol", "es"),
    ("espanol", "es"),
    ("estonian", "et"),
    ("finnisch", "fi"),
    ("finnish", "fi"),
    ("flemish", "nl"),
    ("francais", "fr"),
    ("frances", "fr"),
    ("francese", "fr"),
    ("francuski", "fr"),
    ("frans", "fr"),
    ("franska", "fr"),
    ("franzosisch", "fr"),
    ("french", "fr"),
    ("german", "de"),
    ("greek", "el"),
    ("hindi", "hi"),
    ("hiszpanski", "es"),
    ("holandes", "nl"),
    ("holenderski", "nl"),
    ("hrvatski", "hr"),
    ("hungarian", "hu"),
    ("ingles", "en"),
    ("inglese", "en"),
    ("irish", "ga"),
    ("italian", "it"),
    ("italiano", "it"),
    ("italien", "it"),
    ("italienisch", "it"),
    ("italienska", "it"),
    ("japanese", "ja"),
    ("korean", "ko"),
    ("latvian", "lv"),
    ("lithuanian", "lt"),
    ("magyar", "hu"),
    ("mandarin", "zh"),
    ("nederlands", "nl"),
    ("neerlandais", "nl"),
    ("niederlandisch", "nl"),
    ("niemiecki", "de"),
    ("norsk", "no"),
    ("norwegian", "no"),
    ("olandese", "nl"),
    ("polacco", "pl"),
    ("polaco", "pl"),
    ("polish", "pl"),
    ("polnisch", "pl"),
    ("polonais", "pl"),
    ("polones", "pl"),
    ("polska", "pl"),
    ("polski", "pl"),
    ("pools", "pl"),
    ("portoghese", "pt"),
    ("portugais", "pt"),
    ("portugalski", "pt"),
    ("portugees", "pt"),
    ("portugiesisch", "pt"),
    ("portugisiska", "pt"),
    ("portugues", "pt"),
    ("portuguese", "pt"),
    ("romana", "ro"),
    ("romanian", "ro"),
    ("rumanisch", "ro"),
    ("russian", "ru"),
    ("russisch", "ru"),
    ("schwedisch", "sv"),
    ("slovak", "sk"),
    ("slovencina", "sk"),
    ("slovene", "sl"),
    ("slovenian", "sl"),
    ("slovenscina", "sl"),
    ("spaans", "es"),
    ("spagnolo", "es"),
    ("spanisch", "es"),
    ("spanish", "es"),
    ("spanska", "es"),
    ("suedois", "sv"),
    ("suomi", "fi"),
    ("svedese", "sv"),
    ("svenska", "sv"),
    ("swedish", "sv"),
    ("szwedzki", "sv"),
    ("tedesco", "de"),
    ("tschechisch", "cs"),
    ("turkce", "tr"),
    ("turkisch", "tr"),
    ("turkish", "tr"),
    ("tyska", "de"),
    ("ukrainian", "uk"),
    ("ungarisch", "hu"),
    ("vlaams", "nl"),
    ("zweeds", "sv"),
];

/// ISO 639-2 (bibliographic and terminology) codes of the same languages. Sorted.
static ALPHA3: &[(&str, &str)] = &[
    ("ara", "ar"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("chi", "zh"),
    ("cze", "cs"),
    ("dan", "da"),
    ("deu", "de"),
    ("dut", "nl"),
    ("ell", "el"),
    ("eng", "en"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("fre", "fr"),
    ("ger", "de"),
    ("gle", "ga"),
    ("gre", "el"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("ita", "it"),
    ("jpn", "ja"),
    ("kor", "ko"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("nld", "nl"),
    ("nor", "no"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rum", "ro"),
    ("rus", "ru"),
    ("slk", "sk"),
    ("slo", "sk"),
    ("slv", "sl"),
    ("spa", "es"),
    ("swe", "sv"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("zho", "zh"),
];

/// Normalizes a language: a tag (`DE`, `de-DE`, `de_AT`, `zh-Hant-TW`, the first entry of an
/// `Accept-Language` list) gives its primary subtag; a three-letter ISO 639-2 code or a
/// language name (`German`, `Deutsch`, `allemand`) gives the ISO 639-1 code for the common
/// European languages; anything else is kept, lowercased. `input` is already a clean line.
/// Idempotent.
pub(crate) fn normalize(input: &str) -> String {
    // Everything below works on the lowercased input, so that the fallback (the lowercased
    // input) is a fixed point even for letters whose lowercase is ASCII (the Kelvin sign).
    let lower = input.to_lowercase();
    let first = lower.split([',', ';']).next().unwrap_or_default().trim();
    let primary = first.split(['-', '_']).next().unwrap_or_default();
    let tag_like = first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if tag_like && primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        if primary.len() == 2 {
            return primary.to_string();
        }
        if primary.len() == 3
            && let Ok(i) = ALPHA3.binary_search_by(|(a3, _)| (*a3).cmp(primary))
        {
            return ALPHA3[i].1.to_string();
        }
    }
    let key = fold_key(first);
    if let Ok(i) = NAMES.binary_search_by(|(name, _)| (*name).cmp(key.as_str())) {
        return NAMES[i].1.to_string();
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sorted() {
        assert!(
            NAMES.windows(2).all(|w| w[0].0 < w[1].0),
            "{:?}",
            NAMES.windows(2).find(|w| w[0].0 >= w[1].0)
        );
        assert!(ALPHA3.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, _) in NAMES {
            assert_eq!(fold_key(name), *name);
        }
    }

    #[test]
    fn languages() {
        for (input, want) in [
            ("de", "de"),
            ("DE", "de"),
            ("de-DE", "de"),
            ("de_AT", "de"),
            ("zh-Hant-TW", "zh"),
            ("en-US,en;q=0.9,de;q=0.8", "en"),
            ("German", "de"),
            ("Deutsch", "de"),
            ("allemand", "de"),
            ("Français", "fr"),
            ("español", "es"),
            ("Português", "pt"),
            ("Nederlands", "nl"),
            ("polski", "pl"),
            ("Svenska", "sv"),
            ("deu", "de"),
            ("GER", "de"),
            ("gsw", "gsw"),
            ("Klingon", "klingon"),
            ("Schwiizerdütsch", "schwiizerdütsch"),
            ("\u{212A}b-x", "kb"),
        ] {
            assert_eq!(normalize(input), want, "{input}");
            assert_eq!(normalize(want), want, "idempotent {want}");
        }
    }
}
