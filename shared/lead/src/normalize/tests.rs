//! End-to-end tests of the entry points, and property tests.

use super::{normalize_external_id, normalize_form, normalize_json, normalize_object, renormalize};
use crate::{FieldProblem, Intake, Lead, ValidationError};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53)
        .single()
        .unwrap_or_default()
}

fn intake(source: &str, default_country: Option<&str>) -> Intake {
    Intake {
        id: Uuid::from_u128(0x0195_9a3c_0000_7000_8000_0000_0000_0001),
        received_at: received_at(),
        source: source.to_string(),
        default_country: default_country.map(str::to_string),
        test: false,
        awaiting_enrichment: false,
    }
}

fn api() -> Intake {
    intake("api", None)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn json_ok(body: Value) -> Lead {
    match normalize_json(&body, &api()) {
        Ok(lead) => lead,
        Err(e) => panic!("{e}"),
    }
}

fn json_err(body: Value) -> Vec<FieldProblem> {
    match normalize_json(&body, &api()) {
        Ok(lead) => panic!("accepted: {lead:?}"),
        Err(e) => e.problems,
    }
}

fn problems(list: &[(&str, &str)]) -> Vec<FieldProblem> {
    list.iter()
        .map(|(f, p)| FieldProblem::new(*f, *p))
        .collect()
}

/// Asserts that renormalizing `lead` gives it back unchanged.
fn assert_fixed_point(lead: &Lead) {
    assert_eq!(
        renormalize(lead.clone()).as_ref(),
        Ok(lead),
        "renormalize changed the lead"
    );
}

#[test]
fn full_json_submission() {
    let body = json!({
        "email": "  Jane.Doe@EU.Mail.Acme-Robotics.co.uk ",
        "phone": "020 7946 0958",
        "name": "DR. JANE DOE",
        "company": "  Acme   Robotics Ltd ",
        "job_title": "Head of Procurement",
        "country": "Great Britain",
        "city": "London",
        "postal_code": "ec1a 1bb",
        "product_interest": "Arms, Vision ,, Arms",
        "seats": "1,200 seats",
        "deal_value": "£250k",
        "score": "87.5",
        "language": "en-GB",
        "landing_page": "https://acme-robotics.co.uk/demo?utm_source=linkedin&utm_medium=paid&utm_campaign=q3-launch",
        "utm_campaign": "Q3 Launch",
        "consent": "I agree to be contacted by Acme Robotics.",
        "message": "Hi,\r\nwe need 12 arms by Q4.\r\n",
        "id": "ignored",
        "source": "ignored",
        "received_at": "2001-01-01T00:00:00Z",
        "hs_context": {"pageName": "Demo"},
        "custom": {"crm_owner": "mike", "empty": ""},
        "website": "https://www.acme-robotics.co.uk/about"
    });
    let lead = match normalize_json(&body, &intake("api", Some("DE"))) {
        Ok(lead) => lead,
        Err(e) => panic!("{e}"),
    };
    let expected = Lead {
        id: api().id,
        received_at: received_at(),
        source: "api".into(),
        email: Some("jane.doe@eu.mail.acme-robotics.co.uk".into()),
        phone: Some("+442079460958".into()),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        company: Some("Acme Robotics Ltd".into()),
        company_domain: Some("acme-robotics.co.uk".into()),
        job_title: Some("Head of Procurement".into()),
        country: Some("GB".into()),
        city: Some("London".into()),
        postal_code: Some("EC1A 1BB".into()),
        product_interest: vec!["Arms".into(), "Vision".into()],
        seats: Some(1200),
        deal_value: Some(250_000.0),
        currency: Some("GBP".into()),
        score: Some(87.5),
        language: Some("en".into()),
        utm_source: Some("linkedin".into()),
        utm_medium: Some("paid".into()),
        utm_campaign: Some("Q3 Launch".into()),
        landing_page: Some(
            "https://acme-robotics.co.uk/demo?utm_source=linkedin&utm_medium=paid&utm_campaign=q3-launch".into(),
        ),
        consent: Some(true),
        message: Some("Hi,\nwe need 12 arms by Q4.".into()),
        custom: object(json!({
            "hs_context": {"pageName": "Demo"},
            "crm_owner": "mike",
            "website": "https://www.acme-robotics.co.uk/about",
            "salutation": "DR.",
            "consent_text": "I agree to be contacted by Acme Robotics."
        })),
        ..Lead::default()
    };
    assert_eq!(lead, expected);
    assert_fixed_point(&lead);
}

#[test]
fn full_form_submission() {
    let body = "first_name=j%C3%BCrgen&last_name=M%C3%9CLLER&email=J.Mueller%40web.de\
        &phone=0171+1234567&company=M%C3%BCller+GmbH&country=Deutschland&seats=11-50\
        &deal_value=1.200%2C50+%E2%82%AC&product_interest=CRM&product_interest=Analytics\
        &consent=0&consent=1&language=Deutsch&website=www.mueller-gmbh.de&utm_source=newsletter\
        &message=Bitte+r%C3%BCckrufen.%0D%0ADanke&_wpnonce=abc123&submit=Senden&city=";
    let lead = match normalize_form(body.as_bytes(), &intake("form", None)) {
        Ok(lead) => lead,
        Err(e) => panic!("{e}"),
    };
    let expected = Lead {
        id: api().id,
        received_at: received_at(),
        source: "form".into(),
        email: Some("j.mueller@web.de".into()),
        phone: Some("+491711234567".into()),
        first_name: Some("Jürgen".into()),
        last_name: Some("Müller".into()),
        company: Some("Müller GmbH".into()),
        company_domain: Some("mueller-gmbh.de".into()),
        country: Some("DE".into()),
        product_interest: vec!["CRM".into(), "Analytics".into()],
        seats: Some(50),
        deal_value: Some(1200.5),
        currency: Some("EUR".into()),
        language: Some("de".into()),
        utm_source: Some("newsletter".into()),
        consent: Some(true),
        message: Some("Bitte rückrufen.\nDanke".into()),
        custom: object(json!({
            "website": "www.mueller-gmbh.de",
            "_wpnonce": "abc123",
            "submit": "Senden",
            "seats_raw": "11-50"
        })),
        ..Lead::default()
    };
    assert_eq!(lead, expected);
    assert_fixed_point(&lead);
}

#[test]
fn minimal_submissions() {
    let lead = json_ok(json!({"email": "x@gmail.com"}));
    assert_eq!(lead.email.as_deref(), Some("x@gmail.com"));
    assert_eq!(
        lead.company_domain, None,
        "free-mail gives no company domain"
    );
    assert!(lead.custom.is_empty());
    assert_eq!((lead.id, lead.source.as_str()), (api().id, "api"));

    let lead = json_ok(json!({"phone": "+1 (650) 253-0000"}));
    assert_eq!(lead.phone.as_deref(), Some("+16502530000"));
}

#[test]
fn every_problem_is_reported() {
    let got = json_err(json!({
        "custom": [1],
        "email": "john@acme",
        "first_name": ["John"],
        "company_domain": "n/a",
        "product_interest": {"a": 1},
        "seats": 2.5,
        "deal_value": true,
        "currency": "XYZ",
        "score": "high",
        "consent": 2,
        "message": "x".repeat(10_001),
    }));
    assert_eq!(
        got,
        problems(&[
            ("custom", "must be an object"),
            ("email", "not a valid email address"),
            ("first_name", "must be a string"),
            ("company_domain", "not a valid domain"),
            (
                "product_interest",
                "must be a list of strings or a comma-separated string"
            ),
            ("seats", "must be a whole number"),
            ("deal_value", "must be a number"),
            ("currency", "not a valid ISO 4217 currency code"),
            ("score", "must be a number"),
            ("consent", "must be a boolean"),
            ("message", "too long (max 10000)"),
        ])
    );
}

#[test]
fn problems_never_echo_values() {
    let secret = "jane.secret.person";
    let err = normalize_json(
        &json!({"email": secret, "seats": secret, "country": [secret]}),
        &api(),
    );
    let text = err
        .map(|_| String::new())
        .unwrap_or_else(|e| format!("{e} {e:?}"));
    assert!(!text.is_empty() && !text.contains(secret), "{text}");
}

#[test]
fn contact_is_required() {
    let required = problems(&[("email", "email or phone is required")]);
    assert_eq!(json_err(json!({})), required);
    assert_eq!(
        json_err(json!({"email": "  ", "phone": null, "company": "Acme"})),
        required
    );
    assert_eq!(
        json_err(json!({"phone": "n/a"})),
        required,
        "junk phone is not a phone"
    );
    assert_eq!(
        json_err(json!({"email": "nope"})),
        problems(&[("email", "not a valid email address")])
    );
    // A national number without any country cannot be parsed, but it is still a phone.
    let lead = json_ok(json!({"phone": "030 901820"}));
    assert_eq!(lead.phone, None);
    assert_eq!(lead.custom.get("phone_raw"), Some(&json!("030 901820")));
    assert_fixed_point(&lead);
}

#[test]
fn body_must_be_an_object() {
    assert_eq!(
        normalize_json(&json!(["a@b.co"]), &api()),
        Err(ValidationError::new(problems(&[(
            "body",
            "must be a JSON object"
        )])))
    );
}

#[test]
fn phone_region_comes_from_country_then_default() {
    let with = |body: Value, default: Option<&str>| normalize_json(&body, &intake("api", default));
    let lead = with(json!({"phone": "030 901820", "country": "Germany"}), None);
    assert_eq!(
        lead.ok().and_then(|l| l.phone).as_deref(),
        Some("+4930901820")
    );
    let lead = with(json!({"phone": "030 901820"}), Some("deu"));
    assert_eq!(
        lead.ok().and_then(|l| l.phone).as_deref(),
        Some("+4930901820")
    );
    let lead = with(
        json!({"phone": "(650) 253-0000", "country": "usa"}),
        Some("DE"),
    );
    assert_eq!(
        lead.ok().and_then(|l| l.phone).as_deref(),
        Some("+16502530000")
    );
    let lead = with(
        json!({"phone": "+1 650 253 0000 x 42", "email": "a@b.co"}),
        None,
    )
    .ok();
    assert_eq!(
        lead.as_ref().and_then(|l| l.phone.as_deref()),
        Some("+16502530000")
    );
    assert_eq!(
        lead.as_ref().and_then(|l| l.custom.get("phone_extension")),
        Some(&json!("42"))
    );
    let lead = with(
        json!({"phone": "12345678901234", "email": "a@b.co"}),
        Some("DE"),
    )
    .ok();
    assert_eq!(lead.as_ref().and_then(|l| l.phone.as_deref()), None);
    assert_eq!(
        lead.as_ref().and_then(|l| l.custom.get("phone_raw")),
        Some(&json!("12345678901234"))
    );
    assert_eq!(
        json_err(json!({"phone": "1".repeat(101)})),
        problems(&[
            ("phone", "too long (max 100)"),
            ("email", "email or phone is required")
        ])
    );
}

#[test]
fn unknown_country_is_kept_raw() {
    let lead = json_ok(json!({"email": "a@acme.com", "country": " Atlantis "}));
    assert_eq!(lead.country, None);
    assert_eq!(lead.custom.get("country_raw"), Some(&json!("Atlantis")));
    assert_fixed_point(&lead);
    for (input, code) in [
        ("de", "DE"),
        ("CHE", "CH"),
        ("Österreich", "AT"),
        ("Royaume-Uni", "GB"),
        ("Holland", "NL"),
    ] {
        assert_eq!(
            json_ok(json!({"email": "a@acme.com", "country": input}))
                .country
                .as_deref(),
            Some(code)
        );
    }
}

#[test]
fn company_domain_sources() {
    let domain = |body: Value| json_ok(body).company_domain;
    assert_eq!(
        domain(json!({"email": "j@eu.mail.acme.com"})).as_deref(),
        Some("acme.com")
    );
    assert_eq!(
        domain(json!({"email": "j@acme.co.uk"})).as_deref(),
        Some("acme.co.uk")
    );
    assert_eq!(domain(json!({"email": "j@yahoo.co.uk"})), None);
    assert_eq!(
        domain(json!({"email": "j@gmx.de", "website": "https://www.Acme.de/kontakt"})).as_deref(),
        Some("acme.de")
    );
    assert_eq!(
        domain(json!({"email": "j@gmx.de", "website": "facebook.com/acme"})),
        None
    );
    assert_eq!(
        domain(json!({"email": "j@acme.com", "website": "n/a"})).as_deref(),
        Some("acme.com")
    );
    assert_eq!(
        domain(json!({"email": "j@gmail.com", "company_domain": "HTTPS://WWW.Acme.io:443/x", "website": "other.com"})).as_deref(),
        Some("acme.io")
    );
    let lead = json_ok(json!({"email": "j@gmail.com", "website": "acme.com"}));
    assert_eq!(
        lead.custom.get("website"),
        Some(&json!("acme.com")),
        "website is kept"
    );
    assert_fixed_point(&lead);
}

#[test]
fn names() {
    let names = |body: Value| {
        let lead = json_ok(body);
        (lead.first_name, lead.last_name, lead.custom)
    };
    let (first, last, custom) = names(json!({"email": "a@b.co", "name": "López, Ana"}));
    assert_eq!(
        (first.as_deref(), last.as_deref()),
        (Some("Ana"), Some("López"))
    );
    assert!(custom.is_empty(), "a split name is consumed");
    let (first, last, custom) =
        names(json!({"email": "a@b.co", "name": "Ana López", "last_name": "LÓPEZ"}));
    assert_eq!((first, last.as_deref()), (None, Some("López")));
    assert_eq!(
        custom.get("name"),
        Some(&json!("Ana López")),
        "an unused name is kept"
    );
    let (first, last, _) =
        names(json!({"email": "a@b.co", "first_name": "  mary-jane ", "last_name": "o'NEIL"}));
    assert_eq!(
        (first.as_deref(), last.as_deref()),
        (Some("Mary-Jane"), Some("o'NEIL"))
    );
    assert_eq!(
        json_err(json!({"email": "a@b.co", "first_name": "x".repeat(257)})),
        problems(&[("first_name", "too long (max 256)")])
    );
    assert_eq!(
        json_err(json!({"email": "a@b.co", "name": "x".repeat(257)})),
        problems(&[("name", "too long (max 256)")])
    );
}

#[test]
fn numbers_and_currency() {
    let lead =
        json_ok(json!({"email": "a@b.co", "seats": "42", "score": "42", "deal_value": "42"}));
    assert_eq!(
        (lead.seats, lead.score, lead.deal_value, lead.currency),
        (Some(42), Some(42.0), Some(42.0), None)
    );
    let lead = json_ok(
        json!({"email": "a@b.co", "seats": 25, "score": -1.5, "deal_value": 1e6, "currency": "eur"}),
    );
    assert_eq!(
        (lead.seats, lead.score, lead.deal_value),
        (Some(25), Some(-1.5), Some(1e6))
    );
    assert_eq!(lead.currency.as_deref(), Some("EUR"));
    let lead = json_ok(json!({"email": "a@b.co", "deal_value": "$10k - $50k", "currency": "CAD"}));
    assert_eq!(
        (lead.deal_value, lead.currency.as_deref()),
        (Some(50_000.0), Some("CAD")),
        "explicit currency wins"
    );
    assert_eq!(
        lead.custom.get("deal_value_raw"),
        Some(&json!("$10k - $50k"))
    );
    assert_fixed_point(&lead);
    assert_eq!(
        json_err(json!({"email": "a@b.co", "seats": -3, "deal_value": "-5", "score": [1]})),
        problems(&[
            ("seats", "must not be negative"),
            ("deal_value", "must not be negative"),
            ("score", "must be a number")
        ])
    );
    assert_eq!(
        json_err(json!({"email": "a@b.co", "seats": 1e12, "deal_value": 1e16})),
        problems(&[
            ("seats", "too large (max 1000000000)"),
            ("deal_value", "too large (max 1e15)")
        ])
    );
}

#[test]
fn consent_values() {
    let consent = |value: Value| {
        let lead = json_ok(json!({"email": "a@b.co", "consent": value}));
        (lead.consent, lead.custom.get("consent_text").cloned())
    };
    assert_eq!(consent(json!(true)), (Some(true), None));
    assert_eq!(consent(json!("yes")), (Some(true), None));
    assert_eq!(consent(json!("ON")), (Some(true), None));
    assert_eq!(consent(json!("1")), (Some(true), None));
    assert_eq!(consent(json!(1)), (Some(true), None));
    assert_eq!(consent(json!("off")), (Some(false), None));
    assert_eq!(consent(json!("0")), (Some(false), None));
    assert_eq!(consent(json!(false)), (Some(false), None));
    assert_eq!(consent(json!("")), (None, None));
    assert_eq!(consent(json!(null)), (None, None));
    let wording = "Ich stimme der Datenschutzerklärung zu.";
    assert_eq!(consent(json!(wording)), (Some(true), Some(json!(wording))));
}

#[test]
fn product_interest_forms() {
    let interest = |value: Value| {
        json_ok(json!({"email": "a@b.co", "product_interest": value})).product_interest
    };
    assert_eq!(
        interest(json!(["CRM", " Analytics ", "", "CRM", null, 7])),
        ["CRM", "Analytics", "7"]
    );
    assert_eq!(
        interest(json!("CRM; Analytics, API")),
        ["CRM", "Analytics", "API"]
    );
    assert_eq!(
        interest(json!(["A, B"])),
        ["A, B"],
        "list items are not split"
    );
    let many: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
    assert_eq!(
        json_err(json!({"email": "a@b.co", "product_interest": many})),
        problems(&[("product_interest", "too many items (max 50)")])
    );
}

#[test]
fn utm_from_landing_page_fills_gaps() {
    let lead = json_ok(json!({
        "email": "a@b.co",
        "utm_source": "newsletter",
        "landing_page": "https://acme.com/?utm_source=google&utm_medium=cpc&utm_term=crm%20software",
    }));
    assert_eq!(lead.utm_source.as_deref(), Some("newsletter"));
    assert_eq!(lead.utm_medium.as_deref(), Some("cpc"));
    assert_eq!(lead.utm_term.as_deref(), Some("crm software"));
    assert_eq!((lead.utm_campaign, lead.utm_content), (None, None));
}

#[test]
fn language_and_postal_code() {
    let lead = json_ok(json!({"email": "a@b.co", "language": "German", "postal_code": 10115}));
    assert_eq!(lead.language.as_deref(), Some("de"));
    assert_eq!(lead.postal_code.as_deref(), Some("10115"));
}

#[test]
fn custom_values() {
    let lead = json_ok(json!({
        "email": "a@b.co",
        "plan": "pro",
        "tags": ["a", 1],
        "custom": {"plan": "free", "owner": {"id": 7}},
        "nothing": null,
        "blank": " ",
    }));
    assert_eq!(
        lead.custom,
        object(json!({"plan": "pro", "tags": ["a", 1], "owner": {"id": 7}}))
    );

    let mut body = object(json!({"email": "a@b.co"}));
    for i in 0..100 {
        body.insert(format!("k{i}"), json!(i));
    }
    assert!(
        normalize_json(&Value::Object(body.clone()), &api()).is_ok(),
        "100 custom keys are fine"
    );
    body.insert("phone".into(), json!("n/a"));
    assert_eq!(
        normalize_json(&Value::Object(body), &api()).map_err(|e| e.problems),
        Err(problems(&[("custom", "too many fields (max 100)")])),
        "keys added by normalization count"
    );

    let nested = |levels: usize| {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "x": v });
        }
        v
    };
    assert!(normalize_json(&json!({"email": "a@b.co", "deep": nested(8)}), &api()).is_ok());
    assert_eq!(
        normalize_json(&json!({"email": "a@b.co", "deep": nested(9)}), &api())
            .map_err(|e| e.problems),
        Err(problems(&[("deep", "nested more than 8 levels deep")])),
        "too deep a custom value is named by its key"
    );
    let mut body = object(json!({"email": "a@b.co"}));
    body.insert("k".repeat(129), json!(1));
    assert_eq!(
        normalize_json(&Value::Object(body), &api()).map_err(|e| e.problems),
        Err(problems(&[(
            "custom",
            "a field name is longer than 128 characters"
        )])),
        "an overlong key is refused without echoing it"
    );
}

