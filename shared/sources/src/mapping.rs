//! Field-name mapping: the admin's per-source overrides ([`Mapping`]), the default
//! heuristics that recognise common field names ([`default_canonical`]), and the collector
//! every adapter writes into.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::{Decoded, SourceError};

/// The inputs a mapping may target: the canonical lead fields, plus `name` (a full name, split
/// by the normalizer) and `website` (a company domain is derived from it).
pub const EXTRA_TARGETS: &[&str] = &["name", "website"];

/// Canonical fields whose value is text: a JSON number sent for one of them is written as its
/// decimal string (Webflow sends phone numbers as numbers).
const TEXT_FIELDS: &[&str] = &[
    "email",
    "phone",
    "first_name",
    "last_name",
    "name",
    "company",
    "website",
    "company_domain",
    "job_title",
    "country",
    "region",
    "city",
    "postal_code",
    "industry",
    "currency",
    "language",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "landing_page",
    "message",
];

/// An admin's overrides for one source: from a tool's field id, ref, label or key to a canonical
/// field name (see [`leadrouter_lead::CANONICAL_FIELDS`] and [`EXTRA_TARGETS`]) or to `custom.<key>` (keep the value in `custom`
/// under another name).
///
/// Overrides are applied before the default heuristics. A tool field is matched on each of its
/// identifiers exactly first, then case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Tool field identifier to target.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// Where a mapped value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Canonical(&'static str),
    Custom(String),
}

impl Mapping {
    /// Checks that every target is a canonical field or `custom.<non-empty key>`.
    pub fn validate(&self) -> Result<(), SourceError> {
        for target in self.fields.values() {
            if parse_target(target).is_none() {
                return Err(SourceError::InvalidMapping(
                    target.chars().take(64).collect(),
                ));
            }
        }
        Ok(())
    }

    /// The target for a tool field known by `ids` (in the tool's preference order).
    fn lookup(&self, ids: &[&str]) -> Option<Target> {
        if self.fields.is_empty() {
            return None;
        }
        for id in ids {
            if let Some(t) = self.fields.get(*id) {
                return parse_target(t);
            }
        }
        for id in ids {
            if let Some((_, t)) = self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(id)) {
                return parse_target(t);
            }
        }
        None
    }
}

fn parse_target(target: &str) -> Option<Target> {
    if let Some(key) = target.strip_prefix("custom.") {
        return (!key.is_empty()).then(|| Target::Custom(key.to_owned()));
    }
    canonical(target).map(Target::Canonical)
}

fn canonical(name: &str) -> Option<&'static str> {
    leadrouter_lead::CANONICAL_FIELDS
        .iter()
        .chain(EXTRA_TARGETS)
        .copied()
        .find(|c| *c == name)
}

/// Normalizes a field label for the heuristics: camelCase split, lower-cased, punctuation to
/// single spaces, and leading question phrasing ("What is your ...") removed.
pub fn normalize_label(label: &str) -> String {
    let out = if label.is_ascii() {
        ascii_words(label)
    } else {
        unicode_words(label)
    };
    let s = strip_question(&out);
    if s.len() == out.len() {
        out
    } else {
        s.to_owned()
    }
}

