//! The caller's side of a submission: who sent it, when, and which id it gets.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Who/when/where of a submission, decided by the caller (never taken from the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    /// The lead id: [`derive_lead_id`] when the submission carries an idempotency key or an
    /// external id, else a fresh `Uuid::now_v7()`.
    pub id: Uuid,
    /// When leadrouter received the submission.
    pub received_at: DateTime<Utc>,
    /// The source name (`api`, `form`, `typeform`, ...).
    pub source: String,
    /// Country assumed for national phone numbers when the lead names none (alpha-2, alpha-3
    /// or a country name; unrecognized values are ignored).
    pub default_country: Option<String>,
    /// The source flagged the submission as a test (becomes [`crate::Lead::test`]).
    pub test: bool,
    /// Only identifiers arrived; no email or phone is required yet (becomes
    /// [`crate::Lead::awaiting_enrichment`]).
    pub awaiting_enrichment: bool,
}

/// The namespace of the UUIDv5 lead ids made by [`derive_lead_id`]. Never change it: ids of
/// leads already stored would stop matching their re-submissions.
pub const LEAD_ID_NAMESPACE: Uuid = Uuid::from_u128(0xfde5_1b26_3698_477f_9b78_70c5_ed42_544e);

/// A deterministic lead id, so that a re-submitted lead gets the id it had the first time.
///
/// With an idempotency key: UUIDv5 of `key:{source}:{key}`; else with an external id: UUIDv5 of
/// `ext:{source}:{external_id}` (both in [`LEAD_ID_NAMESPACE`], key and id trimmed); else `None`
/// and the caller uses `Uuid::now_v7()`. Empty (or blank) keys and ids count as absent.
pub fn derive_lead_id(
    source: &str,
    idempotency_key: Option<&str>,
    external_id: Option<&str>,
) -> Option<Uuid> {
    fn present(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let name = if let Some(key) = present(idempotency_key) {
        format!("key:{source}:{key}")
    } else {
        format!("ext:{source}:{}", present(external_id)?)
    };
    Some(Uuid::new_v5(&LEAD_ID_NAMESPACE, name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_wins_over_external_id() {
        let a = derive_lead_id("api", Some("k1"), Some("e1"));
        let b = derive_lead_id("api", Some("k1"), None);
        assert_eq!(a, b);
        assert_eq!(a, Some(Uuid::new_v5(&LEAD_ID_NAMESPACE, b"key:api:k1")));
        assert_eq!(a.map(|u| u.get_version_num()), Some(5));
    }

    #[test]
    fn external_id_used_without_key() {
        let a = derive_lead_id("typeform", None, Some(" 123 "));
        assert_eq!(
            a,
            Some(Uuid::new_v5(&LEAD_ID_NAMESPACE, b"ext:typeform:123"))
        );
        assert_ne!(
            a,
            derive_lead_id("form", None, Some("123")),
            "source is part of the id"
        );
        assert_ne!(
            a,
            derive_lead_id("typeform", Some("123"), None),
            "key and ext differ"
        );
    }

    #[test]
    fn nothing_or_blank_gives_none() {
        assert_eq!(derive_lead_id("api", None, None), None);
        assert_eq!(derive_lead_id("api", Some("  "), Some("")), None);
        assert!(derive_lead_id("api", Some(""), Some("x")).is_some());
    }

    #[test]
    fn stable_across_releases() {
        // Pinned values (computed independently with Python's uuid.uuid5): changing the
        // namespace or the name format would re-key every stored lead.
        let id = |key, ext| derive_lead_id("api", key, ext).map(|u| u.to_string());
        assert_eq!(
            id(Some("abc"), None).as_deref(),
            Some("1bed6d7e-3a2f-5e01-8f17-6dfe0cce9845")
        );
        let ext = derive_lead_id("typeform", None, Some("123")).map(|u| u.to_string());
        assert_eq!(ext.as_deref(), Some("b91e9221-a136-5d6b-bc50-761cddaf4fc9"));
    }
}
