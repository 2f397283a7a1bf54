//! The field-by-field normalization shared by every entry point: a [`Draft`] (canonical
//! fields as JSON values, plus the custom map) becomes a [`Lead`] or a list of problems.

use super::consent::{self, Consent};
use super::numbers::{self, Kind, NEGATIVE};
use super::phone::{self, Phone};
use super::text::{clean_line, clean_text, too_long, too_long_problem};
use super::utm::{self, UTM_FIELDS};
use super::{country, domain, email, language, name};
use crate::{FieldProblem, Lead, ValidationError};
use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};
use uuid::Uuid;

/// The canonical fields a submission may set (the `Lead` fields the caller does not decide).
pub const FIELDS: [&str; 27] = [
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "company_domain",
    "job_title",
    "country",
    "region",
    "city",
    "postal_code",
    "industry",
    "product_interest",
    "seats",
    "deal_value",
    "currency",
    "score",
    "language",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "landing_page",
    "consent",
    "message",
];

/// Keys the caller decides ([`crate::Intake`]); ignored when a body carries them.
pub(crate) const IGNORED: [&str; 3] = ["id", "received_at", "source"];

/// Whether `key` is a canonical field. (`name` and `website` are not: they stay in `custom`,
/// where [`finish`] reads them.)
pub(crate) fn is_field(key: &str) -> bool {
    FIELDS.contains(&key)
}

/// Whether a custom value is worth keeping: null and blank strings count as absent.
pub(crate) fn keep_custom(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

/// Caps, in characters.
const NAME_MAX: usize = 256;
const LINE_MAX: usize = 256;
pub(crate) const EXTERNAL_ID_MAX: usize = 256;
const PHONE_MAX: usize = 100;
const COUNTRY_MAX: usize = 100;
const POSTAL_CODE_MAX: usize = 32;
const URL_MAX: usize = 2048;
const UTM_MAX: usize = 512;
const LANGUAGE_MAX: usize = 64;
const CURRENCY_MAX: usize = 32;
const NUMBER_TEXT_MAX: usize = 100;
const CONSENT_TEXT_MAX: usize = 2000;
const MESSAGE_MAX: usize = 10_000;
const PRODUCT_ITEM_MAX: usize = 256;
const PRODUCT_ITEMS_MAX: usize = 50;
/// Keys in `custom`, including the ones normalization adds.
pub(crate) const CUSTOM_KEYS_MAX: usize = 100;
/// Characters of one `custom` key.
const CUSTOM_KEY_MAX: usize = 128;
/// Levels of arrays and objects inside one `custom` value (`{"a": {"b": 1}}` is 2): deeper
/// values are no form answer, and every later reader of the lead pays for walking them.
const CUSTOM_DEPTH_MAX: usize = 8;

/// Levels of arrays and objects in `value` (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
const SEATS_MAX: u64 = 1_000_000_000;
const DEAL_VALUE_MAX: f64 = 1e15;

/// A submission split into canonical fields and custom values, before normalization.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    /// Canonical fields as submitted (keys from [`FIELDS`]).
    pub fields: Map<String, Value>,
    /// Everything else; `name` and `website` are read from here.
    pub custom: Map<String, Value>,
    /// Problems found while decoding the body.
    pub problems: Vec<FieldProblem>,
}

/// Where a draft came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// A raw submission; national phone numbers may use the intake's default country.
    Submitted { default_country: Option<&'a str> },
    /// A lead that is already canonical (renormalize): `custom` holds what an earlier
    /// normalization produced, so a kept `phone_raw` counts as a phone.
    Canonical,
}

/// Id, time and source of the lead, decided by the caller.
pub(crate) struct Meta {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    pub source: String,
    /// Carried through unchanged (see [`Lead::test`]).
    pub test: bool,
    /// Carried through; waives the email-or-phone requirement (see [`Lead::awaiting_enrichment`]).
    pub awaiting_enrichment: bool,
}

/// Reads canonical fields out of the draft, collecting problems.
struct Reader {
    fields: Map<String, Value>,
    problems: Vec<FieldProblem>,
}

impl Reader {
    fn problem(&mut self, field: &str, problem: impl Into<String>) {
        self.problems.push(FieldProblem::new(field, problem));
    }

