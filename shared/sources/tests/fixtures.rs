//! Each adapter against its fixture(s): the full field map, external id and flags.
#![allow(clippy::unwrap_used)]

use leadrouter_sources::{Decoded, Mapping, SourceError, decode, decode_all};
use serde_json::{Value, json};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn map(pairs: &[(&str, &str)]) -> Mapping {
    Mapping {
        fields: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[track_caller]
fn assert_decoded(
    got: &Decoded,
    fields: Value,
    external_id: Option<&str>,
    is_test: bool,
    awaiting_enrichment: bool,
) {
    let want = fields.as_object().unwrap();
    assert_eq!(
        &got.fields,
        want,
        "\n got: {}\nwant: {}",
        serde_json::to_string_pretty(&got.fields).unwrap(),
        serde_json::to_string_pretty(want).unwrap()
    );
    assert_eq!(got.external_id.as_deref(), external_id, "external_id");
    assert_eq!(got.is_test, is_test, "is_test");
    assert_eq!(
        got.awaiting_enrichment, awaiting_enrichment,
        "awaiting_enrichment"
    );
}

const JSON: &str = "application/json";

#[test]
fn typeform_example_payload() {
    let d = decode(
        "typeform",
        JSON,
        &fixture("typeform/form_response.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "laura@example.com",
            "first_name": "Laura",
            "score": 9,
            "custom": {
                "readable_ref_long_text": "It's cold right now! I live in an older medium-sized city with a university. Geographically, the area is hilly.",
                "readable_ref_date": "2005-10-15",
                "readable_ref_picture_choice": ["London", "Sydney"],
                "readable_ref_number1": 5,
                "readable_ref_legal": true,
                "readable_ref_multiple_choice": "London",
                "readable_ref_yes_no": false,
                "readable_ref_opinion_scale": 2,
                "readable_ref_rating": 3,
                "readable_ref_number2": 4,
                "readable_ref_calendly": "https://calendly.com/scheduled_events/EVENT_TYPE/invitees/INVITEE",
                "user_id": "abc123456",
                "variables.score": 4,
                "variables.name": "typeform",
                "form_id": "lT4Z3j",
                "form_title": "Webhooks example",
                "submitted_at": "2018-01-18T18:17:02Z",
                "landed_at": "2018-01-18T18:07:02Z",
                "event_id": "LtWXD3crgy"
            }
        }),
        Some("a3a12ec67a1365927098a606107fac15"),
        false,
        false,
    );
}

#[test]
fn typeform_mapping_overrides_by_ref_title_and_case() {
    let m = map(&[
        ("readable_ref_long_text", "message"),
        ("WHICH OF THESE CITIES IS YOUR FAVORITE?", "city"),
        ("readable_ref_date", "custom.moved_in"),
    ]);
    let d = decode(
        "typeform",
        JSON,
        &fixture("typeform/form_response.json"),
        &m,
    )
    .unwrap();
    assert_eq!(
        d.fields["message"],
        json!(
            "It's cold right now! I live in an older medium-sized city with a university. Geographically, the area is hilly."
        )
    );
    assert_eq!(d.fields["city"], json!("London"));
    assert_eq!(d.fields["custom"]["moved_in"], json!("2005-10-15"));
    assert!(
        d.fields["custom"]
            .get("readable_ref_multiple_choice")
            .is_none()
    );
}

#[test]
fn typeform_partial_response_is_not_a_lead() {
    let body = br#"{"event_id":"x","event_type":"form_response_partial","form_response":{}}"#;
    assert_eq!(
        decode("typeform", JSON, body, &Mapping::default()),
        Err(SourceError::NotALead("form_response_partial".into()))
    );
}

#[test]
fn google_ads_test_lead() {
    let d = decode(
        "google-ads",
        JSON,
        &fixture("google-ads/lead_form_webhook.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "name": "FirstName LastName",
            "phone": "+16505550123",
            "email": "test@example.com",
            "postal_code": "94043",
            "custom": {
                "SERVICE": "Roofing",
                "api_version": "1.0",
                "form_id": "40000000000",
                "campaign_id": "10000000000",
                "gcl_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
                "adgroup_id": "20000000000",
                "creative_id": "30000000000"
            }
        }),
        Some(
            "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
        ),
        true,
        false,
    );
    // The shared secret never reaches the lead.
    assert!(
        !serde_json::to_string(&d)
            .unwrap()
            .contains("webhook-key-from-the-form")
    );
}

