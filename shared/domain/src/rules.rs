//! Rule conditions over canonical lead fields: compiled once when the config loads, evaluated
//! per lead without allocating.

use leadrouter_lead::Lead;
use regex::Regex;
use serde_json::Value;

/// A lead field a condition can look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `source`
    Source,
    /// `external_id`
    ExternalId,
    /// `email`
    Email,
    /// `email_domain`: the part of the email after `@` (derived).
    EmailDomain,
    /// `phone`
    Phone,
    /// `first_name`
    FirstName,
    /// `last_name`
    LastName,
    /// `company`
    Company,
    /// `company_domain`
    CompanyDomain,
    /// `job_title`
    JobTitle,
    /// `country`
    Country,
    /// `region`
    Region,
    /// `city`
    City,
    /// `postal_code`
    PostalCode,
    /// `industry`
    Industry,
    /// `product_interest` (a list: a condition holds if it holds for any element)
    ProductInterest,
    /// `seats`
    Seats,
    /// `deal_value`
    DealValue,
    /// `currency`
    Currency,
    /// `score`
    Score,
    /// `language`
    Language,
    /// `utm_source`
    UtmSource,
    /// `utm_medium`
    UtmMedium,
    /// `utm_campaign`
    UtmCampaign,
    /// `utm_term`
    UtmTerm,
    /// `utm_content`
    UtmContent,
    /// `landing_page`
    LandingPage,
    /// `consent`
    Consent,
    /// `message`
    Message,
    /// `custom.<key>`: a key the source sent that is not a canonical field.
    Custom(String),
}

/// Every field name a rule may use, for error hints and docs: `source`, the canonical lead
/// fields, the derived `email_domain`, and `custom.<key>`.
pub fn field_names() -> Vec<&'static str> {
    let mut names = vec!["source"];
    names.extend(leadrouter_lead::CANONICAL_FIELDS);
    names.extend(["email_domain", "custom.<key>"]);
    names
}

impl Field {
    /// Parses a field name as written in a rule.
    pub fn parse(name: &str) -> Option<Field> {
        use Field::*;
        Some(match name {
            "source" => Source,
            "external_id" => ExternalId,
            "email" => Email,
            "email_domain" => EmailDomain,
            "phone" => Phone,
            "first_name" => FirstName,
            "last_name" => LastName,
            "company" => Company,
            "company_domain" => CompanyDomain,
            "job_title" => JobTitle,
            "country" => Country,
            "region" => Region,
            "city" => City,
            "postal_code" => PostalCode,
            "industry" => Industry,
            "product_interest" => ProductInterest,
            "seats" => Seats,
            "deal_value" => DealValue,
            "currency" => Currency,
            "score" => Score,
            "language" => Language,
            "utm_source" => UtmSource,
            "utm_medium" => UtmMedium,
            "utm_campaign" => UtmCampaign,
            "utm_term" => UtmTerm,
            "utm_content" => UtmContent,
            "landing_page" => LandingPage,
            "consent" => Consent,
            "message" => Message,
            other => {
                let key = other.strip_prefix("custom.")?;
                if key.is_empty() {
                    return None;
                }
                Custom(key.to_owned())
            }
        })
    }

    /// The field's bit in a lead's presence mask ([`presence`]): one per canonical field, none
    /// (0) for custom keys, whose presence is looked up per condition.
    pub(crate) fn presence_bit(&self) -> u32 {
        match PRESENCE_FIELDS.iter().position(|f| f == self) {
            Some(i) => 1 << i,
            None => 0,
        }
    }

    /// Whether the field holds a number.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Field::Seats | Field::DealValue | Field::Score)
    }
}