    /// The value of a field; null counts as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.fields.remove(field).filter(|v| !v.is_null())
    }

    /// A string field as submitted: strings, and numbers in decimal (`"postal_code": 10115`).
    fn text(&mut self, field: &str) -> Option<String> {
        match self.take(field)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.problem(field, "must be a string");
                None
            }
        }
    }

    /// A single-line string field, cleaned; `None` when blank.
    fn line(&mut self, field: &str) -> Option<String> {
        Some(clean_line(&self.text(field)?)).filter(|s| !s.is_empty())
    }

    /// `value` unless it is longer than `max` characters (a problem).
    fn cap(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        let value = value?;
        if too_long(&value, max) {
            self.problem(field, too_long_problem(max));
            return None;
        }
        Some(value)
    }

    /// A single-line string field with a cap.
    fn capped_line(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.line(field);
        self.cap(field, value, max)
    }

    /// A numeric field given as text: cleaned, capped, `None` when blank.
    fn number_text(&mut self, field: &str, text: &str) -> Option<String> {
        let text = clean_line(text);
        if text.is_empty() {
            return None;
        }
        self.cap(field, Some(text), NUMBER_TEXT_MAX)
    }
}

/// Seats from a JSON number.
fn seats_from_number(n: &Number) -> Result<u64, String> {
    if let Some(v) = n.as_u64() {
        return if v > SEATS_MAX {
            Err(format!("too large (max {SEATS_MAX})"))
        } else {
            Ok(v)
        };
    }
    seats_from_f64(n.as_f64().unwrap_or(f64::NAN))
}

fn seats_from_f64(v: f64) -> Result<u64, String> {
    if !v.is_finite() || v.fract() != 0.0 {
        Err(numbers::not_a(Kind::Count).to_string())
    } else if v < 0.0 {
        Err(NEGATIVE.to_string())
    } else if v > SEATS_MAX as f64 {
        Err(format!("too large (max {SEATS_MAX})"))
    } else {
        // Whole, non-negative and at most SEATS_MAX: the conversion is exact.
        Ok(v as u64)
    }
}

fn check_amount(v: f64) -> Result<f64, String> {
    if !v.is_finite() {
        Err("must be a number".to_string())
    } else if v < 0.0 {
        Err(NEGATIVE.to_string())
    } else if v > DEAL_VALUE_MAX {
        Err(format!("too large (max {DEAL_VALUE_MAX:e})"))
    } else {
        Ok(v)
    }
}

