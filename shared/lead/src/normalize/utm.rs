//! UTM parameters from a landing page URL.

use super::text::{clean_line, too_long};

/// The UTM field names, in `Lead` order; also the query parameter names.
pub(crate) const UTM_FIELDS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// The UTM parameters in the query string of `url` (absolute or relative), in
/// [`UTM_FIELDS`] order: first occurrence of each, cleaned; empty or longer than `max`
/// values are ignored.
pub(crate) fn from_url(url: &str, max: usize) -> [Option<String>; 5] {
    let mut found: [Option<String>; 5] = Default::default();
    let Some((_, rest)) = url.split_once('?') else {
        return found;
    };
    let query = rest.split('#').next().unwrap_or_default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(i) = UTM_FIELDS.iter().position(|f| key.eq_ignore_ascii_case(f)) else {
            continue;
        };
        if found[i].is_some() {
            continue;
        }
        let value = clean_line(&value);
        if !value.is_empty() && !too_long(&value, max) {
            found[i] = Some(value);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let got = from_url(
            "https://acme.com/pricing?utm_source=google&UTM_MEDIUM=cpc&utm_campaign=spring+sale%202025&utm_source=bing&utm_term=&x=1#utm_content=no",
            512,
        );
        assert_eq!(
            got,
            [
                Some("google".into()),
                Some("cpc".into()),
                Some("spring sale 2025".into()),
                None,
                None
            ]
        );
        assert_eq!(
            from_url("/landing?utm_content=hero%20banner", 512)[4].as_deref(),
            Some("hero banner")
        );
        assert!(
            from_url("https://acme.com/", 512)
                .iter()
                .all(Option::is_none)
        );
        assert_eq!(from_url("?utm_source=%ZZ", 512)[0].as_deref(), Some("%ZZ"));
        assert_eq!(from_url("?utm_source=toolong", 3)[0], None);
    }
}