/// [`unicode_words`] for an ASCII label, in one pass and one allocation (every form answer's
/// identifiers go through here; for ASCII, case and character classes are the ASCII ones).
fn ascii_words(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut prev_lower = false;
    let mut pending_space = false;
    for c in label.chars() {
        let split = c.is_ascii_uppercase() && prev_lower;
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        if c.is_ascii_alphanumeric() {
            if (pending_space || split) && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// camelCase split, lower-cased, runs of other characters to one space, trimmed.
fn unicode_words(label: &str) -> String {
    let mut spaced = String::with_capacity(label.len() + 8);
    let mut prev_lower = false;
    for c in label.chars() {
        if c.is_uppercase() && prev_lower {
            spaced.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        spaced.push(c);
    }
    let lowered = spaced.to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    for c in lowered.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// The canonical field a tool field label most likely means, by the default heuristics.
///
/// Deliberately conservative: a wrong guess would make normalization reject the lead, whereas
/// an unmapped field is merely kept in `custom`.
pub fn default_canonical(label: &str) -> Option<&'static str> {
    // Every answer's identifiers come through here: an ASCII label is normalized into a stack
    // buffer, and given up on as soon as it cannot be a known name (most identifiers and long
    // questions are refused by their first word, or when they outgrow the buffer).
    let mut buf = [0u8; WORDS_CAP];
    match ascii_words_into(label, &mut buf) {
        Words::Text(n) => canonical_of_normalized(strip_question(n)),
        Words::NoMatch => None,
        Words::Long | Words::NotAscii => canonical_of_normalized(&normalize_label(label)),
    }
}

/// A normalized label that names a known field is its question prefix (at most
/// [`MAX_PREFIX_LEN`] bytes) and a name (at most [`MAX_NAME_LEN`]), optionally followed by a
/// space and digits ("Email 2"). So in a normalized label of any longer length, every byte from
/// this index on must be a digit.
const WORDS_CAP: usize = MAX_PREFIX_LEN + MAX_NAME_LEN + 1;

/// [`ascii_words_into`]'s result.
enum Words<'b> {
    /// The normalized label.
    Text(&'b str),
    /// It has a letter or a word break at or after [`WORDS_CAP`]: no known name.
    NoMatch,
    /// Longer than [`WORDS_CAP`], digits only from there: left to the allocating path.
    Long,
    /// Not ASCII (from a byte before anything else was decided): left to the Unicode path.
    NotAscii,
}

/// [`ascii_words`] into `buf`, for a label that is ASCII up to where the result is decided. A
/// non-ASCII character only changes the normalized label from its own position on, so a first
/// word or an overflow seen before it is decided as [`unicode_words`] would decide it.
fn ascii_words_into<'b>(label: &str, buf: &'b mut [u8; WORDS_CAP]) -> Words<'b> {
    let mut len = 0;
    let mut long = false;
    let mut prev_lower = false;
    let mut pending_space = false;
    // Whether the first word has been checked against [`is_first_word`].
    let mut first_word_checked = false;
    // Writes `c`; false when it shows that the label names no known field.
    let mut push = |buf: &mut [u8; WORDS_CAP], c: u8, len: &mut usize| match buf.get_mut(*len) {
        Some(slot) => {
            *slot = c;
            *len += 1;
            true
        }
        None if c.is_ascii_digit() => {
            long = true;
            true
        }
        None => false,
    };
    for &c in label.as_bytes() {
        if !c.is_ascii() {
            return Words::NotAscii;
        }
        let class = BYTE_CLASS[usize::from(c)];
        if class == 0 {
            prev_lower = false;
            pending_space = true;
            continue;
        }
        let upper = class & UPPER != 0;
        if (pending_space || (upper && prev_lower)) && len != 0 {
            // The first word is complete: most identifiers (question keys, ids) are ruled out
            // here, before the rest is lower-cased and split.
            if !first_word_checked {
                if !is_first_word(&buf[..len]) {
                    return Words::NoMatch;
                }
                first_word_checked = true;
            }
            if !push(buf, b' ', &mut len) {
                return Words::NoMatch;
            }
        }
        prev_lower = !upper;
        pending_space = false;
        if !push(buf, class & !UPPER, &mut len) {
            return Words::NoMatch;
        }
    }
    if long {
        return Words::Long;
    }
    // Only ASCII letters, digits and spaces were written.
    match std::str::from_utf8(&buf[..len]) {
        Ok(n) => Words::Text(n),
        Err(_) => Words::Long,
    }
}

/// Whether `word` may begin a normalized label that names a known field. A known label is
/// `[prefix] name [digits]`, so its first word is the first word of a name in [`NAMES`] or of
/// a [`QUESTION_PREFIXES`] entry; this checks the length and the first and last bytes against
/// those words (a pass is not a match, a refusal is certain). None of those words has a digit,
/// so a first word cut short by the buffer (it then ends in a digit) is rightly refused.
fn is_first_word(word: &[u8]) -> bool {
    match (word.first(), word.last()) {
        (Some(&first), Some(&last)) if word.len() <= MAX_FIRST_WORD_LEN => {
            FIRST_WORD_BYTES[word.len()] & first_byte_bit_of(first) != 0
                && LAST_WORD_BYTES[word.len()] & first_byte_bit_of(last) != 0
        }
        _ => false,
    }
}

/// The first word of `s` (up to its first space).
const fn first_word_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b' ' {
        i += 1;
    }
    i
}

/// Bytes of the longest first word of [`NAMES`] and [`QUESTION_PREFIXES`].
const MAX_FIRST_WORD_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < NAMES.len() {
        if first_word_len(NAMES[i].0) > max {
            max = first_word_len(NAMES[i].0);
        }
        i += 1;
    }
    let mut i = 0;
    while i < QUESTION_PREFIXES.len() {
        if first_word_len(QUESTION_PREFIXES[i]) > max {
            max = first_word_len(QUESTION_PREFIXES[i]);
        }
        i += 1;
    }
    max
};

