//! Signature schemes: valid, invalid, missing and stale/replayed, per scheme.
//!
//! Valid signatures are computed here with each documented algorithm. The `*_VECTOR` constants
//! were computed independently with Python's `hmac`, `hashlib` and `base64` over the same
//! secrets, timestamps and fixture bytes, as a cross-check of the Rust implementation.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use leadrouter_sources::{Auth, AuthError, verify};
use sha2::Sha256;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn hmac(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

const URL: &str = "https://hooks.example.com/in";

/// No error message may contain the secret or body contents.
fn assert_clean(err: AuthError, secret: &str) {
    let text = format!("{err} {err:?} {}", err.reason());
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains('{'), "{text}");
}

// ---------------------------------------------------------------- Typeform

const TYPEFORM_BODY: &[u8] = br#"{"event_id":"LtWXD3crgy","event_type":"form_response"}"#;
const TYPEFORM_VECTOR: &str = "sha256=fQ0Tf/AAVUZy1Bdk1is5tXMLH2Il2Qj36lezGX2eN6s=";

#[test]
fn typeform() {
    let auth = Auth::TypeformHmac {
        secret: "abc123".into(),
    };
    let now = Utc::now();
    let sig = format!("sha256={}", B64.encode(hmac("abc123", &[TYPEFORM_BODY])));
    assert_eq!(sig, TYPEFORM_VECTOR);
    let ok = |hs: &[(&str, &str)], body: &[u8]| verify(&auth, "POST", URL, &h(hs), body, now);
    assert_eq!(ok(&[("Typeform-Signature", &sig)], TYPEFORM_BODY), Ok(()));
    assert_eq!(ok(&[("typeform-signature", &sig)], TYPEFORM_BODY), Ok(()));
    // invalid: tampered body, wrong secret, hex instead of base64, no prefix
    let e = ok(&[("Typeform-Signature", &sig)], b"{}").unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "abc123");
    let other = format!("sha256={}", B64.encode(hmac("other", &[TYPEFORM_BODY])));
    assert!(matches!(
        ok(&[("Typeform-Signature", &other)], TYPEFORM_BODY),
        Err(AuthError::Invalid(_))
    ));
    let hexed = format!("sha256={}", hex::encode(hmac("abc123", &[TYPEFORM_BODY])));
    assert!(matches!(
        ok(&[("Typeform-Signature", &hexed)], TYPEFORM_BODY),
        Err(AuthError::Invalid(_))
    ));
    let bare = B64.encode(hmac("abc123", &[TYPEFORM_BODY]));
    assert!(matches!(
        ok(&[("Typeform-Signature", &bare)], TYPEFORM_BODY),
        Err(AuthError::Invalid(_))
    ));
    // missing
    assert!(matches!(ok(&[], TYPEFORM_BODY), Err(AuthError::Missing(_))));
    assert!(matches!(
        ok(&[("Typeform-Signature", "")], TYPEFORM_BODY),
        Err(AuthError::Missing(_))
    ));
    // conflicting duplicates
    assert!(matches!(
        ok(
            &[("Typeform-Signature", &sig), ("Typeform-Signature", &other)],
            TYPEFORM_BODY
        ),
        Err(AuthError::Invalid(_))
    ));
    // Typeform signs no timestamp: a replay cannot be told apart, so nothing is "stale".
}

// ---------------------------------------------------------------- Meta

const META_VECTOR: &str = "sha256=cd7e367d749de1f5413a80dd4977790e5dc376e177d1c279b3d8e135b63ef04d";

#[test]
fn meta_signature_256() {
    let body = fixture("facebook/leadgen_notification.json");
    let auth = Auth::MetaSignature256 {
        app_secret: "meta-app-secret".into(),
    };
    let now = Utc::now();
    let sig = format!("sha256={}", hex::encode(hmac("meta-app-secret", &[&body])));
    assert_eq!(sig, META_VECTOR);
    let run = |hs: &[(&str, &str)], b: &[u8]| verify(&auth, "POST", URL, &h(hs), b, now);
    assert_eq!(run(&[("X-Hub-Signature-256", &sig)], &body), Ok(()));
    assert_eq!(
        run(
            &[(
                "x-hub-signature-256",
                &sig.to_uppercase().replace("SHA256=", "sha256=")
            )],
            &body
        ),
        Ok(())
    );
    let e = run(&[("X-Hub-Signature-256", &sig)], b"{\"object\":\"page\"}").unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "meta-app-secret");
    // The legacy SHA-1 header alone is not accepted.
    assert!(matches!(
        run(&[("X-Hub-Signature", "sha1=0000")], &body),
        Err(AuthError::Missing(_))
    ));
    assert!(matches!(
        run(&[("X-Hub-Signature-256", "sha256=zz")], &body),
        Err(AuthError::Invalid(_))
    ));
}