#[test]
fn facebook_lead_object() {
    let d = decode(
        "facebook",
        JSON,
        &fixture("facebook/lead.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "name": "Joe Example",
            "email": "joe@example.com",
            "custom": {
                "car_make": "Honda",
                "selected_dealer": "99213450",
                "created_time": "2015-02-28T08:49:14+0000",
                "ad_id": "<AD_ID>",
                "form_id": "<FORM_ID>"
            }
        }),
        Some("<LEAD_ID>"),
        false,
        false,
    );
}

#[test]
fn facebook_leadgen_notification_batches_two_leads() {
    let body = fixture("facebook/leadgen_notification.json");
    assert_eq!(
        decode("facebook", JSON, &body, &Mapping::default()),
        Err(SourceError::MultipleLeads(2))
    );
    let all = decode_all("facebook", JSON, &body, &Mapping::default()).unwrap();
    assert_eq!(all.len(), 2);
    for (d, leadgen_id) in all.iter().zip(["123123123123", "123123123124"]) {
        assert_decoded(
            d,
            json!({
                "custom": {
                    "leadgen_id": leadgen_id,
                    "page_id": "123123123",
                    "form_id": "12312312312",
                    "adgroup_id": "12312312312",
                    "ad_id": "12312312312",
                    "created_time": 1440120384,
                    "entry_time": 1438292065
                }
            }),
            Some(leadgen_id),
            false,
            true,
        );
    }
}

#[test]
fn facebook_page_notification_without_leadgen_is_not_a_lead() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":2,"changes":[{"field":"feed","value":{}}]}]}"#;
    assert!(matches!(
        decode("facebook", JSON, body, &Mapping::default()),
        Err(SourceError::NotALead(_))
    ));
}

#[test]
fn hubspot_v3_submission() {
    let d = decode(
        "hubspot",
        JSON,
        &fixture("hubspot/v3_submission.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "example@example.com",
            "first_name": "Jeff",
            "landing_page": "www.example.com/page",
            "consent": true,
            "custom": {
                "context.hutk": ":hutk",
                "context.pageName": "Example page",
                "legalConsentOptions": {
                    "consent": {
                        "consentToProcess": true,
                        "text": "I agree to allow Example Company to store and process my personal data.",
                        "communications": [{
                            "value": true,
                            "subscriptionTypeId": 999,
                            "text": "I agree to receive marketing communications from Example Company."
                        }]
                    }
                },
                "submittedAt": "1517927174000"
            }
        }),
        None,
        false,
        false,
    );
}

#[test]
fn hubspot_contact_properties() {
    let d = decode(
        "hubspot",
        JSON,
        &fixture("hubspot/contact_properties.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "first_name": "Codey",
            "last_name": "Huang",
            "email": "codey@example.com",
            "company": "HubSpot",
            "phone": "555-122-2323",
            "job_title": "Mascot",
            "custom": {
                "lifecyclestage": "lead",
                "canonical-vid": "3234574",
                "portal-id": "62515",
                "is-contact": true,
                "profile-token": "AO_T-m",
                "profile-url": "https://app.hubspot.com/contacts/62515/lists/public/contact/_AO_T-m/"
            }
        }),
        Some("3234574"),
        false,
        false,
    );
}

