//! Numbers as people write them: `25 seats`, `1,000`, `10k`, `$25,000`, `25 000 EUR`,
//! `€1.5m`, `1.200,50 €`, `10-50k`, `500+`; and ISO 4217 currencies.

use super::country_table::CURRENCIES;

/// What a quantity counts; decides which words may accompany the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Seats, users: any unit words may follow the number (`25 seats`, `25 Lizenzen`).
    Count,
    /// An amount of money: currency symbols, codes and names may come before or after it.
    Money,
}

/// A parsed quantity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantity {
    /// The value; for a range (`10-50k`) its upper bound.
    pub value: f64,
    /// The ISO 4217 code of a currency symbol, code or name in the text.
    pub currency: Option<&'static str>,
    /// The text was a range, an open bound (`500+`, `under 10k`) or an approximation
    /// (`ca. 25`): the value does not carry everything that was written.
    pub approximate: bool,
}

/// The problem for text that is not a number of the kind.
pub(crate) fn not_a(kind: Kind) -> &'static str {
    match kind {
        Kind::Count => "must be a whole number",
        Kind::Money => "not a valid amount",
    }
}

/// The problem for a negative value.
pub(crate) const NEGATIVE: &str = "must not be negative";

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Num(&'a str),
    Word(String),
    Currency(&'static str),
    Dash,
    Plus,
    Approx,
}

/// Separators that may appear between digits of one number (grouping or decimal).
fn is_number_sep(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | '\'' | '’' | ' ' | '\u{A0}' | '\u{202F}' | '\u{2009}'
    )
}

fn currency_symbol(c: char) -> Option<&'static str> {
    Some(match c {
        '$' => "USD",
        '€' => "EUR",
        '£' => "GBP",
        '¥' => "JPY",
        '₹' => "INR",
        '₽' => "RUB",
        '₩' => "KRW",
        '₺' => "TRY",
        '₪' => "ILS",
        '₴' => "UAH",
        '₫' => "VND",
        '฿' => "THB",
        '₱' => "PHP",
        '₦' => "NGN",
        _ => return None,
    })
}

/// A currency written as a word (lowercase, without trailing dots).
fn currency_word(w: &str) -> Option<&'static str> {
    let code = match w {
        "euro" | "euros" => "EUR",
        "us" | "us$" | "dollar" | "dollars" => "USD",
        "pound" | "pounds" | "sterling" => "GBP",
        "fr" | "sfr" | "franken" | "franc" | "francs" => "CHF",
        "zł" | "zl" | "zloty" | "złoty" | "zlotys" => "PLN",
        "kč" => "CZK",
        "ft" => "HUF",
        "lei" => "RON",
        "yen" => "JPY",
        "yuan" | "rmb" => "CNY",
        "rupee" | "rupees" => "INR",
        "c$" | "ca$" => "CAD",
        "a$" | "au$" => "AUD",
        "nz$" => "NZD",
        "r$" => "BRL",
        "hk$" => "HKD",
        "s$" => "SGD",
        "mx$" => "MXN",
        _ => return iso_currency(w),
    };
    Some(code)
}

/// The ISO 4217 code `w` (any case), as the table's static string.
fn iso_currency(w: &str) -> Option<&'static str> {
    if w.len() != 3 || !w.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let upper = w.to_ascii_uppercase();
    CURRENCIES
        .binary_search(&upper.as_str())
        .ok()
        .map(|i| CURRENCIES[i])
}

/// Powers of ten written after a number (`10k`, `1,5 Mio.`, `2bn`).
fn multiplier(w: &str) -> Option<i32> {
    Some(match w {
        "k" | "tsd" | "tausend" | "thousand" | "thousands" => 3,
        "m" | "mm" | "mn" | "mio" | "mln" | "million" | "millions" | "millionen" => 6,
        "b" | "bn" | "mrd" | "billion" | "billions" | "milliarde" | "milliarden" => 9,
        _ => return None,
    })
}

/// Words that make a value approximate or an open bound when they come before it.
const APPROX_WORDS: &[&str] = &[
    "ab",
    "about",
    "above",
    "approx",
    "approximately",
    "aprox",
    "around",
    "as",
    "below",
    "between",
    "bis",
    "ca",
    "circa",
    "de",
    "entre",
    "environ",
    "etwa",
    "from",
    "jusqu",
    "less",
    "max",
    "maximum",
    "mehr",
    "min",
    "minimum",
    "more",
    "over",
    "rund",
    "roughly",
    "than",
    "to",
    "under",
    "ungefähr",
    "unter",
    "up",
    "weniger",
    "zwischen",
    "über",
];