/// The fields a presence mask covers, bit `i` for `PRESENCE_FIELDS[i]` (29 fit in a `u32`).
const PRESENCE_FIELDS: [Field; 29] = {
    use Field::*;
    [
        Source,
        ExternalId,
        Email,
        EmailDomain,
        Phone,
        FirstName,
        LastName,
        Company,
        CompanyDomain,
        JobTitle,
        Country,
        Region,
        City,
        PostalCode,
        Industry,
        ProductInterest,
        Seats,
        DealValue,
        Currency,
        Score,
        Language,
        UtmSource,
        UtmMedium,
        UtmCampaign,
        UtmTerm,
        UtmContent,
        LandingPage,
        Consent,
        Message,
    ]
};

/// Which of the fields in `wanted` (a mask of [`Field::presence_bit`]s) `lead` has: a field is
/// present exactly when a condition reading it would not see it as absent. Computed once per
/// lead, for the fields the config's rules need.
pub(crate) fn presence(lead: &Lead, wanted: u32) -> u32 {
    let mut present = 0;
    let mut rest = wanted;
    while rest != 0 {
        let i = rest.trailing_zeros();
        rest &= rest - 1;
        if let Some(f) = PRESENCE_FIELDS.get(i as usize)
            && !matches!(get(lead, f), Val::Absent)
        {
            present |= 1 << i;
        }
    }
    present
}

/// A borrowed view of one field's value on one lead.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Absent,
    Str(&'a str),
    Num(f64),
    Bool(bool),
    List(&'a [String]),
    Json(&'a Value),
}

#[inline]
fn opt_str(v: &Option<String>) -> Val<'_> {
    v.as_deref().map_or(Val::Absent, Val::Str)
}

#[inline]
fn get<'a>(lead: &'a Lead, field: &Field) -> Val<'a> {
    use Field::*;
    match field {
        Source => Val::Str(&lead.source),
        ExternalId => opt_str(&lead.external_id),
        Email => opt_str(&lead.email),
        EmailDomain => lead
            .email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map_or(Val::Absent, |(_, d)| Val::Str(d)),
        Phone => opt_str(&lead.phone),
        FirstName => opt_str(&lead.first_name),
        LastName => opt_str(&lead.last_name),
        Company => opt_str(&lead.company),
        CompanyDomain => opt_str(&lead.company_domain),
        JobTitle => opt_str(&lead.job_title),
        Country => opt_str(&lead.country),
        Region => opt_str(&lead.region),
        City => opt_str(&lead.city),
        PostalCode => opt_str(&lead.postal_code),
        Industry => opt_str(&lead.industry),
        ProductInterest if lead.product_interest.is_empty() => Val::Absent,
        ProductInterest => Val::List(&lead.product_interest),
        Seats => lead.seats.map_or(Val::Absent, |n| Val::Num(n as f64)),
        DealValue => lead.deal_value.map_or(Val::Absent, Val::Num),
        Currency => opt_str(&lead.currency),
        Score => lead.score.map_or(Val::Absent, Val::Num),
        Language => opt_str(&lead.language),
        UtmSource => opt_str(&lead.utm_source),
        UtmMedium => opt_str(&lead.utm_medium),
        UtmCampaign => opt_str(&lead.utm_campaign),
        UtmTerm => opt_str(&lead.utm_term),
        UtmContent => opt_str(&lead.utm_content),
        LandingPage => opt_str(&lead.landing_page),
        Consent => lead.consent.map_or(Val::Absent, Val::Bool),
        Message => opt_str(&lead.message),
        Custom(key) => match lead.custom.get(key) {
            None | Some(Value::Null) => Val::Absent,
            Some(Value::String(s)) => Val::Str(s),
            Some(Value::Number(n)) => n.as_f64().map_or(Val::Absent, Val::Num),
            Some(Value::Bool(b)) => Val::Bool(*b),
            Some(other) => Val::Json(other),
        },
    }
}

/// A constant a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Text.
    Str(String),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
}

/// Bit `i` set for each of the first 64 `values` that is ASCII text.
pub fn ascii_mask(values: &[Scalar]) -> u64 {
    values
        .iter()
        .take(64)
        .enumerate()
        .fold(0, |m, (i, v)| m | u64::from(v.is_ascii_text()) << i)
}