/// For each length, the first bytes of the first words of that length (as [`FIRST_BYTES`]).
const FIRST_WORD_BYTES: [u32; MAX_FIRST_WORD_LEN + 1] = first_word_masks(false);

/// For each length, the last bytes of the first words of that length.
const LAST_WORD_BYTES: [u32; MAX_FIRST_WORD_LEN + 1] = first_word_masks(true);

/// [`FIRST_WORD_BYTES`] (or, with `last`, [`LAST_WORD_BYTES`]).
const fn first_word_masks(last: bool) -> [u32; MAX_FIRST_WORD_LEN + 1] {
    const fn add(masks: &mut [u32; MAX_FIRST_WORD_LEN + 1], s: &str, last: bool) {
        let len = first_word_len(s);
        if len > 0 {
            let b = s.as_bytes()[if last { len - 1 } else { 0 }];
            masks[len] |= first_byte_bit_of(b);
        }
    }
    let mut masks = [0; MAX_FIRST_WORD_LEN + 1];
    let mut i = 0;
    while i < NAMES.len() {
        add(&mut masks, NAMES[i].0, last);
        i += 1;
    }
    let mut i = 0;
    while i < QUESTION_PREFIXES.len() {
        add(&mut masks, QUESTION_PREFIXES[i], last);
        i += 1;
    }
    masks
}

/// Marks an upper-case letter in [`BYTE_CLASS`].
const UPPER: u8 = 0x80;

/// For each ASCII byte as [`ascii_words`] treats it: 0 for a word break (anything but a letter
/// or digit), else the byte lower-cased, with [`UPPER`] set for an upper-case letter.
const BYTE_CLASS: [u8; 128] = {
    let mut table = [0; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        table[c] = if b.is_ascii_uppercase() {
            b.to_ascii_lowercase() | UPPER
        } else if b.is_ascii_alphanumeric() {
            b
        } else {
            0
        };
        c += 1;
    }
    table
};

/// A normalized label without its leading question phrasing ([`normalize_label`]'s last step).
fn strip_question(words: &str) -> &str {
    let Some(first) = words.bytes().next() else {
        return words;
    };
    for prefix in QUESTION_PREFIXES {
        if prefix.as_bytes()[0] == first
            && let Some(rest) = words.strip_prefix(prefix)
        {
            return rest;
        }
    }
    words
}

/// Bytes of the longest of [`QUESTION_PREFIXES`].
const MAX_PREFIX_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < QUESTION_PREFIXES.len() {
        if QUESTION_PREFIXES[i].len() > max {
            max = QUESTION_PREFIXES[i].len();
        }
        i += 1;
    }
    max
};

/// Leading question phrasing, removed by [`normalize_label`] (the first match only).
const QUESTION_PREFIXES: [&str; 7] = [
    "what is your ",
    "what s your ",
    "whats your ",
    "please enter your ",
    "please provide your ",
    "enter your ",
    "your ",
];

/// The canonical field of a normalized label ("email 2" as "email").
fn canonical_of_normalized(n: &str) -> Option<&'static str> {
    if let Some(c) = lookup_normalized(n) {
        return Some(c);
    }
    // "Email 2" (Webflow numbers duplicate field names).
    let (head, tail) = n.rsplit_once(' ')?;
    if tail.chars().all(|c| c.is_ascii_digit()) {
        return lookup_normalized(head);
    }
    None
}

fn lookup_normalized(n: &str) -> Option<&'static str> {
    // Most identifiers (question keys, long labels) are longer than any known name.
    if n.len() > MAX_NAME_LEN || FIRST_BYTES[n.len()] & first_byte_bit(n) == 0 {
        return None;
    }
    let (start, end) = BY_LENGTH[n.len()];
    NAMES_BY_LENGTH[start..end]
        .iter()
        .find(|(name, _)| *name == n)
        .map(|(_, c)| *c)
}