#[test]
fn salesforce_web_to_lead() {
    let d = decode(
        "salesforce",
        "application/x-www-form-urlencoded",
        &fixture("salesforce/web_to_lead.txt"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "company": "Analytical Engines Ltd",
            "phone": "+44 20 7946 0000",
            "job_title": "Chief Engineer",
            "city": "London",
            "region": "Greater London",
            "postal_code": "EC1A 1BB",
            "country": "United Kingdom",
            "message": "Please call me about pricing.",
            "custom": {
                "oid": "00D6g0000022aVA",
                "retURL": "https://www.example.com/thanks",
                "lead_source": "Web",
                "00N6g00000TxyzA": "Enterprise",
                "00N6g00000TxyzB": ["Analytics", "Reporting"]
            }
        }),
        None,
        false,
        false,
    );
    // Custom field ids are mapped by the admin.
    let m = map(&[("00N6g00000TxyzB", "product_interest")]);
    let d = decode(
        "salesforce",
        "application/x-www-form-urlencoded",
        &fixture("salesforce/web_to_lead.txt"),
        &m,
    )
    .unwrap();
    assert_eq!(
        d.fields["product_interest"],
        json!(["Analytics", "Reporting"])
    );
}

#[test]
fn unbounce_form_submit() {
    let d = decode(
        "unbounce",
        "application/x-www-form-urlencoded",
        &fixture("unbounce/form_submit.txt"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "test@test.com",
            "landing_page": "http://my-landing-page.ca/",
            "custom": {
                "ip_address": "1.1.1.1",
                "page_uuid": "a2838d98-4cf4-11df-a3fd-00163e372d58",
                "variant": "a",
                "time_submitted": "10:57 PM UTC",
                "date_submitted": "2023-06-06",
                "page_name": "My Landing Page",
                "page_id": "a2838d98-4cf4-11df-a3fd-00163e372d58"
            }
        }),
        None,
        false,
        false,
    );
}

#[test]
fn webflow_v2_form_submission() {
    let d = decode(
        "webflow",
        JSON,
        &fixture("webflow/form_submission_v2.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "first_name": "Zaphod",
            "last_name": "Beeblebrox",
            "email": "zaphod@heartofgold.ai",
            "phone": "15550000000",
            "custom": {
                "form_name": "Contact Us",
                "site_id": "65427cf400e02b306eaa049c",
                "submitted_at": "2022-09-14T12:35:16.117Z",
                "form_id": "65429eadebe8a9f3a30f62d0",
                "form_element_id": "4e038d2c-6a1e-4953-7be9-a59a2b453177"
            }
        }),
        Some("6321ca84df3949bfc6752327"),
        false,
        false,
    );
    // A field can be mapped by its element id from the schema.
    let m = map(&[("285042f7-d554-dc7f-102c-aa10d6a2d2c7", "custom.mobile")]);
    let d = decode(
        "webflow",
        JSON,
        &fixture("webflow/form_submission_v2.json"),
        &m,
    )
    .unwrap();
    assert_eq!(d.fields["custom"]["mobile"], json!(15550000000u64));
    assert!(d.fields.get("phone").is_none());
}

#[test]
fn webflow_v1_form_submission() {
    let d = decode(
        "webflow",
        JSON,
        &fixture("webflow/form_submission_v1.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "name": "Some One",
            "email": "some.one@home.com",
            "custom": {
                "form_name": "Sample Form",
                "site_id": "62749158efef318abc8d5a0f",
                "submitted_at": "2022-09-14T12:35:16.117Z"
            }
        }),
        Some("6321ca84df3949bfc6752327"),
        false,
        false,
    );
}

#[test]
fn webflow_tutorial_delivery() {
    let d = decode(
        "webflow",
        JSON,
        &fixture("webflow/tutorial_delivery.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "hello@gmail.com",
            "custom": {
                "form_name": "Email Form",
                "site_id": "65427cf400e02b306eaa049c",
                "submitted_at": "2024-07-30T20:07:15.220Z",
                "form_id": "65429eadebe8a9f3a30f62d7"
            }
        }),
        Some("66a947f35b9d7ba400e22733"),
        false,
        false,
    );
}