// ---------------------------------------------------------------- HubSpot v3

const HUBSPOT_URL: &str = "https://www.example.com/webhook_uri?portal=62515&tag=a%3Ab";
const HUBSPOT_TS: i64 = 1_700_000_000_000;
const HUBSPOT_VECTOR: &str = "8Q9sIdjKtCgfz9SmOfBmwK2iXGps3bEQU6CS7HsqI5Q=";

#[test]
fn hubspot_v3() {
    let body = fixture("hubspot/v3_submission.json");
    let auth = Auth::HubspotV3 {
        client_secret: "hubspot-client-secret".into(),
    };
    let ts = HUBSPOT_TS.to_string();
    // The signed URI has HubSpot's listed characters decoded (%3A -> ':').
    let sig = B64.encode(hmac(
        "hubspot-client-secret",
        &[
            b"POST",
            b"https://www.example.com/webhook_uri?portal=62515&tag=a:b",
            &body,
            ts.as_bytes(),
        ],
    ));
    assert_eq!(sig, HUBSPOT_VECTOR);
    let headers = h(&[
        ("X-HubSpot-Signature-v3", &sig),
        ("X-HubSpot-Request-Timestamp", &ts),
    ]);
    let now = at_ms(HUBSPOT_TS + 60_000);
    assert_eq!(
        verify(&auth, "POST", HUBSPOT_URL, &headers, &body, now),
        Ok(())
    );
    assert_eq!(
        verify(&auth, "post", HUBSPOT_URL, &headers, &body, now),
        Ok(())
    );
    // invalid: other method, other URL, tampered body, tampered timestamp
    for (method, url, b) in [
        ("GET", HUBSPOT_URL, body.as_slice()),
        ("POST", "https://www.example.com/other", body.as_slice()),
        ("POST", HUBSPOT_URL, b"{}".as_slice()),
    ] {
        let e = verify(&auth, method, url, &headers, b, now).unwrap_err();
        assert!(matches!(e, AuthError::Invalid(_)), "{method} {url}");
        assert_clean(e, "hubspot-client-secret");
    }
    let moved = h(&[
        ("X-HubSpot-Signature-v3", &sig),
        ("X-HubSpot-Request-Timestamp", &(HUBSPOT_TS + 1).to_string()),
    ]);
    assert!(matches!(
        verify(&auth, "POST", HUBSPOT_URL, &moved, &body, now),
        Err(AuthError::Invalid(_))
    ));
    // missing either header
    let only_sig = h(&[("X-HubSpot-Signature-v3", &sig)]);
    assert!(matches!(
        verify(&auth, "POST", HUBSPOT_URL, &only_sig, &body, now),
        Err(AuthError::Missing(_))
    ));
    let only_ts = h(&[("X-HubSpot-Request-Timestamp", &ts)]);
    assert!(matches!(
        verify(&auth, "POST", HUBSPOT_URL, &only_ts, &body, now),
        Err(AuthError::Missing(_))
    ));
    // stale: older than five minutes (and far-future timestamps)
    let late = at_ms(HUBSPOT_TS + 5 * 60_000 + 1);
    assert!(matches!(
        verify(&auth, "POST", HUBSPOT_URL, &headers, &body, late),
        Err(AuthError::Stale(_))
    ));
    let early = at_ms(HUBSPOT_TS - 5 * 60_000 - 1);
    assert!(matches!(
        verify(&auth, "POST", HUBSPOT_URL, &headers, &body, early),
        Err(AuthError::Stale(_))
    ));
    let edge = at_ms(HUBSPOT_TS + 5 * 60_000);
    assert_eq!(
        verify(&auth, "POST", HUBSPOT_URL, &headers, &body, edge),
        Ok(())
    );
}

// ---------------------------------------------------------------- Calendly

const CALENDLY_T: i64 = 1_700_000_000;
const CALENDLY_VECTOR: &str = "db2c526ba57e69f7b347a11427f4ef7df103daeb212b9883a515c29816bfc51f";

