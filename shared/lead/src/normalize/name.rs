//! Person names: splitting a full name, and fixing all-caps / all-lowercase input.

use super::text::clean_line;

/// Name particles written in lower case inside a name and kept with the family name when a full
/// name is split (`Ludwig van Beethoven` -> `Ludwig` / `van Beethoven`).
const PARTICLES: &[&str] = &[
    "af", "av", "da", "das", "de", "del", "della", "den", "der", "des", "di", "do", "dos", "du",
    "la", "le", "ten", "ter", "van", "vom", "von", "zu", "zum", "zur",
];

/// Honorifics that lead a full name; moved out of the first name.
const HONORIFICS: &[&str] = &[
    "dott",
    "dr",
    "frau",
    "herr",
    "miss",
    "mlle",
    "mme",
    "mr",
    "mrs",
    "ms",
    "mx",
    "prof",
    "professor",
    "sig",
    "sir",
    "sr",
    "sra",
    "srta",
];

/// Generational and academic suffixes that end a full name; kept with the family name.
const SUFFIXES: &[&str] = &[
    "cpa", "esq", "ii", "iii", "iv", "jr", "md", "mba", "phd", "sr",
];

/// Roman-numeral suffixes, written in capitals when a name is title-cased.
const ROMAN: &[&str] = &["ii", "iii", "iv"];

/// `token` lowercased without dots, for the word lists above.
fn bare(token: &str) -> String {
    token
        .chars()
        .filter(|c| *c != '.')
        .flat_map(char::to_lowercase)
        .collect()
}

fn in_list(list: &[&str], token: &str) -> bool {
    list.contains(&bare(token).as_str())
}

/// A full name split into its parts (each already cleaned, not yet case-fixed).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    /// Leading honorifics (`Dr.`, `Prof. Dr.`), as written.
    pub salutation: Option<String>,
    /// Given name(s).
    pub first: Option<String>,
    /// Family name, with its particles and suffixes.
    pub last: Option<String>,
}

/// Splits a full name: `Last, First` when there is a comma (unless what follows it is a suffix
/// such as `Jr.`), else first = every token but the last, last = the last token together with
/// the particles before it; a single token is a first name. Leading honorifics go to
/// `salutation` when other tokens remain.
pub(crate) fn split_full_name(full: &str) -> Split {
    let full = clean_line(full);
    if let Some((before, after)) = full.split_once(',') {
        let (before, after) = (before.trim(), after.trim());
        if !before.is_empty() && !after.is_empty() && !in_list(SUFFIXES, after) {
            // `King, Martin Luther, Jr.`: a trailing suffix belongs to the family name.
            let (given, last) = match after.rsplit_once(',') {
                Some((given, suffix)) if in_list(SUFFIXES, suffix.trim()) => {
                    (given.trim(), format!("{before} {}", suffix.trim()))
                }
                _ => (after, before.to_string()),
            };
            let (salutation, first) = strip_honorifics(given.split_whitespace().collect());
            return Split {
                salutation,
                first: join(&first),
                last: Some(last),
            };
        }
    }
    let without_commas = full.replace(',', " ");
    let tokens: Vec<&str> = without_commas.split_whitespace().collect();
    let (salutation, tokens) = strip_honorifics(tokens);
    let n = tokens.len();
    if n <= 1 {
        return Split {
            salutation,
            first: join(&tokens),
            last: None,
        };
    }
    // The family name starts at the last token, or one earlier when the last is a suffix.
    let mut start = if n >= 3 && in_list(SUFFIXES, tokens[n - 1]) {
        n - 2
    } else {
        n - 1
    };
    while start > 1 && in_list(PARTICLES, tokens[start - 1]) {
        start -= 1;
    }
    Split {
        salutation,
        first: join(&tokens[..start]),
        last: join(&tokens[start..]),
    }
}

fn strip_honorifics(tokens: Vec<&str>) -> (Option<String>, Vec<&str>) {
    let mut k = 0;
    while k + 1 < tokens.len() && in_list(HONORIFICS, tokens[k]) {
        k += 1;
    }
    (join(&tokens[..k]), tokens[k..].to_vec())
}

fn join(tokens: &[&str]) -> Option<String> {
    if tokens.is_empty() {
        None
    } else {
        Some(tokens.join(" "))
    }
}

