//! Google Ads lead form webhooks.
//!
//! Payload: <https://developers.google.com/google-ads/webhook/docs/implementation>.
//!
//! * Each `user_column_data` entry is matched on its `column_id` (e.g. `FULL_NAME`, `EMAIL`,
//!   `PHONE_NUMBER`, `POSTAL_CODE`, `COMPANY_NAME`, `WORK_EMAIL`), then its `column_name`;
//!   unmatched entries go to `custom` under the column id.
//! * `lead_id` is the external id; `is_test` sets [`Decoded::is_test`].
//! * `google_key` is the shared secret and is **not** kept.
//! * Other top-level fields (`api_version`, `form_id`, `campaign_id`, `gcl_id`, `adgroup_id`,
//!   `creative_id`, `asset_group_id`, `lead_stage`, `lead_submit_time`, ...) go to `custom`;
//!   numeric ids become strings (they are 64-bit).

use serde_json::Value;

use super::{json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink, id_value};
use crate::{Decoded, SourceError};

/// Decodes a Google Ads lead form webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut root = json_body("google-ads", ct, body)?;
    let Value::Array(columns) = take(&mut root, "user_column_data") else {
        return Err(SourceError::Malformed(
            "user_column_data is missing or not an array",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&take(&mut root, "lead_id"));
    sink.is_test = take(&mut root, "is_test").as_bool().unwrap_or(false);
    drop(take(&mut root, "google_key"));

    for col in columns {
        let Value::Object(mut col) = col else {
            continue;
        };
        let id = take(&mut col, "column_id");
        let name = take(&mut col, "column_name");
        let value = take(&mut col, "string_value");
        let id = id.as_str().unwrap_or("");
        let name = name.as_str().unwrap_or("");
        let ids: Vec<&str> = [id, name].into_iter().filter(|s| !s.is_empty()).collect();
        let key = if id.is_empty() { name } else { id };
        sink.answer(&ids, key, value, None);
    }
    for (k, v) in root {
        let v = if k.ends_with("_id") { id_value(v) } else { v };
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}
