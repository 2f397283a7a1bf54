//! Phone numbers: E.164 via the `phonenumber` crate (libphonenumber metadata).

use phonenumber::metadata::{DATABASE, Descriptor};
use phonenumber::{Metadata, Mode, PhoneNumber, country};
use regex::{RegexSet, RegexSetBuilder};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// The outcome of normalizing a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phone {
    /// A valid number, in E.164 (`+4930123456`), and its extension if one was written.
    Valid {
        e164: String,
        extension: Option<String>,
    },
    /// Not parseable or not a valid number for its country.
    Invalid,
}

/// Parses `raw` as a phone number, with `region` (alpha-2) as the country for numbers written
/// in national format (ignored for numbers starting with `+`). Never panics: the parser has panicked on odd input in the past, so it
/// runs under `catch_unwind` and a panic counts as an invalid number.
pub(crate) fn normalize(raw: &str, region: Option<&str>) -> Phone {
    normalize_with(raw, region, true)
}

/// [`normalize`]; `shortcut` enables [`reparse_is_identity`] (off only to test it against the
/// full reparse).
fn normalize_with(raw: &str, region: Option<&str>, shortcut: bool) -> Phone {
    // A number in international format does not depend on the region; the parser sometimes
    // rejects one when given a region anyway (`+39 06 ...` with `JP`).
    let international = raw.trim_start().starts_with('+');
    let id = region
        .filter(|_| !international)
        .and_then(|r| r.parse::<country::Id>().ok());
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let number = phonenumber::parse(id, raw).ok()?;
        if !is_valid(&number) {
            return None;
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        // The output must stand on its own: some numbers pass with a region hint (`00 7 831
        // ...` from DE) while their E.164 form does not; keeping those would make
        // renormalization drop a phone it had accepted. A number parsed without a hint was
        // already read the way its E.164 form will be, so the second parse (half the cost of
        // normalizing a lead) is only paid for hinted ones.
        if id.is_some() && !(shortcut && reparse_is_identity(&number)) {
            let reparsed = phonenumber::parse(None, &e164).ok()?;
            if !is_valid(&reparsed) || reparsed.format().mode(Mode::E164).to_string() != e164 {
                return None;
            }
        }
        let extension = number
            .extension()
            .map(ToString::to_string)
            .filter(|e| !e.is_empty());
        Some(Phone::Valid { e164, extension })
    }));
    match parsed {
        Ok(Some(phone)) => phone,
        _ => Phone::Invalid,
    }
}

/// `phonenumber::is_valid`, answered with fewer pattern matches. A number is valid when its
/// national number matches the general pattern of the region it belongs to and the pattern of
/// at least one number type. The crate asks `number_type`, which tries eight rare types
/// (premium rate, toll free, ..., voicemail) before fixed line and mobile, and, for a country
/// code several regions share (+1, +7, +44, ...), runs it twice: once to find the region, once
/// to check the number. Here fixed line and mobile come first and the region's check is not
/// repeated: the same answer from two or three pattern matches instead of ten to twenty, which
/// were a third of normalizing a lead with a phone. The order of the region search and every
/// refusal (including where the crate would panic, which [`normalize`] counts as invalid) are
/// the crate's 0.3 `validator::{is_valid_with, source_for}`; `valid_matches_the_crate` holds
/// the two to the same answers on every region's example numbers and variants of them.
fn is_valid(number: &PhoneNumber) -> bool {
    let code = number.country().code();
    let national = number.national().to_string();
    let Some(regions) = DATABASE.region(&code) else {
        return false;
    };
    let is_region = |r: &str| r.parse::<country::Id>().is_ok();
    if let [only] = regions[..] {
        let meta = if only == "001" {
            // Non-geographic codes (+800, +979, ...): the code's own metadata.
            DATABASE.by_code(&code).and_then(|m| m.into_iter().next())
        } else if is_region(only) {
            DATABASE.by_id(only)
        } else {
            None
        };
        return meta.is_some_and(|m| has_type(m, &national));
    }
    // Which regions' leading digits start the number, asked of all of them at once when the
    // first region with leading digits is reached.
    let set = leading_digits_of(code);
    let mut starts = None;
    for (i, region) in regions.into_iter().enumerate() {
        let Some(meta) = DATABASE.by_id(region) else {
            return false;
        };
        match meta.leading_digits() {
            // The region whose leading digits start the number is its region, valid or not.
            Some(pattern) => {
                let starts_here = match set {
                    Some(set) => set.starts(i, &national, &mut starts),
                    None => pattern.is_match_at_start(&national),
                };
                if starts_here {
                    return is_region(region) && has_type(meta, &national);
                }
            }
            // Otherwise the first region where it is a number of some type.
            None => {
                if has_type(meta, &national) {
                    return is_region(region);
                }
            }
        }
    }
    false
}

