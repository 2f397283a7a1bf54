//! Where normalization time goes, per source fixture: decoding (the adapter: JSON parse and
//! field mapping) against normalizing the decoded fields into a lead (`normalize_object`), and
//! the two together. Each figure is the best of 7 rounds of `n` calls (wall time per call), so
//! that other load on the machine shows less. Same fixtures as `benches/normalize.rs`.
//!
//! `cargo run --profile profiling -p leadrouter-domain --example normalize_stages -- 2000 [SOURCE]`
//!
//! `... -- 20000 SOURCE once`: only decode and normalize, `n` times (for `perf record`, or CPU
//! time with `perf stat -e task-clock` at two values of `n`). `... -- 20000 labels`: the
//! field-name heuristics alone, per identifier.

#![allow(missing_docs)]

use std::hint::black_box as bb;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use leadrouter_lead::{Intake, normalize_object};
use leadrouter_sources::{Mapping, decode_all};
use uuid::Uuid;

/// The allocator the binaries use, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JSON: &str = "application/json";
const CASES: &[(&str, &str, &str)] = &[
    ("typeform", "typeform/form_response.json", JSON),
    ("tally", "tally/form_response.json", JSON),
    (
        "jotform",
        "jotform/webhook_multipart.txt",
        "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW",
    ),
    ("webflow", "webflow/form_submission_v2.json", JSON),
    ("google-ads", "google-ads/lead_form_webhook.json", JSON),
    (
        "salesforce",
        "salesforce/web_to_lead.txt",
        "application/x-www-form-urlencoded",
    ),
    ("generic", "generic/nested.json", JSON),
];

/// Best of 7 rounds of `n` calls of `f`, in µs per call.
fn best(n: usize, mut f: impl FnMut()) -> f64 {
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() / n as f64 * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n: usize = std::env::args().nth(1).map_or(5_000, |a| {
        a.parse().expect("usage: normalize_stages [CALLS [SOURCE]]")
    });
    let only = std::env::args().nth(2);
    let fixtures = format!("{}/../sources/fixtures", env!("CARGO_MANIFEST_DIR"));
    let intake = Intake {
        id: Uuid::from_u128(1),
        received_at: Utc
            .with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
            .single()
            .expect("time"),
        source: "bench".into(),
        default_country: None,
        test: false,
        awaiting_enrichment: false,
    };
    let mapping = Mapping::default();
    if only.as_deref() == Some("labels") {
        // The field-name heuristics alone, on the identifiers of the Salesforce, Typeform and
        // Tally fixtures.
        let labels = [
            "oid",
            "retURL",
            "first_name",
            "last_name",
            "email",
            "company",
            "phone",
            "title",
            "city",
            "state",
            "zip",
            "country",
            "description",
            "lead_source",
            "00N6g00000TxyzA",
            "readable_ref_email",
            "SMEUb7VJz92Q",
            "What is your first name?",
            "If you're OK with our city management following up if they have further questions, please give us your email address.",
            "question_mVGEg3_8b5711e3-f6a2-4e25-9e68-5d730598c681",
            "utm_campaign",
            "Checkboxes (Soccer)",
            "Phone number",
            "Multiple choice",
        ];
        let t = best(n, || {
            for l in labels {
                bb(leadrouter_sources::mapping::default_canonical(bb(l)));
            }
        });
        println!(
            "labels: {:.1} ns per label",
            t * 1000.0 / labels.len() as f64
        );
        return;
    }

    for (source, file, ct) in CASES {
        if only.as_deref().is_some_and(|o| o != *source) {
            continue;
        }
        let body = std::fs::read(format!("{fixtures}/{file}")).expect("fixture");
        let decoded = decode_all(source, ct, &body, &mapping).expect("decodes");
        if std::env::args().nth(3).as_deref() == Some("once") {
            // Decode and normalize `n` times, nothing else: for counting instructions
            // (`perf stat -e instructions:u`, at two values of `n`), which other load on the
            // machine does not change.
            for _ in 0..n {
                if let Ok(mut d) = decode_all(source, ct, bb(&body), &mapping) {
                    let f = std::mem::take(&mut d[0].fields);
                    bb(normalize_object(f, &intake).ok());
                }
            }
            continue;
        }
        let dec = best(n, || {
            bb(decode_all(source, ct, bb(&body), &mapping).ok());
        });
        let clone = best(n, || {
            bb(bb(&decoded[0].fields).clone());
        });
        let norm = best(n, || {
            let f = bb(&decoded[0].fields).clone();
            bb(normalize_object(f, &intake).ok());
        }) - clone;
        let both = best(n, || {
            if let Ok(mut d) = decode_all(source, ct, bb(&body), &mapping) {
                let f = std::mem::take(&mut d[0].fields);
                bb(normalize_object(f, &intake).ok());
            }
        });
        println!(
            "{source:<12} decode {dec:6.2} us   normalize_object {norm:6.2} us   both {both:6.2} us"
        );
    }
}