#[test]
fn jotform_multipart() {
    let d = decode(
        "jotform",
        "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW",
        &fixture("jotform/webhook_multipart.txt"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "phone": "(555) 555-1234",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "United States",
            "company": "Acme Inc",
            "utm_source": "google",
            "custom": {
                "slug": "submit/231234567890123/",
                "q6_address.addr_line1": "123 Main St",
                "q8_typeA": "Looking for a demo next week",
                "event_id": "1700000000000_231234567890123_abcdefg",
                "path": "/submit/231234567890123/",
                "form_id": "231234567890123",
                "form_title": "Contact Us",
                "webhookURL": "https://leads.example.com/hooks/jotform",
                "ip": "203.0.113.7",
                "username": "acme",
                "type": "WEB"
            }
        }),
        Some("5800000000000000000"),
        false,
        false,
    );
    let m = map(&[("typeA", "message")]);
    let d = decode(
        "jotform",
        "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW",
        &fixture("jotform/webhook_multipart.txt"),
        &m,
    )
    .unwrap();
    assert_eq!(d.fields["message"], json!("Looking for a demo next week"));
}

#[test]
fn jotform_urlencoded_is_accepted_too() {
    let raw = r#"{"q3_fullName3":{"first":"A","last":"B"},"q4_emailAddress":"a@b.co"}"#;
    let body = serde_urlencoded::to_string([("submissionID", "1"), ("rawRequest", raw)]).unwrap();
    let d = decode(
        "jotform",
        "application/x-www-form-urlencoded",
        body.as_bytes(),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({"first_name": "A", "last_name": "B", "email": "a@b.co"}),
        Some("1"),
        false,
        false,
    );
}

#[test]
fn tally_example_event() {
    let d = decode(
        "tally",
        JSON,
        &fixture("tally/form_response.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "utm_campaign": "newsletter",
            "score": 20,
            "email": "alice@example.com",
            "phone": "+32491223344",
            "website": "example.com",
            "custom": {
                "Type": "Hard",
                "Text": "Hello",
                "Number": 10,
                "Date": "2023-06-28",
                "Time": "12:00",
                "Long text": "Hello world",
                "Multiple choice": "In progress",
                "Checkboxes": ["Swimming", "Skiing"],
                "Checkboxes (Soccer)": false,
                "Checkboxes (Swimming)": true,
                "Checkboxes (Skiing)": true,
                "Dropdown": "Hard",
                "Multi-select": ["Surf", "Golf"],
                "File upload": [{
                    "id": "5mDNqw",
                    "name": "Tally_Icon.png",
                    "url": "https://storage.googleapis.com/tally-response-assets-dev/vBXMXN/34fd1ee5-4ead-4929-9a4a-918ac9f0b416/Tally_Icon.png",
                    "mimeType": "image/png",
                    "size": 16233
                }],
                "Payment (price)": 9,
                "Payment (currency)": "USD",
                "Payment (name)": "Alice Smith",
                "Payment (email)": "alice@example.com",
                "Payment (link)": "https://dashboard.stripe.com/payments/[PAYMENT_ID]",
                "Rating": 4,
                "Ranking": ["Pear", "Apple", "Banana"],
                "Linear scale": 7,
                "Signature": [{
                    "id": "63lyBw",
                    "name": "ca8f2e11-f99a-4042-b872-0888811b8118.png",
                    "url": "https://storage.googleapis.com/tally-response-assets-dev/vBXMXN/signatures/ca8f2e11-f99a-4042-b872-0888811b8118.png",
                    "mimeType": "image/png",
                    "size": 7646
                }],
                "Matrix": {"Quality": ["Satisfied"], "Speed": ["Neutral"]},
                "event_id": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
                "event_created_at": "2023-06-28T15:00:21.889Z",
                "respondent_id": "dwQKYm",
                "form_id": "VwbNEw",
                "form_name": "Webhook payload",
                "created_at": "2023-06-28T15:00:21.000Z"
            }
        }),
        Some("2wgx4n"),
        false,
        false,
    );
}