#[test]
fn calendly() {
    let body = fixture("calendly/invitee_created.json");
    let auth = Auth::CalendlySignature {
        signing_key: "calendly-signing-key".into(),
        tolerance_secs: None,
    };
    let t = CALENDLY_T.to_string();
    let v1 = hex::encode(hmac("calendly-signing-key", &[t.as_bytes(), b".", &body]));
    assert_eq!(v1, CALENDLY_VECTOR);
    let header = format!("t={t},v1={v1}");
    let now = at_ms(CALENDLY_T * 1000 + 30_000);
    let run = |value: &str, b: &[u8], now| {
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("Calendly-Webhook-Signature", value)]),
            b,
            now,
        )
    };
    assert_eq!(run(&header, &body, now), Ok(()));
    // several v1 values (key rotation): one matching is enough
    assert_eq!(
        run(&format!("t={t},v1={},v1={v1}", "00".repeat(32)), &body, now),
        Ok(())
    );
    // invalid
    let e = run(&header, b"{}", now).unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "calendly-signing-key");
    assert!(matches!(
        run(&format!("t={},v1={v1}", CALENDLY_T + 1), &body, now),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        run(&format!("v1={v1}"), &body, now),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        run(&format!("t={t}"), &body, now),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        run("garbage", &body, now),
        Err(AuthError::Invalid(_))
    ));
    // missing
    assert!(matches!(
        verify(&auth, "POST", URL, &[], &body, now),
        Err(AuthError::Missing(_))
    ));
    // replayed: beyond the 3-minute default window
    assert!(matches!(
        run(&header, &body, at_ms((CALENDLY_T + 181) * 1000)),
        Err(AuthError::Stale(_))
    ));
    assert_eq!(
        run(&header, &body, at_ms((CALENDLY_T + 180) * 1000)),
        Ok(())
    );
    // a configured window
    let wide = Auth::CalendlySignature {
        signing_key: "calendly-signing-key".into(),
        tolerance_secs: Some(600),
    };
    assert_eq!(
        verify(
            &wide,
            "POST",
            URL,
            &h(&[("Calendly-Webhook-Signature", &header)]),
            &body,
            at_ms((CALENDLY_T + 500) * 1000)
        ),
        Ok(())
    );
}

// ---------------------------------------------------------------- Webflow

const WEBFLOW_TS: i64 = 1_722_370_035_277; // the timestamp of Webflow's tutorial delivery
const WEBFLOW_VECTOR: &str = "c25e128177822480c6413bb379e79419ab0bf87efb691d8097ae249627d9b092";

#[test]
fn webflow() {
    let body = fixture("webflow/tutorial_delivery.json");
    let auth = Auth::WebflowSignature {
        secret: "webflow-client-secret".into(),
    };
    let ts = WEBFLOW_TS.to_string();
    let sig = hex::encode(hmac("webflow-client-secret", &[ts.as_bytes(), b":", &body]));
    assert_eq!(sig, WEBFLOW_VECTOR);
    let headers = h(&[("x-webflow-timestamp", &ts), ("x-webflow-signature", &sig)]);
    let now = at_ms(WEBFLOW_TS + 1_000);
    assert_eq!(verify(&auth, "POST", URL, &headers, &body, now), Ok(()));
    // The tutorial's published signature was made with a secret the docs do not show.
    let published = h(&[
        ("x-webflow-timestamp", &ts),
        (
            "x-webflow-signature",
            "cb6162d8daf6573c658805a5f431adab25f56faf6c601935067d3957a161dfeb",
        ),
    ]);
    let e = verify(&auth, "POST", URL, &published, &body, now).unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "webflow-client-secret");
    assert!(matches!(
        verify(&auth, "POST", URL, &headers, b"{}", now),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("x-webflow-signature", &sig)]),
            &body,
            now
        ),
        Err(AuthError::Missing(_))
    ));
    assert!(matches!(
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("x-webflow-timestamp", &ts)]),
            &body,
            now
        ),
        Err(AuthError::Missing(_))
    ));
    assert!(matches!(
        verify(
            &auth,
            "POST",
            URL,
            &headers,
            &body,
            at_ms(WEBFLOW_TS + 300_001)
        ),
        Err(AuthError::Stale(_))
    ));
}

// ---------------------------------------------------------------- Google Ads key