/// The leading-digits patterns of the regions that share a country code, as one set: the
/// region search in [`is_valid`] asks each region in turn whether its pattern starts the
/// number, which for a number of none of them (an invalid +1 number, say) is one pattern match
/// per region, 24 for +1. The set answers for every region in one scan.
struct LeadingDigits {
    /// For each region of the code (in `DATABASE.region` order), its pattern's index in `set`.
    slots: Vec<Option<usize>>,
    /// Each pattern anchored at the start, with the options the crate compiles it with.
    set: RegexSet,
}

impl LeadingDigits {
    /// Whether the leading digits of the code's `region`-th region start `national`; `found`
    /// caches the set's answer for the other regions of the same search.
    fn starts(&self, region: usize, national: &str, found: &mut Option<regex::SetMatches>) -> bool {
        let slot = self.slots.get(region).copied().flatten();
        slot.is_some_and(|i| {
            found
                .get_or_insert_with(|| self.set.matches(national))
                .matched(i)
        })
    }
}

/// [`LeadingDigits`] of a country code that several regions share (`None` for the others, or
/// if the set cannot be built, when each pattern is asked alone), built on first use.
fn leading_digits_of(code: u16) -> Option<&'static LeadingDigits> {
    static SETS: [OnceLock<Option<LeadingDigits>>; 1000] = [const { OnceLock::new() }; 1000];
    SETS.get(usize::from(code))?
        .get_or_init(|| {
            let regions = DATABASE.region(&code)?;
            if regions.len() < 2 {
                return None;
            }
            let mut slots = Vec::with_capacity(regions.len());
            let mut patterns = Vec::new();
            for region in regions {
                match DATABASE.by_id(region).and_then(|m| m.leading_digits()) {
                    Some(p) => {
                        slots.push(Some(patterns.len()));
                        patterns.push(format!("\\A(?:{})", p.as_str()));
                    }
                    None => slots.push(None),
                }
            }
            let set = RegexSetBuilder::new(patterns)
                .ignore_whitespace(true)
                .build()
                .ok()?;
            Some(LeadingDigits { slots, set })
        })
        .as_ref()
}

/// Whether `national` is a number of some type in `meta`'s region (`number_type` is not
/// `Unknown`): it matches the general pattern and one type's, tried most common first.
fn has_type(meta: &Metadata, national: &str) -> bool {
    matches(meta.descriptors().general(), national)
        && number_types(meta)
            .into_iter()
            .flatten()
            .any(|t| matches(t, national))
}

/// `Descriptor::is_match`: one of the possible lengths (if the descriptor lists any) and the
/// pattern matching from the start. The crate asks the pattern for its leftmost match and
/// compares the match's start with 0, which costs a forward and a backward scan; the same
/// question put to the pattern anchored at the start (the vendored regex-cache's
/// `is_match_at_start`) stops at the first match: about 1.7k instructions a check instead of
/// 2.4k (callgrind, the Jotform fixture's invalid +1 number: 129.1k -> 124.7k a lead).
fn matches(d: &Descriptor, national: &str) -> bool {
    let lengths = d.possible_length();
    (lengths.is_empty() || u16::try_from(national.len()).is_ok_and(|n| lengths.contains(&n)))
        && d.national_number().is_match_at_start(national)
}