#[test]
fn form_edge_cases() {
    let form = |body: &str| normalize_form(body.as_bytes(), &api()).map_err(|e| e.problems);
    assert_eq!(
        form("email=a%40b.co&company=100%&city=M%FCnchen"),
        Err(problems(&[
            ("company", "malformed percent-encoding"),
            ("city", "not valid UTF-8")
        ]))
    );
    let lead = form("name=Ana+L%C3%B3pez&email=a%40b.co&tags=x&tags=y&custom=raw&consent=I+agree");
    let lead = lead.unwrap_or_default();
    assert_eq!(
        (lead.first_name.as_deref(), lead.last_name.as_deref()),
        (Some("Ana"), Some("López"))
    );
    assert_eq!(
        lead.custom,
        object(json!({"tags": ["x", "y"], "custom": "raw", "consent_text": "I agree"}))
    );
    assert_eq!(
        form(""),
        Err(problems(&[("email", "email or phone is required")]))
    );
    assert!(normalize_form(&[0xff, 0xfe, b'&', b'='], &api()).is_err());
}

#[test]
fn renormalize_cleans_and_is_stable() {
    let messy = Lead {
        id: Uuid::from_u128(42),
        received_at: received_at(),
        source: "queue".into(),
        email: Some(" Sales@ACME.com ".into()),
        phone: Some("+49 30 901820".into()),
        first_name: Some("ANA".into()),
        country: Some("Deutschland".into()),
        language: Some("de-AT".into()),
        custom: object(json!({"blank": "", "keep": 1})),
        ..Lead::default()
    };
    let once = renormalize(messy).unwrap_or_default();
    assert_eq!(once.id, Uuid::from_u128(42));
    assert_eq!(once.source, "queue");
    assert_eq!(once.email.as_deref(), Some("sales@acme.com"));
    assert_eq!(once.phone.as_deref(), Some("+4930901820"));
    assert_eq!(once.first_name.as_deref(), Some("Ana"));
    assert_eq!(once.country.as_deref(), Some("DE"));
    assert_eq!(once.company_domain.as_deref(), Some("acme.com"));
    assert_eq!(once.language.as_deref(), Some("de"));
    assert_eq!(once.custom, object(json!({"keep": 1})));
    assert_fixed_point(&once);

    let bad = Lead {
        email: Some("a@b.co".into()),
        score: Some(f64::NAN),
        deal_value: Some(-1.0),
        ..Lead::default()
    };
    assert_eq!(
        renormalize(bad).map_err(|e| e.problems),
        Err(problems(&[
            ("deal_value", "must not be negative"),
            ("score", "must be a number")
        ]))
    );
    assert!(renormalize(Lead::default()).is_err(), "no contact");
}