#[test]
fn calendly_invitee_created_example() {
    let d = decode(
        "calendly",
        JSON,
        &fixture("calendly/invitee_created.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "test@example.com",
            "name": "John Doe",
            "custom": {
                "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
                "created_at": "2020-11-23T17:51:18.327602Z",
                "event": "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA",
                "reschedule_url": "https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA",
                "rescheduled": false,
                "status": "active",
                "timezone": "America/New_York",
                "updated_at": "2020-11-23T17:51:18.341657Z",
                "canceled": false,
                "webhook_created_at": "2020-11-23T17:51:19.000000Z",
                "webhook_created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
            }
        }),
        Some(
            "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA/invitees/AAAAAAAAAAAAAAAA",
        ),
        false,
        false,
    );
}

#[test]
fn calendly_invitee_created_with_answers_and_tracking() {
    let d = decode(
        "calendly",
        JSON,
        &fixture("calendly/invitee_created_with_answers.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "test@example.com",
            "name": "John Doe",
            "first_name": "John",
            "last_name": "Doe",
            "phone": "+1 404-555-1234",
            "company": "Acme Inc",
            "utm_campaign": "spring_launch",
            "utm_source": "newsletter",
            "utm_medium": "email",
            "custom": {
                "What topics would you like to discuss?": "Project planning and timelines",
                "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
                "created_at": "2020-11-23T17:51:18.327602Z",
                "event": "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA",
                "reschedule_url": "https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA",
                "rescheduled": false,
                "status": "active",
                "timezone": "America/New_York",
                "updated_at": "2020-11-23T17:51:18.341657Z",
                "canceled": false,
                "scheduled_event": {
                    "uri": "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA",
                    "name": "15 Minute Meeting",
                    "status": "active",
                    "start_time": "2020-11-30T15:00:00.000000Z",
                    "end_time": "2020-11-30T15:15:00.000000Z",
                    "event_type": "https://api.calendly.com/event_types/AAAAAAAAAAAAAAAA"
                },
                "webhook_created_at": "2020-11-23T17:51:19.000000Z",
                "webhook_created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
            }
        }),
        Some(
            "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA/invitees/AAAAAAAAAAAAAAAA",
        ),
        false,
        false,
    );
}

#[test]
fn calendly_cancellation_is_not_a_lead() {
    let body = br#"{"event":"invitee.canceled","payload":{"email":"a@b.co"}}"#;
    assert_eq!(
        decode("calendly", JSON, body, &Mapping::default()),
        Err(SourceError::NotALead("invitee.canceled".into()))
    );
}

fn linkedin_common_custom() -> serde_json::Map<String, Value> {
    json!({
        "consentResponses": [{"accepted": true, "consentId": 4}],
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
        "submitter": "urn:li:person:MpGcnvaU_p",
        "leadType": "SPONSORED",
        "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:367378525"}},
        "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3162,1)",
        "submittedAt": 1686182358881u64,
        "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:351002733"}
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn linkedin_lead_form_response_with_question_mapping() {
    let m = map(&[("1", "first_name"), ("2", "last_name"), ("3", "email")]);
    let d = decode(
        "linkedin",
        JSON,
        &fixture("linkedin/lead_form_response.json"),
        &m,
    )
    .unwrap();
    let mut custom = linkedin_common_custom();
    custom.insert("question_4".into(), json!([2]));
    assert_decoded(
        &d,
        json!({
            "first_name": "John",
            "last_name": "Smith",
            "email": "john.smith@company.com",
            "custom": custom
        }),
        Some("aaaabbbb-0000-cccc-1111-dddd2222eeee-5"),
        true,
        false,
    );
}