/// The region's patterns of the types `number_type` tells apart (absent ones `None`), the
/// most common first.
fn number_types(meta: &Metadata) -> [Option<&Descriptor>; 10] {
    let d = meta.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
}

/// Whether parsing `number`'s E.164 form without a region certainly gives back `number`'s
/// country code and national number, so that the reparse in [`normalize`] would accept it
/// (validity and E.164 output depend on those alone): true for NANP numbers (+1) whose
/// national number has 10 digits and starts with 2-9, most hinted parses in practice.
///
/// Why, in `phonenumber` 0.3: `+1` is split off as the country code (codes are prefix-free),
/// leaving the 10 digits; no NANP region's national prefix (`1`) or prefix-for-parsing pattern
/// (`([2-9]\d{6})$|1`: seven digits to the end, or `1`) matches at the start of 10 digits
/// starting 2-9, so nothing is stripped. `shortcut_matches_the_reparse` checks it against the
/// full reparse on a systematic set of numbers, formats and regions.
fn reparse_is_identity(number: &PhoneNumber) -> bool {
    let national = number.national();
    number.country().code() == 1
        && national.zeros() == 0
        && (2_000_000_000..10_000_000_000).contains(&national.value())
}

/// Whether a raw phone value has enough digits to be a phone number at all; `n/a`, `-` or
/// `keine` do not count as a phone when checking that a lead can be contacted.
pub(crate) fn looks_like_phone(raw: &str) -> bool {
    raw.chars().filter(|c| c.is_numeric()).count() >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str, region: Option<&str>) -> Option<String> {
        match normalize(raw, region) {
            Phone::Valid { e164, .. } => Some(e164),
            Phone::Invalid => None,
        }
    }

    #[test]
    fn international_and_national_formats() {
        for (raw, region, want) in [
            ("+49 30 901820", None, "+4930901820"),
            ("+49 (0)30 901820", None, "+4930901820"),
            ("030 901820", Some("DE"), "+4930901820"),
            ("0049 30 901820", Some("DE"), "+4930901820"),
            ("(650) 253-0000", Some("US"), "+16502530000"),
            ("650.253.0000", Some("US"), "+16502530000"),
            ("+1 650 253 0000", Some("DE"), "+16502530000"),
            ("020 7946 0958", Some("GB"), "+442079460958"),
            ("06 12 34 56 78", Some("FR"), "+33612345678"),
            ("+39 06 6982 0000", None, "+390669820000"),
            ("tel:+44-20-7946-0958", None, "+442079460958"),
        ] {
            assert_eq!(e164(raw, region).as_deref(), Some(want), "{raw} {region:?}");
            assert_eq!(
                e164(want, None).as_deref(),
                Some(want),
                "E.164 output reparses to itself"
            );
            assert_eq!(
                e164(want, Some("JP")).as_deref(),
                Some(want),
                "region hint ignored for +"
            );
        }
    }

    #[test]
    fn extension_is_kept_apart() {
        assert_eq!(
            normalize("+1 650-253-0000 ext. 123", None),
            Phone::Valid {
                e164: "+16502530000".into(),
                extension: Some("123".into())
            }
        );
    }

    #[test]
    fn invalid_numbers() {
        for (raw, region) in [
            ("030 901820", None),
            ("12345", Some("DE")),
            ("+49 1", None),
            ("n/a", Some("DE")),
            ("+999 123 456 789", None),
            ("  2 22#:", None),
            ("003-836-4618x3001", Some("CH")),
            ("0078310000000", Some("DE")),
            ("", Some("US")),
        ] {
            assert_eq!(normalize(raw, region), Phone::Invalid, "{raw} {region:?}");
        }
    }

    #[test]
    fn unknown_region_is_ignored() {
        assert_eq!(
            e164("+4930901820", Some("ZZ")).as_deref(),
            Some("+4930901820")
        );
        assert_eq!(e164("030 901820", Some("not a region")), None);
    }

    /// The NANP shortcut gives what the full reparse gives: every area code 200-999 (a sample
    /// of them in debug builds, where parsing is slow), a spread of exchanges and lines, in
    /// national, dotted, trunk-prefixed, IDD and international formats, from NANP and other
    /// regions.
    #[test]
    fn shortcut_matches_the_reparse() {
        let npa_step = if cfg!(debug_assertions) { 17 } else { 1 };
        let mut shortcuts = 0;
        let mut checked = 0;
        for npa in (200..1000).step_by(npa_step) {
            for (nxx, line) in [
                (200, "0000"),
                (211, "1234"),
                (555, "0100"),
                (555, "1234"),
                (234, "5678"),
                (911, "0199"),
                (999, "9999"),
                (100, "2345"),
                (2, "1234"),
            ] {
                for raw in [
                    format!("({npa}) {nxx:03}-{line}"),
                    format!("{npa}.{nxx:03}.{line}"),
                    format!("1 {npa} {nxx:03} {line}"),
                    format!("001 {npa} {nxx:03} {line}"),
                    format!("011 1 {npa}-{nxx:03}-{line}"),
                    format!("+1 {npa} {nxx:03} {line}"),
                    format!("{npa}{nxx:03}{line} ext. 12"),
                ] {
                    for region in ["US", "CA", "JM", "BB", "DE", "GB", "FR"] {
                        let fast = normalize_with(&raw, Some(region), true);
                        let slow = normalize_with(&raw, Some(region), false);
                        assert_eq!(fast, slow, "{raw} from {region}");
                        checked += 1;
                        let parsed = region
                            .parse()
                            .ok()
                            .and_then(|id| phonenumber::parse(Some(id), &raw).ok());
                        if parsed.is_some_and(|n| {
                            !raw.starts_with('+')
                                && reparse_is_identity(&n)
                                && phonenumber::is_valid(&n)
                        }) {
                            shortcuts += 1;
                        }
                    }
                }
            }
        }
        // The set must exercise the shortcut, not only numbers it does not apply to.
        assert!(shortcuts * 8 > checked, "{shortcuts} of {checked}");
    }

    /// [`is_valid`] answers as `phonenumber::is_valid` does: for every region's example
    /// number of every type, in international form, and for variants of each (a digit changed,
    /// added or dropped, at the end and after the first digit), which make numbers of other
    /// types, of no type, and of other lengths; and for runs of one digit under every country
    /// code. Both valid and invalid answers must occur in numbers.
    /// Every descriptor of `meta`'s region: the number types, the general one, and those of
    /// types no number is valid as.
    fn all_descriptors(meta: &Metadata) -> Vec<&Descriptor> {
        let d = meta.descriptors();
        number_types(meta)
            .into_iter()
            .chain([
                Some(d.general()),
                d.emergency(),
                d.short_code(),
                d.no_international(),
            ])
            .flatten()
            .collect()
    }

    /// National numbers to hold the crate to, for `meta`'s calling code: every type's example
    /// (and those of types no number is valid as), variants of each (a digit changed, added or
    /// dropped, at the end and after the first digit), and runs of one digit.
    fn national_variants(meta: &Metadata) -> Vec<String> {
        let mut national = Vec::new();
        for example in all_descriptors(meta)
            .into_iter()
            .filter_map(|t| t.example())
        {
            national.push(example.to_owned());
            let (head, tail) = example.split_at(1);
            for digit in ["0", "1", "5", "9"] {
                national.push(format!("{example}{digit}"));
                national.push(format!("{}{digit}", &example[..example.len() - 1]));
                national.push(format!("{head}{digit}{tail}"));
            }
            national.push(example[..example.len() - 1].to_owned());
            national.push(format!("{head}{}", tail.get(1..).unwrap_or("")));
        }
        for len in [3, 7, 10, 13] {
            for digit in ['2', '7'] {
                national.push(digit.to_string().repeat(len));
            }
        }
        national
    }

    /// `phonenumber::is_valid` and [`is_valid`] agree on [`national_variants`] of every
    /// region's calling code, in international form; these make numbers of every type, of
    /// other types, of no type, and of other lengths. Both valid and invalid answers must occur.
    #[test]
    fn valid_matches_the_crate() {
        let national: Vec<(u16, String)> = DATABASE
            .iter()
            .flat_map(|meta| {
                let code = meta.country_code();
                national_variants(meta).into_iter().map(move |n| (code, n))
            })
            .collect();
        let (mut valid, mut invalid) = (0, 0);
        for (code, digits) in &national {
            let raw = format!("+{code}{digits}");
            let Ok(number) = phonenumber::parse(None, &raw) else {
                continue;
            };
            let want = catch_unwind(AssertUnwindSafe(|| phonenumber::is_valid(&number)));
            let got = catch_unwind(AssertUnwindSafe(|| is_valid(&number))).unwrap_or(false);
            assert_eq!(got, want.unwrap_or(false), "{raw}");
            if got {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid > 1_000 && invalid > 1_000,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// [`matches`] answers as `Descriptor::is_match`, and the anchored leading-digits check as
    /// the crate's unanchored one, for every pattern of every region, on the region's
    /// [`national_variants`] and on each of them after a digit or two (which the patterns
    /// can match further in, but not from the start).
    #[test]
    fn anchored_patterns_match_as_the_crate() {
        let (mut yes, mut no) = (0, 0);
        for meta in DATABASE.iter() {
            let descriptors = all_descriptors(meta);
            let mut texts = national_variants(meta);
            let shifted: Vec<String> = texts
                .iter()
                .flat_map(|t| [format!("0{t}"), format!("91{t}")])
                .collect();
            texts.extend(shifted);
            for text in &texts {
                for desc in &descriptors {
                    let want = desc.is_match(text);
                    assert_eq!(matches(desc, text), want, "{} {text}", meta.id());
                    if want {
                        yes += 1;
                    } else {
                        no += 1;
                    }
                }
                if let Some(p) = meta.leading_digits() {
                    let want = p.find(text).is_some_and(|m| m.start() == 0);
                    assert_eq!(p.is_match_at_start(text), want, "{} {text}", meta.id());
                }
            }
        }
        assert!(yes > 1_000 && no > 1_000, "{yes} matches, {no} not");
    }

    /// Every country code that several regions share has its [`LeadingDigits`] set, and the
    /// set answers as each region's own anchored pattern, on the national variants of every
    /// region of the code and on each of them after a digit (which the patterns can match
    /// further in, but not from the start).
    #[test]
    fn leading_digits_sets_answer_as_each_pattern() {
        let (mut codes, mut yes, mut no) = (0, 0, 0);
        for code in 1..1000u16 {
            let Some(regions) = DATABASE.region(&code).filter(|r| r.len() > 1) else {
                assert!(leading_digits_of(code).is_none(), "+{code}");
                continue;
            };
            codes += 1;
            let set = leading_digits_of(code).unwrap_or_else(|| panic!("+{code}: no set"));
            assert_eq!(set.slots.len(), regions.len(), "+{code}");
            let metas: Vec<&Metadata> = regions
                .iter()
                .map(|r| DATABASE.by_id(*r).unwrap_or_else(|| panic!("+{code} {r}")))
                .collect();
            let mut texts: Vec<String> = metas.iter().flat_map(|m| national_variants(m)).collect();
            let shifted: Vec<String> = texts.iter().map(|t| format!("0{t}")).collect();
            texts.extend(shifted);
            for text in &texts {
                let mut found = None;
                for (i, meta) in metas.iter().enumerate() {
                    let Some(pattern) = meta.leading_digits() else {
                        assert!(!set.starts(i, text, &mut found), "+{code} {text}");
                        continue;
                    };
                    let want = pattern.is_match_at_start(text);
                    assert_eq!(
                        set.starts(i, text, &mut found),
                        want,
                        "+{code} {} {text}",
                        meta.id()
                    );
                    if want {
                        yes += 1;
                    } else {
                        no += 1;
                    }
                }
            }
        }
        assert!(
            codes >= 10 && yes > 100 && no > 1_000,
            "{codes} codes, {yes} starts, {no} not"
        );
    }

    #[test]
    fn digit_count() {
        assert!(looks_like_phone("030 901820"));
        assert!(!looks_like_phone("n/a"));
        assert!(!looks_like_phone("1234"));
    }
}