mod properties {
    use super::super::{name, phone};
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Realistic, tricky fragments: valid and broken values of every field, odd Unicode.
    const SAMPLES: &[&str] = &[
        "",
        " ",
        "a@b.co",
        "J.Doe@EU.Mail.ACME.co.uk",
        "x@gmail.com",
        "j@yahoo.de",
        "bad@",
        "@",
        "a@b@c.de",
        "+49 30 901820",
        "030 901820",
        "(650) 253-0000",
        "+1 650 253 0000 ext. 7",
        "0049301234",
        "00",
        "+",
        "+39 06 6982 0000",
        "tel:+44-20-7946-0958",
        "n/a",
        "JOHN",
        "o'neil",
        "McDonald",
        "Dr.",
        "López, Ana",
        "van der Berg",
        "King Jr.",
        ",",
        "Deutschland",
        "Côte d'Ivoire",
        "UK",
        "usa",
        "Atlantis",
        "ZZ",
        "https://www.acme.co.uk/x?utm_source=a&utm_medium=b",
        "/p?utm_campaign=%ZZ",
        "acme.com",
        "www.",
        "€1.5m",
        "1.200,50 €",
        "10-50k",
        "$10k+",
        "1,000",
        "25 seats",
        "-5",
        "1e400",
        "0.500",
        ".5",
        "k",
        "yes",
        "off",
        "1",
        "0",
        "I agree",
        "de-DE",
        "German",
        "Français",
        "EUR",
        "€",
        "$",
        "xxx",
        "ß",
        "İ",
        "\u{212A}",
        "ǅ",
        "ﬁ",
        "Σ",
        "ς",
        "\u{FEFF}",
        "\u{200B}",
        "\u{0301}",
        "\r\n",
        "\t",
        "\0",
        "%",
        "%zz",
        "&",
        "=",
        "+",
        "[]",
        "😀",
        "李",
        "ﷺ",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(SAMPLES).prop_map(str::to_string),
            2 => (select(SAMPLES), select(SAMPLES), select(SAMPLES)).prop_map(|(a, b, c)| format!("{a}{b} {c}")),
            2 => any::<String>(),
            1 => "[0-9 +().,/-]{0,24}",
            1 => "[a-zA-Z@.' -]{0,24}",
        ]
    }

    const KEYS: &[&str] = &[
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
        "name",
        "website",
        "custom",
        "id",
        "received_at",
        "source",
        "phone_raw",
        "country_raw",
        "consent_text",
        "salutation",
        "product_interest[]",
        "",
    ];

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![4 => select(KEYS).prop_map(str::to_string), 1 => any::<String>()]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            (-1e6f64..1e6).prop_map(Value::from),
            text().prop_map(Value::String),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Values for a body's keys: mostly strings (what real submissions send), some numbers,
    /// some anything.
    fn field_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            8 => text().prop_map(Value::String),
            1 => (-1e4f64..1e6).prop_map(Value::from),
            1 => any::<bool>().prop_map(Value::Bool),
            2 => json_value(),
        ]
    }

    /// JSON objects, most with a usable contact so that many normalize successfully.
    fn json_body() -> impl Strategy<Value = Value> {
        (
            prop::collection::btree_map(key(), field_value(), 0..8),
            prop::option::weighted(
                0.9,
                select(&["a@b.co", " J@Acme.COM ", "x@gmail.com", "+49 30 901820"][..]),
            ),
            prop::option::of(select(&["DE", "us", "Frankreich", "nowhere"][..])),
        )
            .prop_map(|(fields, contact, country)| {
                let mut map: Map<String, Value> = fields.into_iter().collect();
                if let Some(contact) = contact {
                    let key = if contact.starts_with('+') {
                        "phone"
                    } else {
                        "email"
                    };
                    map.insert(key.into(), json!(contact));
                }
                if let Some(country) = country {
                    map.insert("country".into(), json!(country));
                }
                Value::Object(map)
            })
    }

    /// Form bodies: encoded pairs (canonical keys, repeated keys, contact) mixed with raw bytes.
    fn form_body() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec((key(), text()), 0..8),
            prop::option::weighted(0.9, select(&["a@b.co", "J@Acme.COM", "0171 1234567"][..])),
            prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 1..16))
                .prop_map(Option::unwrap_or_default),
        )
            .prop_map(|(pairs, contact, raw)| {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    ser.append_pair(k, v);
                }
                if let Some(contact) = contact {
                    ser.append_pair(
                        if contact.contains('@') {
                            "email"
                        } else {
                            "phone"
                        },
                        contact,
                    );
                    ser.append_pair("country", "DE");
                }
                let mut body = ser.finish().into_bytes();
                if !raw.is_empty() {
                    body.push(b'&');
                    body.extend(raw);
                }
                body
            })
    }

    proptest! {
        #[test]
        fn json_never_panics_and_is_idempotent(body in json_body(), default in prop::option::of(select(&["DE", "GB", "xx"][..]))) {
            let intake = intake("api", default);
            if let Ok(lead) = normalize_json(&body, &intake) {
                prop_assert_eq!(renormalize(lead.clone()), Ok(lead));
            }
        }

        #[test]
        fn object_is_json_without_copying(body in json_body()) {
            let intake = api();
            let owned = body.as_object().cloned().unwrap_or_default();
            prop_assert_eq!(normalize_object(owned.clone(), &intake), normalize_json(&Value::Object(owned), &intake));
        }

        #[test]
        fn external_id_is_what_renormalize_stores(body in json_body(), raw in prop_oneof![text(), "[a-z0-9 \\n]{250,260}"]) {
            // The webhook sets the tool's id on a normalized lead with `normalize_external_id`
            // instead of renormalizing the whole lead: both must store the same.
            if let Ok(mut lead) = normalize_json(&body, &api()) {
                // The webhook only does this for a lead the body gave no id of its own.
                lead.external_id = None;
                let mut with_id = lead.clone();
                with_id.external_id = Some(raw.clone());
                let mut expected = lead.clone();
                expected.external_id = normalize_external_id(&raw);
                match renormalize(with_id) {
                    Ok(renormalized) => prop_assert_eq!(renormalized, expected),
                    // Renormalize rejects an id too long to store; the webhook then keeps the lead as it was.
                    Err(_) => prop_assert_eq!(expected, lead),
                }
            }
        }

        #[test]
        fn json_arbitrary_values_never_panic(body in json_value()) {
            let _ = normalize_json(&body, &api());
        }

        #[test]
        fn form_never_panics_and_is_idempotent(body in form_body()) {
            if let Ok(lead) = normalize_form(&body, &api()) {
                prop_assert_eq!(renormalize(lead.clone()), Ok(lead));
            }
        }

        #[test]
        fn form_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(lead) = normalize_form(&body, &api()) {
                prop_assert_eq!(renormalize(lead.clone()), Ok(lead));
            }
        }

        #[test]
        fn renormalize_is_idempotent_on_any_lead(body in json_body()) {
            // Build a lead without normalizing it (anything serde accepts), then renormalize twice.
            let lead = Lead {
                email: body.get("email").and_then(Value::as_str).map(str::to_string),
                phone: body.get("phone").and_then(Value::as_str).map(str::to_string),
                first_name: body.get("first_name").and_then(Value::as_str).map(str::to_string),
                country: body.get("country").and_then(Value::as_str).map(str::to_string),
                language: body.get("language").and_then(Value::as_str).map(str::to_string),
                company_domain: body.get("company_domain").and_then(Value::as_str).map(str::to_string),
                custom: body.as_object().cloned().unwrap_or_default(),
                ..Lead::default()
            };
            if let Ok(once) = renormalize(lead) {
                prop_assert_eq!(renormalize(once.clone()), Ok(once));
            }
        }

        #[test]
        fn phone_output_reparses_to_itself(
            digits in "[0-9]{4,14}",
            prefix in select(&["", "0", "+", "00", "+1 ", "+49 (0)", "+44 ", "+39 0"][..]),
            region in prop::option::of(select(&["DE", "US", "GB", "IT", "FR", "JP", "BR", "IN"][..])),
            other in prop::option::of(select(&["DE", "US", "JP", "IT"][..])),
        ) {
            let raw = format!("{prefix}{digits}");
            if let phone::Phone::Valid { e164, .. } = phone::normalize(&raw, region) {
                let again = phone::normalize(&e164, other);
                prop_assert!(matches!(&again, phone::Phone::Valid { e164: e, .. } if *e == e164), "{} -> {} -> {:?}", raw, e164, again);
            }
        }

        #[test]
        fn person_names_are_idempotent(s in text()) {
            let once = name::person(&s);
            prop_assert_eq!(name::person(&once), once);
        }
    }
}

#[test]
fn intake_markers_survive_renormalize_and_waive_the_contact_requirement() {
    let mut i = intake("facebook", None);
    i.awaiting_enrichment = true;
    i.test = true;
    let lead =
        normalize_json(&serde_json::json!({"external_id": "lg-1"}), &i).expect("ids only is fine");
    assert!(lead.awaiting_enrichment && lead.test);
    assert_eq!(renormalize(lead.clone()), Ok(lead.clone()));
    let mut plain = lead;
    plain.awaiting_enrichment = false;
    assert!(
        renormalize(plain).is_err(),
        "without the marker a contact is required"
    );
}