/// Words between the two ends of a range (`10 to 50`, `10 bis 50`, `de 10 à 50`).
const RANGE_WORDS: &[&str] = &[
    "a", "and", "bis", "do", "et", "till", "to", "tot", "und", "à",
];

fn tokenize(s: &str) -> Option<Vec<Tok<'_>>> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |j: usize| chars.get(j).map(|&(_, c)| c);
    let byte_at = |j: usize| chars.get(j).map_or(s.len(), |&(p, _)| p);
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let leading_decimal = matches!(c, '.' | ',')
            && at(i + 1).is_some_and(|n| n.is_ascii_digit())
            && (i == 0 || !at(i - 1).is_some_and(|p| p.is_ascii_digit()));
        if c.is_ascii_digit() || leading_decimal {
            let mut j = i + 1;
            loop {
                if at(j).is_some_and(|d| d.is_ascii_digit()) {
                    j += 1;
                } else if at(j).is_some_and(is_number_sep)
                    && at(j + 1).is_some_and(|d| d.is_ascii_digit())
                {
                    j += 2;
                } else {
                    break;
                }
            }
            toks.push(Tok::Num(&s[byte_at(i)..byte_at(j)]));
            i = j;
        } else if c.is_alphabetic() {
            let mut j = i;
            let mut word = String::new();
            while let Some(l) = at(j).filter(|l| l.is_alphabetic()) {
                word.extend(l.to_lowercase());
                j += 1;
            }
            match at(j) {
                Some('$') => {
                    word.push('$');
                    j += 1;
                }
                Some('.') => j += 1,
                _ => {}
            }
            toks.push(Tok::Word(word));
            i = j;
        } else {
            if let Some(code) = currency_symbol(c) {
                toks.push(Tok::Currency(code));
            } else {
                match c {
                    '-' | '–' | '—' | '−' => toks.push(Tok::Dash),
                    '+' => toks.push(Tok::Plus),
                    '~' | '≈' | '<' | '>' | '≤' | '≥' | '=' => toks.push(Tok::Approx),
                    c if c.is_whitespace()
                        || matches!(c, ',' | '.' | ':' | '(' | ')' | '*' | '\'' | '’') => {}
                    _ => return None,
                }
            }
            i += 1;
        }
    }
    Some(toks)
}

/// A number with grouping and decimal separators, as a plain decimal string (`1.200,50` ->
/// `1200.50`). Both `.` and `,` are accepted as the decimal separator: with both present the
/// last one is; alone, it is a grouping separator when it occurs more than once or is followed
/// by exactly three digits (`1,000`, `1.000`), else the decimal separator (`1,5`, `0.500`).
/// Spaces and apostrophes only group. Groups must have three digits (two in Indian lakh style).
fn plain_decimal(n: &str) -> Option<String> {
    let owned;
    let n = if n.starts_with(['.', ',']) {
        owned = format!("0{n}");
        owned.as_str()
    } else {
        n
    };
    if !n.chars().all(|c| c.is_ascii_digit() || is_number_sep(c)) {
        return None;
    }
    let last_dot = n.rfind('.');
    let last_comma = n.rfind(',');
    let decimal_at = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(p), None) | (None, Some(p)) => {
            let sep = n[p..].chars().next()?;
            let single = n.matches(sep).count() == 1;
            let after = n[p + 1..].split(is_number_sep).next().unwrap_or_default();
            let before = &n[..p];
            let grouping = !single || (after.len() == 3 && before != "0");
            if grouping { None } else { Some(p) }
        }
        (None, None) => None,
    };
    let (int_part, frac) = match decimal_at {
        Some(p) => (&n[..p], &n[p + 1..]),
        None => (n, ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let groups: Vec<&str> = int_part.split(is_number_sep).collect();
    if groups.len() > 1 {
        let last = groups.len() - 1;
        let ok = groups.iter().enumerate().all(|(i, g)| match i {
            0 => (1..=3).contains(&g.len()),
            i if i == last => g.len() == 3,
            _ => (2..=3).contains(&g.len()),
        });
        if !ok {
            return None;
        }
    }
    let digits: String = groups.concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if frac.is_empty() {
        digits
    } else {
        format!("{digits}.{frac}")
    })
}