/// [`NAMES`] ordered by length (stable, so alphabetical within a length): a lookup compares
/// only the names of its own length.
const NAMES_BY_LENGTH: [(&str, &str); NAMES.len()] = {
    let mut out = NAMES;
    // Insertion sort (const fns have no `sort`); 122 names, at compile time.
    let mut i = 1;
    while i < out.len() {
        let mut j = i;
        while j > 0 && out[j - 1].0.len() > out[j].0.len() {
            let t = out[j - 1];
            out[j - 1] = out[j];
            out[j] = t;
            j -= 1;
        }
        i += 1;
    }
    out
};

/// For each length, the range of [`NAMES_BY_LENGTH`] holding the names of that length.
const BY_LENGTH: [(usize, usize); MAX_NAME_LEN + 1] = {
    let mut ranges = [(0, 0); MAX_NAME_LEN + 1];
    let mut i = 0;
    while i < NAMES_BY_LENGTH.len() {
        let len = NAMES_BY_LENGTH[i].0.len();
        if ranges[len].1 == 0 {
            ranges[len].0 = i;
        }
        ranges[len].1 = i + 1;
        i += 1;
    }
    // Lengths without names keep the empty range (0, 0).
    ranges
};

/// Normalized field names the heuristics know, with their canonical field (sorted, for
/// reading; a scan that compares lengths first beats a binary search, which compares bytes).
const NAMES: [(&str, &str); 122] = [
    ("business email", "email"),
    ("business name", "company"),
    ("business phone", "phone"),
    ("cell", "phone"),
    ("cell phone", "phone"),
    ("city", "city"),
    ("comment", "message"),
    ("comments", "message"),
    ("company", "company"),
    ("company domain", "company_domain"),
    ("company name", "company"),
    ("company website", "website"),
    ("companyname", "company"),
    ("consent", "consent"),
    ("contact name", "name"),
    ("contact number", "phone"),
    ("country", "country"),
    ("country code", "country"),
    ("county", "region"),
    ("currency", "currency"),
    ("deal size", "deal_value"),
    ("deal value", "deal_value"),
    ("description", "message"),
    ("designation", "job_title"),
    ("domain", "company_domain"),
    ("e mail", "email"),
    ("e mail address", "email"),
    ("email", "email"),
    ("email address", "email"),
    ("email id", "email"),
    ("emailaddress", "email"),
    ("employer", "company"),
    ("enquiry", "message"),
    ("expected deal value", "deal_value"),
    ("family name", "last_name"),
    ("first name", "first_name"),
    ("firstname", "first_name"),
    ("forename", "first_name"),
    ("full name", "name"),
    ("fullname", "name"),
    ("gdpr consent", "consent"),
    ("given name", "first_name"),
    ("homepage", "website"),
    ("how can we help", "message"),
    ("how can we help you", "message"),
    ("industry", "industry"),
    ("inquiry", "message"),
    ("interested in", "product_interest"),
    ("job role", "job_title"),
    ("job title", "job_title"),
    ("jobtitle", "job_title"),
    ("landing page", "landing_page"),
    ("landing page url", "landing_page"),
    ("language", "language"),
    ("last name", "last_name"),
    ("lastname", "last_name"),
    ("lead score", "score"),
    ("licenses", "seats"),
    ("mail", "email"),
    ("marketing consent", "consent"),
    ("message", "message"),
    ("mobile", "phone"),
    ("mobile number", "phone"),
    ("mobile phone", "phone"),
    ("mobilephone", "phone"),
    ("name", "name"),
    ("notes", "message"),
    ("number of licenses", "seats"),
    ("number of seats", "seats"),
    ("opt in", "consent"),
    ("optin", "consent"),
    ("organisation", "company"),
    ("organisation name", "company"),
    ("organization", "company"),
    ("organization name", "company"),
    ("page uri", "landing_page"),
    ("page url", "landing_page"),
    ("phone", "phone"),
    ("phone no", "phone"),
    ("phone number", "phone"),
    ("phonenumber", "phone"),
    ("position", "job_title"),
    ("post code", "postal_code"),
    ("postal code", "postal_code"),
    ("postcode", "postal_code"),
    ("preferred language", "language"),
    ("product", "product_interest"),
    ("product interest", "product_interest"),
    ("products", "product_interest"),
    ("province", "region"),
    ("region", "region"),
    ("role", "job_title"),
    ("score", "score"),
    ("seat count", "seats"),
    ("seats", "seats"),
    ("state", "region"),
    ("state code", "region"),
    ("state province", "region"),
    ("surname", "last_name"),
    ("tel", "phone"),
    ("telephone", "phone"),
    ("telephone number", "phone"),
    ("title", "job_title"),
    ("town", "city"),
    ("url", "website"),
    ("user email", "email"),
    ("user phone", "phone"),
    ("utm campaign", "utm_campaign"),
    ("utm content", "utm_content"),
    ("utm medium", "utm_medium"),
    ("utm source", "utm_source"),
    ("utm term", "utm_term"),
    ("web site", "website"),
    ("website", "website"),
    ("website url", "website"),
    ("work email", "email"),
    ("work email address", "email"),
    ("work phone", "phone"),
    ("work phone number", "phone"),
    ("zip", "postal_code"),
    ("zip code", "postal_code"),
    ("zipcode", "postal_code"),
];