/// Normalizes a draft into a lead, or reports every problem.
pub(crate) fn finish(
    draft: Draft,
    meta: Meta,
    origin: Origin<'_>,
) -> Result<Lead, ValidationError> {
    let Draft {
        fields,
        mut custom,
        problems,
    } = draft;
    let mut r = Reader { fields, problems };
    // Custom keys added by normalization; they overwrite submitted keys of the same name.
    let mut added: Vec<(&'static str, Value)> = Vec::new();

    let external_id = r.capped_line("external_id", EXTERNAL_ID_MAX);

    let email_submitted = r.line("email");
    let email = email_submitted.as_deref().and_then(email::normalize);
    if email_submitted.is_some() && email.is_none() {
        r.problem("email", "not a valid email address");
    }

    let phone_submitted = r.capped_line("phone", PHONE_MAX);

    // Names: explicit parts, else the full `name` split.
    let mut first_name = r.line("first_name").map(|s| name::person(&s));
    let mut last_name = r.line("last_name").map(|s| name::person(&s));
    if first_name.is_none() && last_name.is_none() {
        let full = custom
            .get("name")
            .and_then(Value::as_str)
            .map(clean_line)
            .unwrap_or_default();
        if too_long(&full, NAME_MAX) {
            r.problem("name", too_long_problem(NAME_MAX));
        } else if !full.is_empty() {
            let split = name::split_full_name(&full);
            if split.first.is_some() || split.last.is_some() {
                first_name = split.first.map(|s| name::person(&s));
                last_name = split.last.map(|s| name::person(&s));
                custom.remove("name");
                if let Some(salutation) = split.salutation {
                    added.push(("salutation", Value::String(salutation)));
                }
            }
        }
    }
    let first_name = r.cap("first_name", first_name, NAME_MAX);
    let last_name = r.cap("last_name", last_name, NAME_MAX);

    let company = r.capped_line("company", LINE_MAX);
    let job_title = r.capped_line("job_title", LINE_MAX);

    let country_submitted = r.capped_line("country", COUNTRY_MAX);
    let country = country_submitted.as_deref().and_then(country::lookup);
    if let (None, Some(raw)) = (country, &country_submitted) {
        added.push(("country_raw", Value::String(raw.clone())));
    }

    let default_country = match origin {
        Origin::Submitted { default_country } => default_country.and_then(country::lookup),
        Origin::Canonical => None,
    };
    let mut phone = None;
    let mut reachable_by_phone = false;
    if let Some(raw) = phone_submitted {
        match phone::normalize(&raw, country.or(default_country)) {
            Phone::Valid { e164, extension } => {
                phone = Some(e164);
                reachable_by_phone = true;
                if let Some(extension) = extension {
                    added.push(("phone_extension", Value::String(extension)));
                }
            }
            Phone::Invalid => {
                reachable_by_phone = phone::looks_like_phone(&raw);
                added.push(("phone_raw", Value::String(raw)));
            }
        }
    }

    let company_domain = match r.capped_line("company_domain", URL_MAX) {
        Some(explicit) => {
            let d = domain::normalize(&explicit);
            if d.is_none() {
                r.problem("company_domain", "not a valid domain");
            }
            d
        }
        None => custom
            .get("website")
            .and_then(Value::as_str)
            .map(clean_line)
            .filter(|w| !too_long(w, URL_MAX))
            .and_then(|w| domain::from_website(&w))
            .or_else(|| email.as_deref().and_then(domain::from_email)),
    };

    let region = r.capped_line("region", LINE_MAX);
    let city = r.capped_line("city", LINE_MAX);
    let postal_code = r.line("postal_code").map(|p| p.to_uppercase());
    let postal_code = r.cap("postal_code", postal_code, POSTAL_CODE_MAX);
    let industry = r.capped_line("industry", LINE_MAX);

    let product_interest = product_interest(&mut r);

    let seats = match r.take("seats") {
        None => None,
        Some(Value::Number(n)) => seats_from_number(&n)
            .map_err(|p| r.problem("seats", p))
            .ok(),
        Some(Value::String(s)) => r.number_text("seats", &s).and_then(|text| {
            let q = numbers::parse_quantity(&text, Kind::Count)
                .map_err(|p| r.problem("seats", p))
                .ok()?;
            let seats = seats_from_f64(q.value)
                .map_err(|p| r.problem("seats", p))
                .ok()?;
            if q.approximate {
                added.push(("seats_raw", Value::String(text)));
            }
            Some(seats)
        }),
        Some(_) => {
            r.problem("seats", numbers::not_a(Kind::Count));
            None
        }
    };

    let mut text_currency = None;
    let deal_value = match r.take("deal_value") {
        None => None,
        Some(Value::Number(n)) => check_amount(n.as_f64().unwrap_or(f64::NAN))
            .map_err(|p| r.problem("deal_value", p))
            .ok(),
        Some(Value::String(s)) => r.number_text("deal_value", &s).and_then(|text| {
            let q = numbers::parse_quantity(&text, Kind::Money)
                .map_err(|p| r.problem("deal_value", p))
                .ok()?;
            let value = check_amount(q.value)
                .map_err(|p| r.problem("deal_value", p))
                .ok()?;
            text_currency = q.currency;
            if q.approximate {
                added.push(("deal_value_raw", Value::String(text)));
            }
            Some(value)
        }),
        Some(_) => {
            r.problem("deal_value", "must be a number");
            None
        }
    };

    let currency = match r.capped_line("currency", CURRENCY_MAX) {
        Some(c) => {
            let code = numbers::currency_code(&c);
            if code.is_none() {
                r.problem("currency", "not a valid ISO 4217 currency code");
            }
            code
        }
        None => text_currency,
    };

    let score = match r.take("score") {
        None => None,
        Some(Value::Number(n)) => n.as_f64().filter(|v| v.is_finite()),
        Some(Value::String(s)) => {
            let text = clean_line(&s);
            if text.is_empty() {
                None
            } else {
                let v = numbers::parse_number(&text);
                if v.is_none() {
                    r.problem("score", "must be a number");
                }
                v
            }
        }
        Some(_) => {
            r.problem("score", "must be a number");
            None
        }
    };

    let language = r.line("language").map(|l| language::normalize(&l));
    let language = r.cap("language", language, LANGUAGE_MAX);

    let mut utms: [Option<String>; 5] = Default::default();
    for (slot, field) in utms.iter_mut().zip(UTM_FIELDS) {
        *slot = r.capped_line(field, UTM_MAX);
    }
    let landing_page = r.capped_line("landing_page", URL_MAX);
    if let Some(url) = &landing_page {
        for (slot, from_url) in utms.iter_mut().zip(utm::from_url(url, UTM_MAX)) {
            if slot.is_none() {
                *slot = from_url;
            }
        }
    }
    let [utm_source, utm_medium, utm_campaign, utm_term, utm_content] = utms;

    let consent = match r.take("consent") {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Some(true),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Some(false),
        Some(Value::String(s)) => {
            let text = clean_line(&s);
            match r.cap(
                "consent",
                Some(text).filter(|t| !t.is_empty()),
                CONSENT_TEXT_MAX,
            ) {
                None => None,
                Some(text) => match consent::parse(&text) {
                    Consent::Plain(b) => Some(b),
                    Consent::Worded(wording) => {
                        added.push(("consent_text", Value::String(wording)));
                        Some(true)
                    }
                },
            }
        }
        Some(_) => {
            r.problem("consent", "must be a boolean");
            None
        }
    };

    let message = r
        .text("message")
        .map(|m| clean_text(&m))
        .filter(|m| !m.is_empty());
    let message = r.cap("message", message, MESSAGE_MAX);

    for (key, value) in added {
        custom.insert(key.to_string(), value);
    }

    // A canonical lead's `phone_raw` was kept by an earlier normalization from the phone the
    // lead was submitted with (read after merging: a new `phone_raw` replaces it).
    if let (Origin::Canonical, false) = (origin, reachable_by_phone) {
        reachable_by_phone = custom
            .get("phone_raw")
            .and_then(Value::as_str)
            .is_some_and(phone::looks_like_phone);
    }
    if email.is_none()
        && email_submitted.is_none()
        && !reachable_by_phone
        && !meta.awaiting_enrichment
    {
        r.problem("email", "email or phone is required");
    }
    if custom.len() > CUSTOM_KEYS_MAX {
        r.problem("custom", format!("too many fields (max {CUSTOM_KEYS_MAX})"));
    }
    for (key, value) in &custom {
        if too_long(key, CUSTOM_KEY_MAX) {
            // The key itself is not echoed: it is too long to be a field name.
            r.problem(
                "custom",
                format!("a field name is longer than {CUSTOM_KEY_MAX} characters"),
            );
        } else if depth(value) > CUSTOM_DEPTH_MAX {
            r.problem(
                key,
                format!("nested more than {CUSTOM_DEPTH_MAX} levels deep"),
            );
        }
    }

    if !r.problems.is_empty() {
        return Err(ValidationError::new(r.problems));
    }
    Ok(Lead {
        test: meta.test,
        awaiting_enrichment: meta.awaiting_enrichment,
        id: meta.id,
        received_at: meta.received_at,
        source: meta.source,
        external_id,
        email,
        phone,
        first_name,
        last_name,
        company,
        company_domain,
        job_title,
        country: country.map(str::to_string),
        region,
        city,
        postal_code,
        industry,
        product_interest,
        seats,
        deal_value,
        currency: currency.map(str::to_string),
        score,
        language,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        landing_page,
        consent,
        message,
        custom,
    })
}

/// `product_interest`: a list of strings, or one string of items separated by `,` or `;`.
/// Items are cleaned; blanks and duplicates are dropped.
fn product_interest(r: &mut Reader) -> Vec<String> {
    const FIELD: &str = "product_interest";
    const WRONG_TYPE: &str = "must be a list of strings or a comma-separated string";
    let raw: Vec<String> = match r.take(FIELD) {
        None => return Vec::new(),
        Some(Value::String(s)) => s.split([',', ';']).map(str::to_string).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s),
                    Value::Number(n) => out.push(n.to_string()),
                    Value::Null => {}
                    _ => {
                        r.problem(FIELD, WRONG_TYPE);
                        return Vec::new();
                    }
                }
            }
            out
        }
        Some(_) => {
            r.problem(FIELD, WRONG_TYPE);
            return Vec::new();
        }
    };
    let mut items: Vec<String> = Vec::new();
    for item in raw {
        let item = clean_line(&item);
        if item.is_empty() || items.contains(&item) {
            continue;
        }
        if too_long(&item, PRODUCT_ITEM_MAX) {
            r.problem(FIELD, format!("item too long (max {PRODUCT_ITEM_MAX})"));
            return Vec::new();
        }
        if items.len() == PRODUCT_ITEMS_MAX {
            r.problem(FIELD, format!("too many items (max {PRODUCT_ITEMS_MAX})"));
            return Vec::new();
        }
        items.push(item);
    }
    items
}