fn to_f64(decimal: &str, exponent: i32) -> Option<f64> {
    format!("{decimal}e{exponent}")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Parses a quantity written as text. Errors are problem texts.
pub(crate) fn parse_quantity(s: &str, kind: Kind) -> Result<Quantity, &'static str> {
    let not = not_a(kind);
    let toks = tokenize(s).ok_or(not)?;
    let mut amounts: Vec<(String, i32)> = Vec::new();
    let mut currency: Option<&'static str> = None;
    let mut approximate = false;
    let mut expect_second = false;
    let mut after_number = false;
    let mut set_currency = |code: &'static str| -> Result<(), &'static str> {
        if kind == Kind::Count || currency.is_some_and(|c| c != code) {
            return Err(not);
        }
        currency = Some(code);
        Ok(())
    };
    for tok in toks {
        let was_after_number = std::mem::replace(&mut after_number, false);
        match tok {
            Tok::Num(n) => {
                if !amounts.is_empty() && !expect_second {
                    return Err(not);
                }
                amounts.push((plain_decimal(n).ok_or(not)?, 0));
                expect_second = false;
                after_number = true;
            }
            Tok::Word(w) => {
                if let (true, Some(exp), Some(last)) =
                    (was_after_number, multiplier(&w), amounts.last_mut())
                {
                    last.1 = exp;
                } else if kind == Kind::Money
                    && let Some(code) = currency_word(&w)
                {
                    set_currency(code)?;
                } else if amounts.is_empty() && APPROX_WORDS.contains(&w.as_str()) {
                    approximate = true;
                } else if !amounts.is_empty() && !expect_second && RANGE_WORDS.contains(&w.as_str())
                {
                    expect_second = true;
                    approximate = true;
                } else if kind == Kind::Count && !amounts.is_empty() && !expect_second {
                    // A unit: `25 seats`, `25 Nutzer`.
                } else {
                    return Err(not);
                }
            }
            Tok::Currency(code) => set_currency(code)?,
            Tok::Dash => {
                if amounts.is_empty() {
                    return Err(NEGATIVE);
                }
                if expect_second {
                    return Err(not);
                }
                expect_second = true;
                approximate = true;
            }
            Tok::Plus => approximate |= !amounts.is_empty(),
            Tok::Approx => approximate = true,
        }
    }
    if amounts.is_empty() || expect_second {
        return Err(not);
    }
    let mut value: f64 = 0.0;
    for (decimal, exp) in &amounts {
        value = value.max(to_f64(decimal, *exp).ok_or(not)?);
    }
    Ok(Quantity {
        value,
        currency,
        approximate,
    })
}

/// A plain number with an optional sign (`42`, `-3.5`, `4,5`, `1,000`): for scores.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (negative, rest) = match t.strip_prefix('-').or_else(|| t.strip_prefix('−')) {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t.strip_prefix('+').unwrap_or(t).trim_start()),
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ',') {
        return None;
    }
    let v = to_f64(&plain_decimal(rest)?, 0)?;
    Some(if negative { -v } else { v })
}