/// The bit of a name's first byte in [`FIRST_BYTES`] (`a` to `z`, and one for anything else).
const fn first_byte_bit(n: &str) -> u32 {
    match n.as_bytes() {
        [b, ..] => first_byte_bit_of(*b),
        [] => 1 << 26,
    }
}

/// [`first_byte_bit`] of a byte.
const fn first_byte_bit_of(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        _ => 1 << 26,
    }
}

/// For each length, the first bytes of the names of that length in [`NAMES`]: most labels are
/// ruled out without comparing strings.
const FIRST_BYTES: [u32; MAX_NAME_LEN + 1] = {
    let mut masks = [0; MAX_NAME_LEN + 1];
    let mut i = 0;
    while i < NAMES.len() {
        masks[NAMES[i].0.len()] |= first_byte_bit(NAMES[i].0);
        i += 1;
    }
    masks
};

/// Bytes of the longest name in [`NAMES`].
const MAX_NAME_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < NAMES.len() {
        if NAMES[i].0.len() > max {
            max = NAMES[i].0.len();
        }
        i += 1;
    }
    max
};

/// Up to three identifiers of an answer without the empty ones, without allocating (every
/// answer builds one).
pub(crate) struct Ids<'a> {
    ids: [&'a str; 3],
    len: usize,
}

impl<'a> Ids<'a> {
    /// The non-empty ones of `candidates`, in order.
    pub(crate) fn non_empty<const N: usize>(candidates: [&'a str; N]) -> Self {
        Self::of(candidates.into_iter().filter(|s| !s.is_empty()))
    }

    /// The given identifiers, in order (at most three).
    pub(crate) fn of(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Ids {
            ids: [""; 3],
            len: 0,
        };
        for id in candidates {
            out.ids[out.len] = id;
            out.len += 1;
        }
        out
    }

    pub(crate) fn as_slice(&self) -> &[&'a str] {
        &self.ids[..self.len]
    }
}

/// Collects one lead's fields while an adapter walks a payload.
pub(crate) struct Sink<'m> {
    mapping: &'m Mapping,
    fields: Map<String, Value>,
    custom: Map<String, Value>,
    external_id: Option<String>,
    /// The tool flagged the lead as a test.
    pub is_test: bool,
    /// The payload is a notification only.
    pub awaiting_enrichment: bool,
}

impl<'m> Sink<'m> {
    pub(crate) fn new(mapping: &'m Mapping) -> Self {
        Sink {
            mapping,
            fields: Map::new(),
            custom: Map::new(),
            external_id: None,
            is_test: false,
            awaiting_enrichment: false,
        }
    }

    /// A form answer, known by `ids` (id/ref/key first, human label last). Goes to the admin's
    /// target, else the heuristic match of any id, else `fallback` (e.g. from the answer's
    /// type), else `custom[custom_key]`.
    pub(crate) fn answer(
        &mut self,
        ids: &[&str],
        custom_key: &str,
        value: Value,
        fallback: Option<&'static str>,
    ) {
        if is_empty(&value) {
            return;
        }
        match self.mapping.lookup(ids) {
            Some(Target::Canonical(c)) => return self.place(c, custom_key, value),
            Some(Target::Custom(k)) => return self.custom(&k, value),
            None => {}
        }
        if let Some(c) = ids.iter().find_map(|id| default_canonical(id)).or(fallback) {
            return self.place(c, custom_key, value);
        }
        self.custom(custom_key, value);
    }

    /// Submission metadata (form ids, timestamps): the admin's target if any, else `custom`.
    /// No heuristics: metadata names like a form's `name` must not become the lead's name.
    pub(crate) fn meta(&mut self, key: &str, value: Value) {
        if is_empty(&value) {
            return;
        }
        match self.mapping.lookup(&[key]) {
            Some(Target::Canonical(c)) => self.place(c, key, value),
            Some(Target::Custom(k)) => self.custom(&k, value),
            None => self.custom(key, value),
        }
    }