/// Normalizes a name part: cleaned, and title-cased when it was written all in upper or all in
/// lower case (`JOHN` -> `John`, `o'neil` -> `O'Neil`, `ludwig van beethoven` -> `Ludwig van
/// Beethoven`). Mixed case (`McDonald`, `JOHN o'NEIL`) is kept as written. Idempotent.
pub(crate) fn person(input: &str) -> String {
    let s = clean_line(input);
    if !uniform_case(&s) {
        return s;
    }
    let titled = title_case(&s);
    // Title-casing only when that is stable guarantees idempotence for any input, including
    // letters whose case mappings do not round-trip.
    if !uniform_case(&titled) || title_case(&titled) == titled {
        titled
    } else {
        s
    }
}

/// Whether `s` has cased letters all of one case.
fn uniform_case(s: &str) -> bool {
    let upper = s.chars().any(char::is_uppercase);
    let lower = s.chars().any(char::is_lowercase);
    upper != lower
}

fn title_case(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out = String::with_capacity(s.len());
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_lowercase();
        let last = i + 1 == words.len();
        if !last && PARTICLES.contains(&lower.as_str()) {
            out.push_str(&lower);
        } else if i > 0 && in_list(ROMAN, &lower) {
            out.push_str(&word.to_uppercase());
        } else {
            capitalize(&lower, &mut out);
        }
    }
    out
}

/// Upper-cases the first letter and each letter after `-` or an apostrophe (and the third
/// letter of `Mc` names).
fn capitalize(lower: &str, out: &mut String) {
    let mc = lower.starts_with("mc") && lower.chars().count() > 3;
    let mut cap_next = true;
    for (i, c) in lower.chars().enumerate() {
        if cap_next && c.is_alphabetic() {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
            cap_next = false;
        } else {
            out.push(c);
        }
        if matches!(c, '-' | '\'' | '’') || (mc && i == 1) {
            cap_next = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (salutation, first, last) with "" for none.
    fn split(s: &str) -> (String, String, String) {
        let parts = split_full_name(s);
        let f = |o: Option<String>| o.unwrap_or_default();
        (f(parts.salutation), f(parts.first), f(parts.last))
    }

    fn want(salutation: &str, first: &str, last: &str) -> (String, String, String) {
        (salutation.to_string(), first.to_string(), last.to_string())
    }

    #[test]
    fn splits_full_names() {
        for (input, (salutation, first, last)) in [
            ("Ana María López", ("", "Ana María", "López")),
            ("López, Ana", ("", "Ana", "López")),
            ("  López ,  Ana María ", ("", "Ana María", "López")),
            ("Cher", ("", "Cher", "")),
            ("John Smith", ("", "John", "Smith")),
            ("Ludwig van Beethoven", ("", "Ludwig", "van Beethoven")),
            ("Juan de la Cruz", ("", "Juan", "de la Cruz")),
            ("Van Morrison", ("", "Van", "Morrison")),
            ("Martin Luther King Jr.", ("", "Martin Luther", "King Jr.")),
            (
                "King, Martin Luther, Jr.",
                ("", "Martin Luther", "King Jr."),
            ),
            ("John Smith, Jr.", ("", "John", "Smith Jr.")),
            ("Dr. Jane Roe", ("Dr.", "Jane", "Roe")),
            ("Prof. Dr. Eva Weiß", ("Prof. Dr.", "Eva", "Weiß")),
            ("Roe, Dr. Jane", ("Dr.", "Jane", "Roe")),
            ("Dr.", ("", "Dr.", "")),
            ("Mr Bean", ("Mr", "Bean", "")),
            (",", ("", "", "")),
            ("", ("", "", "")),
        ] {
            assert_eq!(split(input), want(salutation, first, last), "{input}");
        }
    }

    #[test]
    fn fixes_uniform_case_only() {
        for (input, want) in [
            ("JOHN", "John"),
            ("john", "John"),
            ("  mary   ann ", "Mary Ann"),
            ("mcdonald", "McDonald"),
            ("McDonald", "McDonald"),
            ("o'neil", "O'Neil"),
            ("JOHN o'NEIL", "JOHN o'NEIL"),
            ("jean-luc", "Jean-Luc"),
            ("VAN BEETHOVEN", "van Beethoven"),
            ("ludwig van beethoven", "Ludwig van Beethoven"),
            ("van", "Van"),
            ("king iii", "King III"),
            ("ÉLODIE", "Élodie"),
            ("łukasz", "Łukasz"),
            ("weiß", "Weiß"),
            ("ß", "ß"),
            ("j.", "J."),
            ("李", "李"),
            ("de Vries", "de Vries"),
        ] {
            assert_eq!(person(input), want, "{input}");
            assert_eq!(person(want), want, "idempotent {want}");
        }
    }
}