/// For an `in` list: bit `n` set for each value `n` bytes long (bit 63 for 63 or more), when
/// every value is a string (and, unless `case_sensitive`, ASCII, since Unicode case folding can
/// change lengths); otherwise 0, which means unknown.
pub fn length_mask(values: &[Scalar], case_sensitive: bool) -> u64 {
    let mut mask = 0;
    for v in values {
        match v {
            Scalar::Str(s) if case_sensitive || s.is_ascii() => mask |= 1 << s.len().min(63),
            _ => return 0,
        }
    }
    mask
}

impl Scalar {
    /// Whether this is text of ASCII characters only.
    pub fn is_ascii_text(&self) -> bool {
        matches!(self, Scalar::Str(s) if s.is_ascii())
    }

    /// Converts a config value; `None` for arrays, tables and null.
    pub fn from_json(v: &Value) -> Option<Scalar> {
        match v {
            Value::String(s) => Some(Scalar::Str(s.clone())),
            Value::Number(n) => n.as_f64().map(Scalar::Num),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Field equals the value (strings compare case-insensitively unless `case_sensitive`).
    Equals {
        /// The field.
        field: Field,
        /// The value.
        value: Scalar,
        /// Compare strings exactly.
        case_sensitive: bool,
        /// The value is known to be ASCII text ([`Scalar::is_ascii_text`], set at load; `false`
        /// means unknown): an ASCII field value of another length then differs without the
        /// value being read.
        ascii: bool,
    },
    /// Field equals one of the values.
    In {
        /// The field.
        field: Field,
        /// The values.
        values: Vec<Scalar>,
        /// Compare strings exactly.
        case_sensitive: bool,
        /// Bit `i` set: `values[i]` is known to be ASCII text ([`ascii_mask`], set at load), as
        /// `ascii` of `Equals`.
        ascii: u64,
        /// The values' lengths ([`length_mask`], set at load; 0 = unknown): a string field value
        /// of a length no value has is rejected without reading the list.
        lengths: u64,
    },
    /// Field starts with one of the prefixes.
    Prefix {
        /// The field.
        field: Field,
        /// The prefixes.
        prefixes: Vec<String>,
        /// Compare exactly.
        case_sensitive: bool,
    },
    /// Numeric field within bounds (each bound optional).
    Range {
        /// The field.
        field: Field,
        /// Exclusive lower bound.
        gt: Option<f64>,
        /// Inclusive lower bound.
        gte: Option<f64>,
        /// Exclusive upper bound.
        lt: Option<f64>,
        /// Inclusive upper bound.
        lte: Option<f64>,
    },
    /// Field is present (`true`) or absent (`false`).
    Exists {
        /// The field.
        field: Field,
        /// Expected presence.
        present: bool,
    },
    /// Field matches the regular expression (anywhere; anchor with `^...$`).
    Regex {
        /// The field.
        field: Field,
        /// The compiled expression.
        re: Regex,
    },
    /// Every sub-condition holds.
    All(Vec<Condition>),
    /// At least one sub-condition holds.
    Any(Vec<Condition>),
    /// The sub-condition does not hold.
    Not(Box<Condition>),
}

/// `a` (the lead's) equals `b` (the config's), up to case unless `case_sensitive`.
/// `b_ascii`: `b` is known to be ASCII (computed at load), so when `a` is ASCII and the lengths
/// differ, `b`'s bytes are never loaded: most rules compare values of other lengths, and
/// reading each value was a cache miss per rule.
#[inline]
fn str_eq(a: &str, b: &str, case_sensitive: bool, b_ascii: bool) -> bool {
    if case_sensitive {
        a == b
    } else if a.len() != b.len() && b_ascii && a.is_ascii() {
        false
    } else if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        // Equal up to ASCII case implies equal up to Unicode case: no need to look further.
        true
    } else if a.is_ascii() && (b_ascii || b.is_ascii()) {
        // The common case, without Unicode case folding (a few ns instead of a char loop).
        false
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

fn str_prefix(s: &str, prefix: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        s.starts_with(prefix)
    } else if s.is_ascii() && prefix.is_ascii() {
        s.len() >= prefix.len()
            && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        let mut s = s.chars().flat_map(char::to_lowercase);
        prefix
            .chars()
            .flat_map(char::to_lowercase)
            .all(|p| s.next() == Some(p))
    }
}

#[inline]
fn scalar_matches(v: Val<'_>, want: &Scalar, cs: bool, ascii: bool) -> bool {
    match (v, want) {
        (Val::Str(s), Scalar::Str(w)) => str_eq(s, w, cs, ascii),
        (Val::Str(s), Scalar::Num(w)) => s.trim().parse::<f64>().is_ok_and(|n| n == *w),
        (Val::Num(n), Scalar::Num(w)) => n == *w,
        (Val::Num(n), Scalar::Str(w)) => w.trim().parse::<f64>().is_ok_and(|w| n == w),
        (Val::Bool(b), Scalar::Bool(w)) => b == *w,
        (Val::List(items), _) => items
            .iter()
            .any(|i| scalar_matches(Val::Str(i), want, cs, ascii)),
        (Val::Json(Value::Array(items)), _) => items
            .iter()
            .any(|i| scalar_matches(json_val(i), want, cs, ascii)),
        _ => false,
    }
}

fn json_val(v: &Value) -> Val<'_> {
    match v {
        Value::String(s) => Val::Str(s),
        Value::Number(n) => n.as_f64().map_or(Val::Absent, Val::Num),
        Value::Bool(b) => Val::Bool(*b),
        Value::Null => Val::Absent,
        other => Val::Json(other),
    }
}

/// Applies `f` to each string the value holds (one for a string, each element for a list).
fn any_str(v: Val<'_>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Val::Str(s) => f(s),
        Val::List(items) => items.iter().any(|s| f(s)),
        Val::Json(Value::Array(items)) => items.iter().any(|i| i.as_str().is_some_and(&mut *f)),
        _ => false,
    }
}