    /// A value the tool documents as being a canonical field (e.g. Calendly's invitee email),
    /// unless the admin mapped `key` elsewhere.
    pub(crate) fn known(&mut self, key: &str, canonical: &'static str, value: Value) {
        if is_empty(&value) {
            return;
        }
        match self.mapping.lookup(&[key]) {
            Some(Target::Canonical(c)) => self.place(c, key, value),
            Some(Target::Custom(k)) => self.custom(&k, value),
            None => self.place(canonical, key, value),
        }
    }

    /// Sets the tool's submission id (first one wins).
    pub(crate) fn external_id(&mut self, value: &Value) {
        if self.external_id.is_none() {
            self.external_id = scalar_string(value);
        }
    }

    /// [`Sink::external_id`] for a string (without building a `Value`).
    pub(crate) fn external_id_text(&mut self, value: String) {
        if self.external_id.is_none() && !value.trim().is_empty() {
            self.external_id = Some(value);
        }
    }

    fn place(&mut self, canonical: &'static str, custom_key: &str, value: Value) {
        if canonical == "external_id" {
            if self.external_id.is_none()
                && let Some(s) = scalar_string(&value)
            {
                self.external_id = Some(s);
                return;
            }
            return self.custom(custom_key, value);
        }
        let value = match value {
            Value::Number(n) if TEXT_FIELDS.contains(&canonical) => Value::String(n.to_string()),
            v => v,
        };
        match self.fields.get(canonical) {
            None => {
                self.fields.insert(canonical.to_owned(), value);
            }
            Some(existing) if *existing == value => {}
            Some(_) => self.custom(custom_key, value),
        }
    }

    /// Stores a value in `custom`, suffixing `_2`, `_3`, ... on key clashes (an identical value
    /// already stored under the key or a suffixed key is not repeated).
    pub(crate) fn custom(&mut self, key: &str, value: Value) {
        if is_empty(&value) {
            return;
        }
        let key = if key.is_empty() { "field" } else { key };
        let mut candidate = key.to_owned();
        let mut n = 1usize;
        loop {
            // One lookup per candidate key (not a lookup and then an insert).
            match self.custom.entry(candidate) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                    return;
                }
                Entry::Occupied(existing) if *existing.get() == value => return,
                Entry::Occupied(_) => {
                    n += 1;
                    candidate = format!("{key}_{n}");
                }
            }
        }
    }

    /// Whether the submission id has been set.
    pub(crate) fn has_external_id(&self) -> bool {
        self.external_id.is_some()
    }

    pub(crate) fn finish(self) -> Decoded {
        let mut fields = self.fields;
        if !self.custom.is_empty() {
            fields.insert("custom".to_owned(), Value::Object(self.custom));
        }
        Decoded {
            fields,
            external_id: self.external_id,
            is_test: self.is_test,
            awaiting_enrichment: self.awaiting_enrichment,
        }
    }
}