#[test]
fn google_key() {
    let body = fixture("google-ads/lead_form_webhook.json");
    let now = Utc::now();
    let good = Auth::GoogleKey {
        key: "webhook-key-from-the-form".into(),
    };
    assert_eq!(verify(&good, "POST", URL, &[], &body, now), Ok(()));
    let bad = Auth::GoogleKey {
        key: "another-key".into(),
    };
    let e = verify(&bad, "POST", URL, &[], &body, now).unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "webhook-key-from-the-form");
    assert!(matches!(
        verify(&good, "POST", URL, &[], br#"{"lead_id":"x"}"#, now),
        Err(AuthError::Missing(_))
    ));
    assert!(matches!(
        verify(&good, "POST", URL, &[], b"not json", now),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        verify(&good, "POST", URL, &[], br#"{"google_key":123}"#, now),
        Err(AuthError::Invalid(_))
    ));
    // Google's key is static: there is no timestamp, so no replay window to enforce.
}

// ---------------------------------------------------------------- Tally

const TALLY_VECTOR: &str = "nnbN7zijE2jtPxbe6mOyczYj+OJ2Nwf48vIYyH137Tc=";

#[test]
fn tally() {
    let body = fixture("tally/form_response.json");
    let auth = Auth::TallySignature {
        signing_secret: "tally-secret".into(),
    };
    let now = Utc::now();
    let sig = B64.encode(hmac("tally-secret", &[&body]));
    assert_eq!(sig, TALLY_VECTOR);
    assert_eq!(
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("Tally-Signature", &sig)]),
            &body,
            now
        ),
        Ok(())
    );
    let e = verify(
        &auth,
        "POST",
        URL,
        &h(&[("Tally-Signature", &sig)]),
        b"{}",
        now,
    )
    .unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "tally-secret");
    assert!(matches!(
        verify(&auth, "POST", URL, &[], &body, now),
        Err(AuthError::Missing(_))
    ));
}

// ---------------------------------------------------------------- API key, None, secrets

#[test]
fn api_key_and_none() {
    let auth = Auth::ApiKey {
        header: "X-Leadrouter-Key".into(),
        key: "k-123456".into(),
    };
    let now = Utc::now();
    assert_eq!(
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("x-leadrouter-key", "k-123456")]),
            b"",
            now
        ),
        Ok(())
    );
    let e = verify(
        &auth,
        "POST",
        URL,
        &h(&[("X-Leadrouter-Key", "k-12345")]),
        b"",
        now,
    )
    .unwrap_err();
    assert!(matches!(e, AuthError::Invalid(_)));
    assert_clean(e, "k-123456");
    assert!(matches!(
        verify(
            &auth,
            "POST",
            URL,
            &h(&[("Authorization", "k-123456")]),
            b"",
            now
        ),
        Err(AuthError::Missing(_))
    ));
    assert_eq!(verify(&Auth::None, "POST", URL, &[], b"", now), Ok(()));
}

#[test]
fn empty_configured_secrets_never_verify() {
    let now = Utc::now();
    let body = TYPEFORM_BODY;
    let sig = format!("sha256={}", B64.encode(hmac("", &[body])));
    assert!(matches!(
        verify(
            &Auth::TypeformHmac {
                secret: String::new()
            },
            "POST",
            URL,
            &h(&[("Typeform-Signature", &sig)]),
            body,
            now
        ),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        verify(
            &Auth::ApiKey {
                header: "x-key".into(),
                key: String::new()
            },
            "POST",
            URL,
            &h(&[("x-key", "")]),
            body,
            now
        ),
        Err(AuthError::Invalid(_))
    ));
}

#[test]
fn extreme_signed_timestamps_are_stale_not_panics() {
    let body = b"{}";
    let now = at_ms(WEBFLOW_TS);
    for ts in [i64::MIN, i64::MAX, -1, 0] {
        let t = ts.to_string();
        let wf = hex::encode(hmac("s", &[t.as_bytes(), b":", body]));
        assert!(matches!(
            verify(
                &Auth::WebflowSignature { secret: "s".into() },
                "POST",
                URL,
                &h(&[("x-webflow-timestamp", &t), ("x-webflow-signature", &wf)]),
                body,
                now
            ),
            Err(AuthError::Stale(_))
        ));
        let hs = B64.encode(hmac("s", &[b"POST", URL.as_bytes(), body, t.as_bytes()]));
        assert!(matches!(
            verify(
                &Auth::HubspotV3 {
                    client_secret: "s".into()
                },
                "POST",
                URL,
                &h(&[
                    ("X-HubSpot-Signature-v3", &hs),
                    ("X-HubSpot-Request-Timestamp", &t)
                ]),
                body,
                now
            ),
            Err(AuthError::Stale(_))
        ));
        let cv = hex::encode(hmac("s", &[t.as_bytes(), b".", body]));
        assert!(matches!(
            verify(
                &Auth::CalendlySignature {
                    signing_key: "s".into(),
                    tolerance_secs: None
                },
                "POST",
                URL,
                &h(&[("Calendly-Webhook-Signature", &format!("t={t},v1={cv}"))]),
                body,
                now
            ),
            Err(AuthError::Stale(_))
        ));
    }
}