fn as_num(v: Val<'_>) -> Option<f64> {
    match v {
        Val::Num(n) => Some(n),
        Val::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Condition {
    /// The canonical fields (a mask of [`Field::presence_bit`]s) a lead must have for the
    /// condition to hold: a comparison never holds for an absent field, `all` needs what any of
    /// its parts needs, `any` what every part needs, `not` nothing. Lets a rule be skipped with
    /// one mask test when the lead lacks a field it compares (see `RoutingConfig::match_rule`).
    pub(crate) fn needs(&self) -> u32 {
        match self {
            Condition::Equals { field, .. }
            | Condition::In { field, .. }
            | Condition::Prefix { field, .. }
            | Condition::Range { field, .. }
            | Condition::Regex { field, .. } => field.presence_bit(),
            Condition::Exists { field, present } => {
                if *present {
                    field.presence_bit()
                } else {
                    0
                }
            }
            Condition::All(cs) => cs.iter().fold(0, |m, c| m | c.needs()),
            Condition::Any(cs) if cs.is_empty() => 0,
            Condition::Any(cs) => cs.iter().fold(u32::MAX, |m, c| m & c.needs()),
            Condition::Not(_) => 0,
        }
    }

    /// Whether the condition holds for `lead`.
    pub fn matches(&self, lead: &Lead) -> bool {
        match self {
            Condition::Equals {
                field,
                value,
                case_sensitive,
                ascii,
            } => scalar_matches(get(lead, field), value, *case_sensitive, *ascii),
            Condition::In {
                field,
                values,
                case_sensitive,
                ascii,
                lengths,
            } => {
                let v = get(lead, field);
                // A string of a length no value has equals none of them (exactly, or up to
                // ASCII case when both are ASCII): the usual non-matching rule ends here,
                // without loading its list.
                if *lengths != 0
                    && let Val::Str(s) = v
                    && (*case_sensitive || s.is_ascii())
                    && lengths >> s.len().min(63) & 1 == 0
                {
                    return false;
                }
                values.iter().enumerate().any(|(i, w)| {
                    let known = i < 64 && ascii >> i & 1 == 1;
                    scalar_matches(v, w, *case_sensitive, known)
                })
            }
            Condition::Prefix {
                field,
                prefixes,
                case_sensitive,
            } => any_str(get(lead, field), &mut |s| {
                prefixes.iter().any(|p| str_prefix(s, p, *case_sensitive))
            }),
            Condition::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => as_num(get(lead, field)).is_some_and(|n| {
                gt.is_none_or(|b| n > b)
                    && gte.is_none_or(|b| n >= b)
                    && lt.is_none_or(|b| n < b)
                    && lte.is_none_or(|b| n <= b)
            }),
            Condition::Exists { field, present } => {
                !matches!(get(lead, field), Val::Absent) == *present
            }
            Condition::Regex { field, re } => match get(lead, field) {
                Val::Num(n) => re.is_match(itoa_f64(n).as_str()),
                v => any_str(v, &mut |s| re.is_match(s)),
            },
            Condition::All(cs) => cs.iter().all(|c| c.matches(lead)),
            Condition::Any(cs) => cs.iter().any(|c| c.matches(lead)),
            Condition::Not(c) => !c.matches(lead),
        }
    }
}

/// Numbers matched by a regex are formatted without a trailing `.0` (`25`, not `25.0`). This
/// allocates, but only for regexes over numeric fields, which are rare.
fn itoa_f64(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lead() -> Lead {
        let mut l = Lead {
            source: "form".into(),
            email: Some("ana@acme.de".into()),
            country: Some("DE".into()),
            seats: Some(250),
            score: Some(72.5),
            industry: Some("Software".into()),
            product_interest: vec!["Analytics".into(), "CRM".into()],
            consent: Some(true),
            ..Lead::default()
        };
        l.custom.insert("plan".into(), json!("Enterprise"));
        l.custom.insert("tags".into(), json!(["vip", "event"]));
        l
    }

    fn f(name: &str) -> Field {
        Field::parse(name).expect("known field")
    }

    #[test]
    fn equals_is_case_insensitive_by_default() {
        let l = lead();
        let c = |v: &str, cs| Condition::Equals {
            field: f("country"),
            value: Scalar::Str(v.into()),
            case_sensitive: cs,
            ascii: false,
        };
        assert!(c("de", false).matches(&l));
        assert!(!c("de", true).matches(&l));
        assert!(!c("FR", false).matches(&l));
        let num = Condition::Equals {
            field: f("seats"),
            value: Scalar::Num(250.0),
            case_sensitive: false,
            ascii: false,
        };
        assert!(num.matches(&l));
        let b = Condition::Equals {
            field: f("consent"),
            value: Scalar::Bool(true),
            case_sensitive: false,
            ascii: false,
        };
        assert!(b.matches(&l));
    }

    #[test]
    fn in_list_matches_any_value_and_list_fields() {
        let l = lead();
        let c = Condition::In {
            field: f("country"),
            values: vec![Scalar::Str("AT".into()), Scalar::Str("DE".into())],
            case_sensitive: false,
            ascii: 0,
            lengths: 0,
        };
        assert!(c.matches(&l));
        let p = Condition::In {
            field: f("product_interest"),
            values: vec![Scalar::Str("crm".into())],
            case_sensitive: false,
            ascii: 0,
            lengths: 0,
        };
        assert!(p.matches(&l));
        let none = Condition::In {
            field: f("industry"),
            values: vec![],
            case_sensitive: false,
            ascii: 0,
            lengths: 0,
        };
        assert!(!none.matches(&l));
    }

    #[test]
    fn values_known_to_be_ascii_compare_as_unknown_ones_do() {
        // The Kelvin sign lowercases to an ASCII `k`: lengths differ, the values are equal.
        let kelvin = "\u{212A}";
        let mut l = lead();
        for (lead_value, want) in [
            ("DE", "de"),
            ("DE", "deu"),
            ("DE", "X1"),
            (kelvin, "k"),
            ("k", kelvin),
            ("Straße", "STRASSE"),
            ("ÄRZTE", "ärzte"),
        ] {
            l.country = Some(lead_value.into());
            let value = Scalar::Str(want.into());
            let unknown = Condition::Equals {
                field: f("country"),
                value: value.clone(),
                case_sensitive: false,
                ascii: false,
            };
            let known = Condition::Equals {
                field: f("country"),
                ascii: value.is_ascii_text(),
                value: value.clone(),
                case_sensitive: false,
            };
            let values = vec![Scalar::Str("zz".into()), value];
            let list = Condition::In {
                field: f("country"),
                ascii: ascii_mask(&values),
                lengths: length_mask(&values, false),
                values,
                case_sensitive: false,
            };
            let exact_values = vec![Scalar::Str("zz".into()), Scalar::Str(want.into())];
            let exact = Condition::In {
                field: f("country"),
                ascii: ascii_mask(&exact_values),
                lengths: length_mask(&exact_values, true),
                values: exact_values,
                case_sensitive: true,
            };
            assert_eq!(
                exact.matches(&l),
                lead_value == want,
                "{lead_value:?} exactly"
            );
            let expected = unknown.matches(&l);
            assert_eq!(known.matches(&l), expected, "{lead_value:?} vs {want:?}");
            assert_eq!(
                list.matches(&l),
                expected,
                "{lead_value:?} in [zz, {want:?}]"
            );
        }
        l.country = Some(kelvin.into());
        let k = Condition::Equals {
            field: f("country"),
            value: Scalar::Str("k".into()),
            case_sensitive: false,
            ascii: true,
        };
        assert!(k.matches(&l), "Unicode case folding still applies");
        assert_eq!(ascii_mask(&[Scalar::Str("é".into()), Scalar::Num(1.0)]), 0);
        assert_eq!(length_mask(&[Scalar::Str("é".into())], false), 0);
        assert_eq!(length_mask(&[Scalar::Str("é".into())], true), 1 << 2);
        assert_eq!(
            length_mask(&[Scalar::Str("ab".into()), Scalar::Num(1.0)], true),
            0
        );
        // A number in the list still matches a string field holding it.
        l.country = Some("7".into());
        let mixed = vec![Scalar::Str("ab".into()), Scalar::Num(7.0)];
        let c = Condition::In {
            field: f("country"),
            ascii: ascii_mask(&mixed),
            lengths: length_mask(&mixed, false),
            values: mixed,
            case_sensitive: false,
        };
        assert!(c.matches(&l));
    }

    #[test]
    fn prefix_matches_start_only() {
        let l = lead();
        let c = |p: &str| Condition::Prefix {
            field: f("industry"),
            prefixes: vec![p.into()],
            case_sensitive: false,
        };
        assert!(c("soft").matches(&l));
        assert!(!c("ware").matches(&l));
        assert!(!c("Softwares").matches(&l));
    }

    #[test]
    fn numeric_ranges_respect_bounds() {
        let l = lead();
        let r = |gt, gte, lt, lte| Condition::Range {
            field: f("seats"),
            gt,
            gte,
            lt,
            lte,
        };
        assert!(r(None, Some(250.0), None, None).matches(&l));
        assert!(!r(Some(250.0), None, None, None).matches(&l));
        assert!(r(None, None, None, Some(250.0)).matches(&l));
        assert!(!r(None, None, Some(250.0), None).matches(&l));
        assert!(r(Some(100.0), None, Some(1000.0), None).matches(&l));
        // A missing field is never in range.
        let missing = Condition::Range {
            field: f("deal_value"),
            gt: None,
            gte: Some(0.0),
            lt: None,
            lte: None,
        };
        assert!(!missing.matches(&l));
    }

    #[test]
    fn exists_checks_presence() {
        let l = lead();
        let e = |name: &str, present| Condition::Exists {
            field: f(name),
            present,
        };
        assert!(e("email", true).matches(&l));
        assert!(e("phone", false).matches(&l));
        assert!(e("custom.plan", true).matches(&l));
        assert!(!e("custom.other", true).matches(&l));
        assert!(!e("product_interest", false).matches(&l));
    }

    #[test]
    fn regex_matches_strings_lists_and_numbers() {
        let l = lead();
        let re = |name: &str, r: &str| Condition::Regex {
            field: f(name),
            re: Regex::new(r).expect("regex"),
        };
        assert!(re("email", r"@acme\.(de|com)$").matches(&l));
        assert!(!re("email", r"@gmail\.com$").matches(&l));
        assert!(re("custom.tags", "^vip$").matches(&l));
        assert!(re("seats", "^25[0-9]$").matches(&l));
        assert!(re("email_domain", "^acme").matches(&l));
    }

    #[test]
    fn combinators_compose() {
        let l = lead();
        let de = Condition::Equals {
            field: f("country"),
            value: Scalar::Str("DE".into()),
            case_sensitive: false,
            ascii: false,
        };
        let fr = Condition::Equals {
            field: f("country"),
            value: Scalar::Str("FR".into()),
            case_sensitive: false,
            ascii: false,
        };
        assert!(Condition::All(vec![de.clone()]).matches(&l));
        assert!(!Condition::All(vec![de.clone(), fr.clone()]).matches(&l));
        assert!(Condition::Any(vec![fr.clone(), de.clone()]).matches(&l));
        assert!(!Condition::Any(vec![]).matches(&l));
        assert!(Condition::All(vec![]).matches(&l));
        assert!(Condition::Not(Box::new(fr)).matches(&l));
        assert!(!Condition::Not(Box::new(de)).matches(&l));
    }

    #[test]
    fn a_condition_never_holds_for_a_lead_lacking_a_field_it_needs() {
        let full = lead();
        let empty = Lead::default();
        let no_email = Lead {
            email: Some("no-at-sign".into()),
            ..lead()
        };
        let eq = |name: &str, v: Scalar| Condition::Equals {
            field: f(name),
            value: v,
            case_sensitive: false,
            ascii: false,
        };
        let conds = vec![
            eq("country", Scalar::Str("de".into())),
            eq("seats", Scalar::Num(250.0)),
            eq("email_domain", Scalar::Str("acme.de".into())),
            eq("custom.plan", Scalar::Str("enterprise".into())),
            Condition::Exists {
                field: f("phone"),
                present: false,
            },
            Condition::Exists {
                field: f("product_interest"),
                present: true,
            },
            Condition::Not(Box::new(eq("country", Scalar::Str("fr".into())))),
            Condition::All(vec![
                eq("country", Scalar::Str("de".into())),
                eq("industry", Scalar::Str("software".into())),
            ]),
            Condition::Any(vec![
                eq("country", Scalar::Str("de".into())),
                eq("source", Scalar::Str("form".into())),
            ]),
            Condition::Any(vec![]),
            Condition::All(vec![]),
        ];
        for l in [&full, &empty, &no_email] {
            let present = presence(l, u32::MAX);
            for c in &conds {
                if c.needs() & !present != 0 {
                    assert!(!c.matches(l), "{c:?} on {l:?}");
                }
            }
        }
        // The skip is real: a lead without a country skips a country comparison.
        assert_ne!(conds[0].needs() & !presence(&empty, u32::MAX), 0);
        assert_eq!(conds[3].needs(), 0, "custom keys are not in the mask");
        assert_eq!(conds[6].needs(), 0, "`not` needs nothing");
        assert_eq!(
            presence(&no_email, Field::EmailDomain.presence_bit()),
            0,
            "an email without `@` has no domain"
        );
    }

    #[test]
    fn field_names_parse() {
        for name in field_names().into_iter().filter(|n| !n.contains('<')) {
            assert!(Field::parse(name).is_some(), "{name}");
        }
        assert_eq!(Field::parse("custom.x"), Some(Field::Custom("x".into())));
        assert_eq!(Field::parse("custom."), None);
        assert_eq!(Field::parse("nope"), None);
    }
}