/// Null, empty strings (after trimming) and empty arrays/objects carry nothing.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// A scalar as a string (ids arrive as strings or as JSON numbers).
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Numeric ids become strings (so 64-bit ids survive every JSON consumer); other values pass.
pub(crate) fn id_value(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heuristics() {
        for (label, want) in [
            ("Email", Some("email")),
            ("email_address", Some("email")),
            ("work_email", Some("email")),
            ("workEmail", Some("email")),
            ("Company name", Some("company")),
            ("Phone number", Some("phone")),
            ("PHONE_NUMBER", Some("phone")),
            ("Full Name", Some("name")),
            ("FULL_NAME", Some("name")),
            ("firstName", Some("first_name")),
            ("What is your first name?", Some("first_name")),
            ("What's your email?", Some("email")),
            ("Email 2", Some("email")),
            ("utm_campaign", Some("utm_campaign")),
            ("zip", Some("postal_code")),
            ("Team size", None),
            ("Budget", None),
            ("readable_ref_email", None),
            (
                "Please provide your expected deal value 2",
                Some("deal_value"),
            ),
            (
                "PLEASE_PROVIDE_YOUR_EXPECTED_DEAL_VALUE",
                Some("deal_value"),
            ),
            (
                "Thanks! What's it like where you live? Tell us in a few sentences.",
                None,
            ),
        ] {
            assert_eq!(default_canonical(label), want, "{label}");
        }
    }

    #[test]
    fn ascii_labels_normalize_as_unicode_ones() {
        for label in [
            "",
            " ",
            "Email",
            "workEmail",
            "  What's your E-mail?? ",
            "PHONE_NUMBER",
            "aB",
            "a1B",
            "1A",
            "ABc",
            "x--y",
            "readable_ref_email",
            "Email 2",
            "q3_name[first]",
            "-a-",
            "zZz9Z",
            "What is your  first name?",
            "your ",
            "__Your Phone__",
        ] {
            assert_eq!(ascii_words(label), unicode_words(label), "{label:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_is_the_unicode_path(label in "[ -~]{0,40}") {
            proptest::prop_assert_eq!(ascii_words(&label), unicode_words(&label));
        }

        #[test]
        fn stack_buffer_path_is_the_allocating_one(
            parts in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just("What's your ".to_owned()),
                proptest::strategy::Just("please provide your".to_owned()),
                proptest::strategy::Just("Expected deal value".to_owned()),
                proptest::strategy::Just("E-mail".to_owned()),
                proptest::strategy::Just("phone_number".to_owned()),
                proptest::strategy::Just("firstName".to_owned()),
                proptest::strategy::Just("utm_source".to_owned()),
                proptest::strategy::Just("question_".to_owned()),
                proptest::strategy::Just("Work".to_owned()),
                proptest::strategy::Just("whats".to_owned()),
                proptest::strategy::Just("E".to_owned()),
                proptest::strategy::Just(" 2".to_owned()),
                proptest::strategy::Just("1234567890".repeat(7)),
                "[ -~]{0,12}",
                "[a-zA-Z0-9 _-]{0,12}",
                "\\PC{0,3}",
                // Non-ASCII letters (one lower-cases to ASCII) among ASCII ones.
                "[a-zA-Z _éÉİ\u{212A}]{0,12}",
            ], 0..6)
        ) {
            let label = parts.concat();
            proptest::prop_assert_eq!(default_canonical(&label), default_canonical_before(&label));
        }
    }

    /// The first-word filter refuses no label that names a field: every name, with each
    /// question prefix or none, a digit suffix or none, in several spellings, maps as before.
    #[test]
    fn first_word_filter_keeps_every_known_label() {
        for prefix in QUESTION_PREFIXES.iter().chain([&""]) {
            for (name, _) in NAMES {
                for suffix in ["", " 2", " 12"] {
                    let words = format!("{prefix}{name}{suffix}");
                    let snake = words.replace(' ', "_");
                    let upper = words.to_ascii_uppercase().replace(' ', "-");
                    let camel: String = words
                        .split(' ')
                        .enumerate()
                        .map(|(i, w)| match (i, w.split_at_checked(1)) {
                            (0, _) | (_, None) => w.to_owned(),
                            (_, Some((h, t))) => h.to_ascii_uppercase() + t,
                        })
                        .collect();
                    for label in [words.clone(), snake, upper, camel, format!(" {words}?")] {
                        assert_eq!(
                            default_canonical(&label),
                            default_canonical_before(&label),
                            "{label:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_are_sorted_and_match_the_old_table() {
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, canonical) in NAMES {
            assert_eq!(lookup_normalized_before(name), Some(canonical), "{name}");
            assert_eq!(lookup_normalized(name), Some(canonical), "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn table_lookup_is_the_old_match(n in "[a-z ]{0,22}") {
            proptest::prop_assert_eq!(lookup_normalized(&n), lookup_normalized_before(&n));
        }
    }

    /// The name lookup as it was before the sorted table.
    #[rustfmt::skip]
    fn lookup_normalized_before(n: &str) -> Option<&'static str> {
        Some(match n {
            "email" | "e mail" | "email address" | "e mail address" | "work email"
            | "business email" | "user email" | "mail" | "email id" | "emailaddress"
            | "work email address" => "email",
            "phone" | "phone number" | "telephone" | "telephone number" | "tel" | "mobile"
            | "mobile phone" | "mobile number" | "mobilephone" | "cell" | "cell phone"
            | "work phone" | "business phone" | "user phone" | "phone no" | "contact number"
            | "phonenumber" | "work phone number" => "phone",
            "first name" | "firstname" | "given name" | "forename" => "first_name",
            "last name" | "lastname" | "surname" | "family name" => "last_name",
            "name" | "full name" | "fullname" | "contact name" => "name",
            "company" | "company name" | "companyname" | "organization" | "organisation"
            | "organization name" | "organisation name" | "business name" | "employer" => "company",
            "website" | "web site" | "company website" | "website url" | "url" | "homepage" => {
                "website"
            }
            "company domain" | "domain" => "company_domain",
            "job title" | "jobtitle" | "title" | "position" | "role" | "job role" | "designation" => {
                "job_title"
            }
            "country" | "country code" => "country",
            "region" | "state" | "province" | "state province" | "state code" | "county" => "region",
            "city" | "town" => "city",
            "postal code" | "zip" | "zip code" | "zipcode" | "postcode" | "post code" => "postal_code",
            "industry" => "industry",
            "product interest" | "products" | "product" | "interested in" => "product_interest",
            "seats" | "number of seats" | "seat count" | "licenses" | "number of licenses" => "seats",
            "deal value" | "deal size" | "expected deal value" => "deal_value",
            "currency" => "currency",
            "score" | "lead score" => "score",
            "language" | "preferred language" => "language",
            "utm source" => "utm_source",
            "utm medium" => "utm_medium",
            "utm campaign" => "utm_campaign",
            "utm term" => "utm_term",
            "utm content" => "utm_content",
            "landing page" | "landing page url" | "page url" | "page uri" => "landing_page",
            "consent" | "gdpr consent" | "marketing consent" | "opt in" | "optin" => "consent",
            "message"
            | "comments"
            | "comment"
            | "description"
            | "notes"
            | "inquiry"
            | "enquiry"
            | "how can we help"
            | "how can we help you" => "message",
            _ => return None,
        })
    }

    /// `default_canonical` as it was before the stack-buffer path.
    fn default_canonical_before(label: &str) -> Option<&'static str> {
        const MAX_LETTERS: usize = 40;
        if label.is_ascii() && label.bytes().filter(u8::is_ascii_alphabetic).count() > MAX_LETTERS {
            return None;
        }
        let n = normalize_label(label);
        if let Some(c) = lookup_normalized_before(&n) {
            return Some(c);
        }
        let (head, tail) = n.rsplit_once(' ')?;
        if tail.chars().all(|c| c.is_ascii_digit()) {
            return lookup_normalized_before(head);
        }
        None
    }

    #[test]
    fn long_ascii_labels_take_the_allocating_path() {
        let digits = "1234567890".repeat(20);
        for label in [
            format!("Email {digits}"),
            format!("Phone {}", &digits[..WORDS_CAP - 6]),
            format!("Phone {}", &digits[..WORDS_CAP - 5]),
            format!("Your email {}", &digits[..WORDS_CAP - 11]),
            format!("Please provide your expected deal value {}", &digits[..3]),
            format!("please provide your expected deal value{}", &digits[..3]),
            format!("Please provide your expected deal value x{}", &digits[..3]),
            format!("{} Phone", &digits[..WORDS_CAP]),
            format!("A{}", &digits[..WORDS_CAP]),
            format!("Email {} x", &digits[..WORDS_CAP]),
        ] {
            assert_eq!(
                default_canonical(&label),
                default_canonical_before(&label),
                "{label}"
            );
        }
        assert_eq!(
            default_canonical(&format!("Phone {}", &digits[..WORDS_CAP - 6])),
            Some("phone")
        );
    }

    #[test]
    fn mapping_exact_before_case_insensitive() {
        let m = Mapping {
            fields: [
                ("Foo".to_owned(), "email".to_owned()),
                ("foo".to_owned(), "phone".to_owned()),
                ("bar".to_owned(), "custom.renamed".to_owned()),
            ]
            .into(),
        };
        assert_eq!(m.lookup(&["foo"]), Some(Target::Canonical("phone")));
        assert_eq!(m.lookup(&["FOO"]), Some(Target::Canonical("email")));
        assert_eq!(m.lookup(&["BAR"]), Some(Target::Custom("renamed".into())));
        assert!(m.validate().is_ok());
        let bad = Mapping {
            fields: [("x".to_owned(), "custom".to_owned())].into(),
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn mapping_deserializes_strictly() {
        let m: Mapping = serde_json::from_str(r#"{"fields":{"q1":"email"}}"#).expect("valid");
        assert_eq!(m.fields.get("q1").map(String::as_str), Some("email"));
        assert!(serde_json::from_str::<Mapping>(r#"{"fields":{},"extra":1}"#).is_err());
    }
}
