//! Salesforce Web-to-Lead form posts (`application/x-www-form-urlencoded`).
//!
//! The field names are those of the HTML form Salesforce generates (Setup > Web-to-Lead):
//! <https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm>.
//!
//! * Standard lead fields are matched by name: `first_name`, `last_name`, `email`, `company`,
//!   `phone`, `mobile`, `title` (job title), `URL` (website), `city`, `state`/`state_code`
//!   (region), `zip`, `country`/`country_code`, `industry`, `description` (message).
//!   `street`, `lead_source`, `salutation`, `employees`, `revenue`, `Campaign_ID`,
//!   `emailOptOut`, ... go to `custom` under their names.
//! * Custom fields posted by id (`00N...`) go to `custom` under the id; map them to canonical
//!   fields with the admin mapping. Repeated names (multi-select picklists) become arrays.
//! * `oid`, `retURL`, `debug`, `debugEmail` are form plumbing and go to `custom` as-is.
//! * Web-to-Lead has no submission id.

use crate::body::{self, BodyKind, ContentType};
use crate::mapping::{Mapping, Sink};
use crate::{Decoded, SourceError};

/// Form plumbing fields: kept, but never matched by the heuristics.
const PLUMBING: &[&str] = &["oid", "orgid", "retURL", "debug", "debugEmail", "encoding"];

/// Decodes a Web-to-Lead form post.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let pairs = match ct.kind {
        BodyKind::UrlEncoded | BodyKind::Missing | BodyKind::Multipart(_) => {
            body::form_pairs(ct, body)?
        }
        _ => return Err(ct.unsupported("salesforce")),
    };
    let mut sink = Sink::new(mapping);
    for (name, value) in body::pairs_to_object(pairs) {
        if PLUMBING.contains(&name.as_str()) {
            sink.meta(&name, value);
        } else {
            sink.answer(&[&name], &name, value, None);
        }
    }
    Ok(sink.finish())
}