/// The ISO 4217 code for an explicit currency: a code in any case (`eur`), a symbol (`€`,
/// `$`) or a common name (`euro`, `dollars`, `CHF`, `zł`).
pub(crate) fn currency_code(s: &str) -> Option<&'static str> {
    let t = s.trim();
    let mut chars = t.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some(code) = currency_symbol(c)
    {
        return Some(code);
    }
    let lower = t.to_lowercase();
    currency_word(lower.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Result<(f64, Option<&'static str>, bool), &'static str> {
        parse_quantity(s, Kind::Money).map(|q| (q.value, q.currency, q.approximate))
    }

    fn count(s: &str) -> Result<(f64, bool), &'static str> {
        parse_quantity(s, Kind::Count).map(|q| (q.value, q.approximate))
    }

    #[test]
    fn decimals_and_grouping() {
        for (input, want) in [
            ("25", "25"),
            ("1,000", "1000"),
            ("1.000", "1000"),
            ("1,000,000", "1000000"),
            ("1.000.000", "1000000"),
            ("25 000", "25000"),
            ("25\u{A0}000", "25000"),
            ("1'000'000", "1000000"),
            ("1.5", "1.5"),
            ("1,5", "1.5"),
            ("0.500", "0.500"),
            ("1,2345", "1.2345"),
            ("1.200,50", "1200.50"),
            ("1,200.50", "1200.50"),
            ("1 200,50", "1200.50"),
            ("12,34,567", "1234567"),
            (".5", "0.5"),
        ] {
            assert_eq!(plain_decimal(input).as_deref(), Some(want), "{input}");
        }
        for input in ["1,00,0", "1.2.3,4,5", "1,000.5.5", "12 34", "1,0000,000"] {
            assert_eq!(plain_decimal(input), None, "{input}");
        }
    }

    #[test]
    fn money_texts() {
        for (input, value, currency, approximate) in [
            ("10k", 10_000.0, None, false),
            ("$25,000", 25_000.0, Some("USD"), false),
            ("25 000 EUR", 25_000.0, Some("EUR"), false),
            ("€1.5m", 1_500_000.0, Some("EUR"), false),
            ("1.200,50 €", 1_200.5, Some("EUR"), false),
            ("1,5 Mio. €", 1_500_000.0, Some("EUR"), false),
            ("USD 5,000.00", 5_000.0, Some("USD"), false),
            ("US$ 5000", 5_000.0, Some("USD"), false),
            ("5.000 Euro", 5_000.0, Some("EUR"), false),
            ("CHF 12'500", 12_500.0, Some("CHF"), false),
            ("£2bn", 2e9, Some("GBP"), false),
            ("1.15k", 1_150.0, None, false),
            ("10 000 zł", 10_000.0, Some("PLN"), false),
            ("R$ 3.000", 3_000.0, Some("BRL"), false),
            ("$10k - $50k", 50_000.0, Some("USD"), true),
            ("10-50k", 50_000.0, None, true),
            ("$50k+", 50_000.0, Some("USD"), true),
            ("under $10,000", 10_000.0, Some("USD"), true),
            ("ca. 20.000 EUR", 20_000.0, Some("EUR"), true),
            ("~5k", 5_000.0, None, true),
            ("0", 0.0, None, false),
        ] {
            assert_eq!(money(input), Ok((value, currency, approximate)), "{input}");
        }
        for (input, problem) in [
            ("", "not a valid amount"),
            ("lots", "not a valid amount"),
            ("-5000", NEGATIVE),
            ("€5000 $", "not a valid amount"),
            ("5000 per year", "not a valid amount"),
            ("10 20", "not a valid amount"),
            ("10 -", "not a valid amount"),
            ("5/month", "not a valid amount"),
            ("5%", "not a valid amount"),
            ("1e400", "not a valid amount"),
            ("k10", "not a valid amount"),
        ] {
            assert_eq!(money(input), Err(problem), "{input}");
        }
    }

    #[test]
    fn count_texts() {
        for (input, value, approximate) in [
            ("25", 25.0, false),
            ("25 seats", 25.0, false),
            ("1,000", 1_000.0, false),
            ("1.000 Nutzer", 1_000.0, false),
            ("2k users", 2_000.0, false),
            ("11-50", 50.0, true),
            ("51 to 200 employees", 200.0, true),
            ("1000+", 1_000.0, true),
            ("up to 25", 25.0, true),
        ] {
            assert_eq!(count(input), Ok((value, approximate)), "{input}");
        }
        for input in ["many", "25 seats 10", "$25", "-3", "seats"] {
            assert!(count(input).is_err(), "{input}");
        }
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(parse_number("42"), Some(42.0));
        assert_eq!(parse_number(" -3.5 "), Some(-3.5));
        assert_eq!(parse_number("+7"), Some(7.0));
        assert_eq!(parse_number("4,5"), Some(4.5));
        assert_eq!(parse_number("1,000"), Some(1000.0));
        for input in ["", "-", "abc", "42abc", "4 2", "NaN", "inf", "1e3", "--1"] {
            assert_eq!(parse_number(input), None, "{input}");
        }
    }

    #[test]
    fn currencies() {
        for (input, want) in [
            ("EUR", Some("EUR")),
            ("eur", Some("EUR")),
            (" usd ", Some("USD")),
            ("€", Some("EUR")),
            ("$", Some("USD")),
            ("£", Some("GBP")),
            ("Euro", Some("EUR")),
            ("CHF", Some("CHF")),
            ("Fr.", Some("CHF")),
            ("zł", Some("PLN")),
            ("XYZ", None),
            ("euros please", None),
            ("", None),
        ] {
            assert_eq!(currency_code(input), want, "{input}");
        }
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
    }
}