#[test]
fn linkedin_lead_form_response_unmapped_keeps_everything() {
    let d = decode(
        "linkedin",
        JSON,
        &fixture("linkedin/lead_form_response.json"),
        &Mapping::default(),
    )
    .unwrap();
    let mut custom = linkedin_common_custom();
    custom.insert("question_1".into(), json!("John"));
    custom.insert("question_2".into(), json!("Smith"));
    custom.insert("question_3".into(), json!("john.smith@company.com"));
    custom.insert("question_4".into(), json!([2]));
    assert_decoded(
        &d,
        json!({ "custom": custom }),
        Some("aaaabbbb-0000-cccc-1111-dddd2222eeee-5"),
        true,
        false,
    );
}

#[test]
fn linkedin_lead_notification() {
    let d = decode(
        "linkedin",
        JSON,
        &fixture("linkedin/lead_notification.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "custom": {
                "leadGenFormResponse": "urn:li:leadGenFormResponse:aaaabbbb-0000-cccc-1111-dddd2222eeee-5",
                "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3162,1)",
                "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
                "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:351002733"},
                "leadType": "SPONSORED",
                "occurredAt": 1686182358881u64
            }
        }),
        Some("aaaabbbb-0000-cccc-1111-dddd2222eeee-5"),
        false,
        true,
    );
}

#[test]
fn zapier_post() {
    let d = decode(
        "zapier",
        JSON,
        &fixture("zapier/webhook_post.json"),
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "grace@example.org",
            "first_name": "Grace",
            "last_name": "Hopper",
            "company": "Navy Labs",
            "phone": "+1 202 555 0147",
            "custom": {
                "deal__amount": "25000",
                "source_app": "Pipedrive"
            }
        }),
        Some("deal-8842"),
        false,
        false,
    );
}

#[test]
fn generic_nested_json() {
    let m = map(&[("answers.Budget", "custom.budget")]);
    let d = decode("generic", JSON, &fixture("generic/nested.json"), &m).unwrap();
    assert_decoded(
        &d,
        json!({
            "email": "ops@example.net",
            "name": "Pat Smith",
            "phone": "+49 30 1234567",
            "company": "Example GmbH",
            "website": "https://example.net",
            "utm_source": "linkedin",
            "utm_campaign": "q3-launch",
            "seats": 25,
            "custom": {
                "budget": "10k-25k",
                "tags": ["inbound", "priority"]
            }
        }),
        None,
        false,
        false,
    );
}

#[test]
fn generic_array_and_form_bodies() {
    let body = br#"[{"email":"a@x.io","is_test":true},{"email":"b@x.io"}]"#;
    let all = decode_all("generic", JSON, body, &Mapping::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].is_test && !all[1].is_test);
    assert_eq!(all[1].fields["email"], json!("b@x.io"));
    let d = decode(
        "generic",
        "",
        b"Email=c%40x.io&utm_source=ads",
        &Mapping::default(),
    )
    .unwrap();
    assert_decoded(
        &d,
        json!({"email": "c@x.io", "utm_source": "ads"}),
        None,
        false,
        false,
    );
}

#[test]
fn unknown_source_and_bad_mapping() {
    assert_eq!(
        decode("myspace", JSON, b"{}", &Mapping::default()),
        Err(SourceError::UnknownSource("myspace".into()))
    );
    assert_eq!(
        decode("generic", JSON, b"{}", &map(&[("a", "favourite_colour")])),
        Err(SourceError::InvalidMapping("favourite_colour".into()))
    );
}

#[test]
fn content_type_is_enforced() {
    assert!(matches!(
        decode("typeform", "text/html", b"{}", &Mapping::default()),
        Err(SourceError::UnsupportedContentType { .. })
    ));
    assert!(matches!(
        decode("salesforce", JSON, b"{}", &Mapping::default()),
        Err(SourceError::UnsupportedContentType { .. })
    ));
}
